"""Delivery simulation: which events a sent message produces, in which callback shape, and posting them.

A message accepted by a send endpoint becomes a list of neutral events (RCS sent, delivered, read,
clicked, replied; RCS failed then SMS delivered/failed for numbers that are not RCS-capable). Each
event is rendered in the shape of the API the message came in on (WIRE.md 3a, 3b, 3c) and posted
with aiohttp after its delay, optionally duplicated, shuffled, early, HMAC-signed, and retried on
5xx or connection errors with exponential backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from .knobs import Knobs
    from .stats import Stats

SIGNATURE_HEADER = "X-RCS-Signature"
PHONE_BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36"
)
RCS_NOT_CAPABLE = {"code": 404, "title": "Recipient is not RCS-capable"}
SMS_FAILED = {"code": 908, "description": "SMS not delivered: handset unreachable"}
_JIOCX_EVENTS = {
    "sent": "SEND_MESSAGE_SUCCESS",
    "delivered": "MESSAGE_DELIVERED",
    "read": "MESSAGE_READ",
    "failed": "SEND_MESSAGE_FAILURE",
}


@dataclass(frozen=True)
class Suggestion:
    type: str  # REPLY | OPEN_URL | DIAL_PHONE
    text: str
    postback: str = ""
    url: str = ""


@dataclass
class Accepted:
    """A message a send endpoint accepted: what the delivery simulation needs to know about it."""

    api: str  # generic | jiocx
    msg_id: str
    to: str  # E.164 with "+"
    sender: str  # Generic RCS sender ID or JioCX agent ID
    callback_url: str | None
    sms: bool
    suggestions: list[Suggestion] = field(default_factory=list)


@dataclass(frozen=True)
class Event:
    channel: str  # RCS | SMS
    status: str  # sent delivered read failed clicked replied
    suggestion: Suggestion | None = None
    text: str = ""


def plan(message: Accepted, knobs: Knobs, rng: random.Random) -> list[Event]:
    """The events one accepted message produces, in their natural order."""
    if knobs.non_rcs_suffix and message.to.endswith(knobs.non_rcs_suffix):
        events = [Event("RCS", "failed")]
        if message.sms:
            sms_fails = knobs.sms_fail_suffix and message.to.endswith(knobs.sms_fail_suffix)
            events.append(Event("SMS", "failed" if sms_fails else "delivered"))
        return events
    events = [Event("RCS", "sent"), Event("RCS", "delivered")]
    if rng.random() < knobs.read_share:
        events.append(Event("RCS", "read"))
    urls = [s for s in message.suggestions if s.type == "OPEN_URL" and s.url]
    if urls and rng.random() < knobs.click_share:
        events.append(Event("RCS", "clicked", rng.choice(urls)))
    if rng.random() < knobs.reply_share:
        chips = [s for s in message.suggestions if s.type == "REPLY"]
        if chips and rng.random() >= knobs.free_text_share:
            events.append(Event("RCS", "replied", rng.choice(chips)))
        else:
            events.append(Event("RCS", "replied", text=knobs.reply_text))
    return events


# -- shapes -------------------------------------------------------------------------------------------
def generic_status(message: Accepted, event: Event) -> dict[str, Any]:
    """One entry of a WIRE.md 3a status batch."""
    item: dict[str, Any] = {
        "msgId": message.msg_id,
        "channel": event.channel,
        "status": event.status,
        "timestamp": int(time.time()),
    }
    if event.status == "failed":
        item["error"] = dict(RCS_NOT_CAPABLE)
    if event.status in ("clicked", "replied"):
        item["from"] = message.to
        suggestion = event.suggestion
        if suggestion is not None:
            item.update(
                suggestionType=suggestion.type, text=suggestion.text, postbackData=suggestion.postback
            )
            if suggestion.url:
                item["url"] = suggestion.url
        else:
            item["text"] = event.text
    return item


def generic_sms(message: Accepted, event: Event) -> tuple[str, dict[str, Any]]:
    """One (event name, data item) of a WIRE.md 3b SMS event group."""
    item: dict[str, Any] = {"ts": int(time.time()), "meta": message.msg_id, "toPhone": message.to}
    if event.status == "failed":
        item.update(SMS_FAILED)
    else:
        item.update(code=0, description="Delivered")
    return event.status, item


def jiocx_body(message: Accepted, event: Event) -> dict[str, Any]:
    """One WIRE.md 3c webhook body.

    Status events carry our messageID in entity.messageId; user messages (replies, suggestion taps)
    carry their own ID there and the answered messageID in entity.replyToMessageId.
    """
    phone = message.to.lstrip("+")
    entity: dict[str, Any] = {
        "messageId": message.msg_id,
        "userPhoneNumber": phone,
        "sendTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    body: dict[str, Any] = {"agentId": message.sender, "userPhoneNumber": phone}
    if event.status in ("clicked", "replied"):
        body["entityType"] = "USER_MESSAGE"
        entity["messageId"] = f"in-{uuid.uuid4().hex}"
        entity["replyToMessageId"] = message.msg_id
        suggestion = event.suggestion
        if suggestion is None:
            entity["text"] = event.text
        else:
            entity["suggestionResponse"] = {
                "plainText": suggestion.text,
                "postBack": {"data": suggestion.postback},
                "type": "ACTION" if suggestion.type == "OPEN_URL" else "REPLY",
            }
            if suggestion.url:
                entity["suggestionResponse"]["url"] = suggestion.url
    else:
        body["entityType"] = "STATUS_EVENT" if event.channel == "RCS" else "SMS_STATUS_EVENT"
        # SMS fallback events get names of their own, so a reader that knows only the RCS event
        # types ignores them instead of taking them for RCS progress.
        rcs_name = _JIOCX_EVENTS[event.status]
        entity["eventType"] = rcs_name if event.channel == "RCS" else f"SMS_{event.status.upper()}"
        entity["channel"] = event.channel
        if event.status == "failed":
            error = RCS_NOT_CAPABLE if event.channel == "RCS" else SMS_FAILED
            entity["error"] = {"code": error["code"], "message": error.get("title") or error["description"]}
    body["entity"] = entity
    return body


def _generic_body(shape: str, items: list) -> Any:
    """A 3a status batch, or 3b event groups from (event name, data item) pairs."""
    if shape == "3a":
        return {"payloadVersion": "0.1", "statuses": items}
    groups: dict[str, list] = {}
    for name, item in items:
        groups.setdefault(name, []).append(item)
    return [{"event": name, "data": data} for name, data in groups.items()]


# -- posting ------------------------------------------------------------------------------------------
class Dispatcher:
    """Schedules, batches and posts callbacks on the simulator's event loop."""

    def __init__(self, stats: Stats, knobs: Knobs) -> None:
        self.stats = stats
        self.knobs = knobs  # replaced by the server on every configure()
        self.log: deque[dict[str, Any]] = deque(maxlen=500)
        self.rng = random.Random()  # noqa: S311 - simulation, not security
        self._session: aiohttp.ClientSession | None = None
        self._generation = 0  # bumped by cancel_pending(): timers of an older generation do nothing
        self._tasks: set[asyncio.Task] = set()
        self._batches: dict[tuple[str, str], list[Any]] = {}
        self._flush_pending = False
        self._semaphore = asyncio.Semaphore(64)

    # scheduling
    def schedule(self, message: Accepted, *, early: bool = False) -> asyncio.Future | None:
        """Plan the message's events and post them one after the other, each after its delay.

        A message's callbacks are posted in order (the next waits until the previous one was
        answered or gave up), so only `shuffle_callbacks` makes them arrive out of order. With
        `early`, the first event is posted at once and the returned future completes when it was
        answered: the send response waits for it.
        """
        knobs = self.knobs
        url = self._destination(message)
        if url is None:
            return None
        events = plan(message, knobs, self.rng)
        step = knobs.callback_delay_ms / 1000.0
        delays = [step * (i + 1) for i in range(len(events))]
        if knobs.shuffle_callbacks:
            self.rng.shuffle(delays)
        timeline = sorted(zip(delays, range(len(events)), events, strict=True))
        first = None
        if early:
            first = self._spawn(self._emit(url, message, timeline.pop(0)[2]))
        if timeline:
            self._spawn(self._chain(self._generation, url, message, timeline, first))
        return first

    def _destination(self, message: Accepted) -> str | None:
        if message.api == "jiocx":
            return self.knobs.jiocx_webhooks.get(message.sender)
        return message.callback_url

    async def _chain(self, generation: int, url: str, message: Accepted, timeline, after) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        if after is not None:
            await asyncio.wait([after])
        for delay, _, event in timeline:
            wait = start + delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if generation != self._generation:
                return
            await self._emit(url, message, event)

    async def _emit(self, url: str, message: Accepted, event: Event) -> None:
        """Post one event (alone, or in a batch with other messages' events to the same URL)."""
        if event.status == "clicked" and self.knobs.follow_clicks and event.suggestion is not None:
            self._spawn(self._follow(event.suggestion.url))
        if message.api == "jiocx":
            await self._deliver(url, jiocx_body(message, event))
            return
        shape = "3a" if event.channel == "RCS" else "3b"
        item = generic_status(message, event) if shape == "3a" else generic_sms(message, event)
        if self.knobs.callback_batch <= 1:
            await self._deliver(url, _generic_body(shape, [item]))
            return
        done = asyncio.get_running_loop().create_future()
        self._batches.setdefault((url, shape), []).append((item, done))
        if not self._flush_pending:
            self._flush_pending = True
            window = self.knobs.callback_batch_window_ms / 1000.0
            asyncio.get_running_loop().call_later(window, self._flush, self._generation)
        await done

    def _flush(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._flush_pending = False
        batches, self._batches = self._batches, {}
        size = max(1, int(self.knobs.callback_batch))
        for (url, shape), entries in batches.items():
            for start in range(0, len(entries), size):
                chunk = entries[start : start + size]
                task = self._spawn(self._deliver(url, _generic_body(shape, [item for item, _ in chunk])))
                futures = [done for _, done in chunk]
                task.add_done_callback(
                    lambda _t, futures=futures: [f.done() or f.set_result(None) for f in futures]
                )

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # posting
    async def _deliver(self, url: str, body: Any) -> None:
        raw = json.dumps(body, separators=(",", ":")).encode()
        copies = (
            2 if self.knobs.duplicate_callbacks and self.rng.random() < self.knobs.duplicate_callbacks else 1
        )
        if copies == 2:
            self.stats.callbacks["duplicated"] += 1
        for _ in range(copies):
            await self._post(url, raw, body)

    async def _post(self, url: str, raw: bytes, body: Any) -> None:
        knobs = self.knobs
        headers = {"Content-Type": "application/json", "User-Agent": "rcsconnect-simulator/1"}
        if knobs.hmac_secret:
            digest = hmac.new(knobs.hmac_secret.encode(), raw, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        backoff = knobs.callback_backoff_ms / 1000.0
        entry: dict[str, Any] = {"url": url, "body": body, "attempts": 0, "status": None, "at": time.time()}
        self.log.append(entry)
        timeout = aiohttp.ClientTimeout(total=knobs.callback_timeout_ms / 1000.0)
        for attempt in range(int(knobs.callback_retries) + 1):
            if attempt:
                self.stats.callbacks["retried"] += 1
                await asyncio.sleep(backoff * (2 ** (attempt - 1)))
            entry["attempts"] = attempt + 1
            try:
                async with (
                    self._semaphore,
                    self.session.post(url, data=raw, headers=headers, timeout=timeout) as response,
                ):
                    await response.read()
                    entry["status"] = response.status
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                entry["status"] = f"error: {type(exc).__name__}"
                continue
            if entry["status"] < 500:
                self.stats.callbacks["posted" if entry["status"] < 400 else "rejected"] += 1
                return
        self.stats.callbacks["failed"] += 1

    async def _follow(self, url: str) -> None:
        headers = {"User-Agent": PHONE_BROWSER, "Accept": "text/html"}
        timeout = aiohttp.ClientTimeout(total=self.knobs.callback_timeout_ms / 1000.0)
        try:
            async with self.session.get(url, headers=headers, allow_redirects=False, timeout=timeout) as resp:
                await resp.read()
                self.stats.callbacks["clicks"] += 1
        except (aiohttp.ClientError, TimeoutError, OSError):
            pass

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=128, limit_per_host=64, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False)
        return self._session

    # lifecycle
    def cancel_pending(self) -> None:
        self._generation += 1
        self._flush_pending = False
        self._batches.clear()
        for task in list(self._tasks):
            task.cancel()
        self.log.clear()

    async def close(self) -> None:
        self.cancel_pending()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

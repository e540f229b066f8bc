"""Vendor callbacks (WIRE.md 3): authenticate -> store the raw body -> normalise -> store events -> apply.

One URL per provider, `/callbacks/<token>/`. The token identifies the provider; when the provider has
HMAC secrets, the raw body must carry `X-RCS-Signature: sha256=<hex>` made with one of them (two are
valid while a secret is rotated); when it has Basic credentials, one of them must be presented. Every
secret is compared in constant time, and a request that fails authentication stores and applies
nothing (403).

An authenticated body is stored in `CallbackLog` before anything else, so a body we cannot parse or
apply is never lost (`manage.py replay_callbacks` reprocesses it). The provider's kind turns the
decoded body into `DeliveryEvent` / `InboundMessage` objects; they are stored as `ProviderEvent`s,
deduplicated by `dedupe_key`, then handed to `settings.RCS_EVENT_HANDLER` (campaigns applies them;
providers never imports campaigns).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .callback_auth import (  # noqa: F401 (re-exported: the callback view's names)
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CallbackAuthError,
    hmac_basic_authenticate,
)
from .events import RCS, SMS, STATUSES, CallbackShapeError, DeliveryEvent, InboundMessage
from .models import CallbackLog, Provider, ProviderEvent

logger = logging.getLogger(__name__)

# ProviderEvent.status of a user message that names none of our msgIds (an InboundMessage).
INBOUND = "inbound"
ENGAGEMENT = ("clicked", "replied")
NOT_STORED = "could not store the callback; please retry"  # with a 503: the vendor sends it again


# Events of one body inserted with its log row in one statement, and per statement beyond that.
ONE_STATEMENT_EVENTS = 100
EVENT_CHUNK = 1000

# The provider behind a token is cached per process this long (a changed secret applies within it).
PROVIDER_CACHE_SECONDS = 5.0
_providers: dict[str, tuple[float, Provider]] = {}


# Callback tokens are URL-safe base64 (secrets.token_urlsafe); anything else is no token of ours.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def provider_for_token(token: str) -> Provider | None:
    if not TOKEN_RE.fullmatch(token):
        return None  # never looked up: a NUL in it would make PostgreSQL refuse the query
    now = time.monotonic()
    hit = _providers.get(token)
    if hit and hit[0] > now:
        return hit[1]
    provider = Provider.objects.filter(callback_token=token).first()
    if provider is not None:
        if len(_providers) > 1000:
            _providers.clear()
        _providers[token] = (now + PROVIDER_CACHE_SECONDS, provider)
    return provider


@dataclass
class CallbackResult:
    """What processing one stored body gave; `response()` is the WIRE.md 3 answer."""

    http_status: int = 200
    processed: int = 0
    unprocessed: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    events: list[ProviderEvent] = field(default_factory=list)

    def response(self) -> dict[str, Any]:
        if self.http_status != 200:
            return {"status": "error", "error": self.error}
        status = "partial" if self.unprocessed else "success"
        return {"status": status, "processed": self.processed, "unprocessed": self.unprocessed}


# -- authentication -------------------------------------------------------------------------------
def callback_authenticate(provider: Provider, *, body: bytes, headers: Any, now: float | None = None) -> str:
    """Authenticate a callback through the provider's kind (ProviderKind.authenticate_callback, which
    defaults to hmac_basic_authenticate); raise CallbackAuthError on failure."""
    return provider.kind_class(provider).authenticate_callback(body=body, headers=headers, now=now)


def sign_body(body: bytes, secret: str, timestamp: int | str | None = None) -> str:
    """The `X-RCS-Signature` value a vendor sends for `body`, over `<timestamp>.<body>` when it also
    sends `X-RCS-Timestamp` (used by the simulator and tests)."""
    signed = body if timestamp is None else f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _seen_key(provider: Provider, signature: str) -> str:
    return f"rcs:callback-seen:{provider.pk}:{hashlib.sha256(signature.encode()).hexdigest()[:32]}"


def callback_seen(provider: Provider, signature: str) -> bool:
    """Whether this exact signed callback was stored within the replay window (then it is not again)."""
    return bool(signature) and cache.get(_seen_key(provider, signature)) is not None


def callback_mark_seen(provider: Provider, signature: str) -> None:
    if signature:
        cache.set(_seen_key(provider, signature), 1, timeout=2 * settings.RCS_CALLBACK_TIMESTAMP_TOLERANCE)


# -- normalise and store --------------------------------------------------------------------------
def dedupe_key(provider_id: int, fields: dict[str, Any]) -> str:
    """A repeated vendor event (a retry, a duplicate in a batch) maps to the same key."""
    text = json.dumps([provider_id, fields], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _fields(item: DeliveryEvent | InboundMessage) -> dict[str, Any]:
    # Not dataclasses.asdict: it deep-copies every value, and these are all str / datetime / None.
    return {f.name: getattr(item, f.name) for f in fields(item)}


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def text_of(body: bytes) -> str:
    """A body as text a database column holds: invalid UTF-8 and NUL (which PostgreSQL text and
    jsonb refuse) as U+FFFD. The exact bytes are kept beside it when they differ."""
    text = body.decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _without_nul(item: Any) -> Any:
    """The event with NUL (from a `\\u0000` in a JSON string) replaced in its text fields."""
    changes = {
        f.name: value.replace("\x00", "\ufffd")
        for f in fields(item)
        if isinstance(value := getattr(item, f.name), str) and "\x00" in value
    }
    return replace(item, **changes) if changes else item


def to_provider_event(
    provider: Provider, item: DeliveryEvent | InboundMessage, *, log: CallbackLog | None, now: datetime
) -> ProviderEvent:
    """One normalised event as an unsaved ProviderEvent (raises ValueError when it is unusable)."""
    item = _without_nul(item)
    if isinstance(item, InboundMessage):
        if not item.from_number:
            raise ValueError("an inbound message without the sender's number")
        data = {k: v for k, v in _fields(item).items() if v and k != "timestamp"}
        key_fields = {"kind": INBOUND, **data, "at": _iso(item.timestamp)}
        msg_id, channel, status = item.in_reply_to[:120], RCS, INBOUND
    else:
        if not item.msg_id or len(item.msg_id) > 120:
            raise ValueError("missing or over-long msgId")
        if item.channel not in (RCS, SMS):
            raise ValueError(f"unknown channel {item.channel!r}")
        if item.status not in STATUSES:
            raise ValueError(f"unknown status {item.status!r}")
        data = {
            k: v
            for k, v in _fields(item).items()
            if v and k not in ("msg_id", "channel", "status", "timestamp")
        }
        key_fields = {"msg": item.msg_id, "ch": item.channel, "st": item.status, "err": item.error_code}
        if item.status in ENGAGEMENT:
            # Two real clicks or replies differ in time or content; a resent one does not.
            key_fields.update(data, at=_iso(item.timestamp))
        msg_id, channel, status = item.msg_id, item.channel, item.status
    return ProviderEvent(
        provider=provider,
        callback=log,
        msg_id=msg_id,
        channel=channel,
        status=status,
        occurred_at=item.timestamp,
        received_at=now,
        data=data,
        dedupe_key=dedupe_key(provider.pk, key_fields),
    )


def _record(item: Any) -> dict[str, Any]:
    try:
        record = asdict(item)
    except TypeError:
        return {"value": str(item)[:200]}
    return {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in record.items() if v}


def _parse(log: CallbackLog) -> CallbackResult:
    """Decode and normalise a stored body with its provider's kind (no side effects)."""
    provider = log.provider
    result = CallbackResult()
    now = timezone.now()
    try:
        items = provider.kind_class(provider).parse_callback(json.loads(log.raw_body()))
    except (ValueError, CallbackShapeError, LookupError, NotImplementedError) as exc:
        # JSONDecodeError is a ValueError; LookupError / NotImplementedError: kind not installed.
        reason = "body is not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
        result.http_status, result.error = 400, f"unrecognised callback: {reason}"[:500]
        return result
    except Exception as exc:  # a bug in a kind must not lose the body: it is kept for a replay
        logger.exception("provider kind %s could not parse callback %s", provider.kind, log.pk or "(new)")
        result.http_status, result.error = 400, f"unrecognised callback: {type(exc).__name__}"
        return result
    if len(items) > settings.RCS_CALLBACK_MAX_EVENTS:
        result.http_status = 413
        result.error = (
            f"too many events: {len(items)} in one callback, at most {settings.RCS_CALLBACK_MAX_EVENTS}; "
            "split the batch"
        )
        return result
    for item in items:
        try:
            result.events.append(to_provider_event(provider, item, log=log, now=now))
        except ValueError as exc:
            result.unprocessed.append({"code": "invalid_event", "error": str(exc), "record": _record(item)})
    result.processed = len(result.events)
    return result


def _outcome(log: CallbackLog, result: CallbackResult) -> None:
    """Write what processing gave onto the log (not saved)."""
    log.processed_at = timezone.now()
    log.event_count = result.processed
    log.error = text_of((result.error or "; ".join(u["error"] for u in result.unprocessed)).encode())[:500]


def _store(log: CallbackLog, result: CallbackResult) -> None:
    """Store the events (a repeated event is ignored by its dedupe_key) and mark the stored log processed."""
    if result.events:
        ProviderEvent.objects.bulk_create(result.events, ignore_conflicts=True)
    _outcome(log, result)
    CallbackLog.objects.filter(pk=log.pk).update(
        processed_at=log.processed_at, event_count=log.event_count, error=log.error
    )


def _insert(log: CallbackLog, events: list[ProviderEvent]) -> None:
    """Insert a new log row and its events (a repeated event is skipped by its dedupe_key) atomically.

    On PostgreSQL this is one statement (a data-modifying WITH) in autocommit: one round trip
    instead of four (BEGIN, two ORM INSERTs, COMMIT) and no ORM compilation, which is most of what
    a callback costs. Elsewhere (SQLite in development) the ORM does it in a transaction.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            log.save(force_insert=True)
            if events:
                ProviderEvent.objects.bulk_create(events, ignore_conflicts=True, batch_size=EVENT_CHUNK)
        return
    if len(events) > ONE_STATEMENT_EVENTS:
        # A big batch goes in chunks: one statement with thousands of `(SELECT id FROM log)` rows
        # costs PostgreSQL time that grows with the square of their number (20,000 took 13 s).
        with transaction.atomic(), connection.cursor() as cursor:
            log.save(force_insert=True)
            for event in events:
                event.callback_id = log.pk
            for start in range(0, len(events), EVENT_CHUNK):
                sql, params = _insert_values(ProviderEvent, events[start : start + EVENT_CHUNK])
                cursor.execute(f"{sql} ON CONFLICT DO NOTHING", params)
        return
    log_sql, params = _insert_values(CallbackLog, [log])
    sql = f"WITH log AS ({log_sql} RETURNING id)"
    if events:
        events_sql, event_params = _insert_values(ProviderEvent, events, log_fk="callback")
        sql += f", events AS ({events_sql} ON CONFLICT DO NOTHING)"
        params += event_params
    # Inside a caller's transaction (a test, a script) a savepoint keeps it usable after a failure;
    # on its own the statement is atomic and commits by itself.
    with transaction.atomic() if connection.in_atomic_block else nullcontext(), connection.cursor() as cursor:
        cursor.execute(f"{sql} SELECT id FROM log", params)  # noqa: S608 - see _insert_values
        log.pk = cursor.fetchone()[0]
    for event in events:
        event.callback_id = log.pk


def _insert_values(model: type[Model], objs: list[Any], *, log_fk: str = "") -> tuple[str, list[Any]]:
    """`INSERT INTO <table> (<every column but the pk>) VALUES (..), ..` for `objs`, values converted
    by Django's fields as `save()` would; the foreign key `log_fk` takes the id of the `log` row."""
    meta, quote = model._meta, connection.ops.quote_name
    columns = [f for f in meta.concrete_fields if not f.primary_key]
    params: list[Any] = []
    rows = []
    for obj in objs:
        row = []
        for f in columns:
            if f.name == log_fk:
                row.append("(SELECT id FROM log)")
            else:
                row.append("%s")
                params.append(f.get_db_prep_save(f.pre_save(obj, add=True), connection))
        rows.append(f"({', '.join(row)})")
    names = ", ".join(quote(f.column) for f in columns)
    # Only names from the models and placeholders go into the text; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES {', '.join(rows)}"  # noqa: S608
    return sql, params


def _hand_over(result: CallbackResult) -> None:
    """Give the stored events to settings.RCS_EVENT_HANDLER (campaigns applies them)."""
    if not result.events:
        return
    try:
        import_string(settings.RCS_EVENT_HANDLER)(result.events)
    except Exception:
        # The events are stored and pending; the periodic sweep or a replay applies them.
        logger.exception("handing over the events of callback %s failed", result.events[0].callback_id)


def callback_receive(
    *, provider: Provider, body: bytes, content_type: str = "", remote_addr: str = ""
) -> CallbackResult:
    """Store the raw body with its events in one transaction; answer only once committed.

    The body is decoded and normalised in memory first (no side effects), so the body, its outcome
    and its events are written together (`_insert`: one statement on PostgreSQL): what we
    acknowledge is durable, and a failure to store answers 503 so the vendor retries. A body we
    cannot parse is still stored (with its error) and answered 400.
    """
    text = text_of(body)
    log = CallbackLog(
        provider=provider,
        body=text,
        raw=None if text.encode() == body else body,
        content_type=content_type[:100],
        remote_addr=remote_addr[:64],
    )
    try:
        result = _parse(log)
    except Exception as exc:  # whatever goes wrong in normalising, the body is kept for a replay
        logger.exception("could not normalise a callback for provider %s", provider.pk)
        result = CallbackResult(http_status=400, error=f"unrecognised callback: {type(exc).__name__}")
    _outcome(log, result)
    try:
        _insert(log, result.events)
    except DatabaseError:
        logger.exception("could not store a callback for provider %s", provider.pk)
        return CallbackResult(http_status=503, error=NOT_STORED)
    _hand_over(result)
    return result


def callback_process(*, log: CallbackLog, hand_over: bool = True) -> CallbackResult:
    """Parse a stored body again and store what is missing (replay). Idempotent."""
    result = _parse(log)
    with transaction.atomic():
        _store(log, result)
    if hand_over:
        _hand_over(result)
    return result


# -- the endpoint ---------------------------------------------------------------------------------
class CallbackView(APIView):
    """`POST|PUT /callbacks/<token>/`: vendors authenticate by the URL token (+ HMAC or Basic).

    A DRF view with nothing on its path it does not need: no authentication classes (the vendor is
    authenticated here), no parsers (the raw body is read as bytes: the signature covers exactly those),
    no throttles, one JSON renderer and no content negotiation.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []
    schema = None  # vendor-facing; published separately as the Generic RCS contract

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple:
        # The answer is JSON whatever the Accept header asks for (WIRE.md 3). DRF's negotiation would
        # answer 406 to a vendor whose Accept header leaves JSON out, before its body is stored.
        renderer = self.renderer_classes[0]()
        return renderer, renderer.media_type

    def perform_authentication(self, request: Request) -> None:
        # No authentication classes (the vendor is checked in post()); DRF would still make every
        # request an AnonymousUser up front.
        pass

    def post(self, request: Request, token: str) -> Response:
        try:
            provider = provider_for_token(token)
        except DatabaseError:  # e.g. a connection the database dropped: the vendor retries
            logger.exception("could not look up the provider of a callback")
            return Response(CallbackResult(http_status=503, error=NOT_STORED).response(), status=503)
        if provider is None:
            return Response({"status": "error", "error": "unknown callback URL"}, status=403)
        body = request.body
        try:
            signature = callback_authenticate(provider, body=body, headers=request.headers)
        except CallbackAuthError as exc:
            logger.warning("callback for provider %s refused: %s", provider.pk, exc)
            return Response({"status": "error", "error": f"authentication failed: {exc}"}, status=403)
        if callback_seen(provider, signature):
            # A replay (or a vendor's resend) of a callback stored moments ago: nothing new to store.
            return Response({"status": "success", "processed": 0, "unprocessed": [], "duplicate": True})
        result = callback_receive(
            provider=provider,
            body=body,
            content_type=request.content_type or "",
            remote_addr=request.META.get("REMOTE_ADDR", ""),
        )
        if result.http_status != 503:
            callback_mark_seen(provider, signature)
        return Response(result.response(), status=result.http_status)

    put = post

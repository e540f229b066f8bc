"""Our own click tracking: short links per recipient and URL, and recording who followed them.

`shorten_urls` rewrites every OPEN_URL suggestion (and every http(s) URL inside text) of a message's
content into `<CLICK_TRACKING_BASE_URL>/c/<code>`; media URLs are left alone (the vendor fetches
them). Codes are 8 random characters from 62 (about 47.6 bits): short in an SMS, not guessable.

Following a link redirects (302) to the stored URL only, never to anything taken from the request.
A click by a person counts once as "unique" per link and every time in the link's total, and the
first click on any of a message's links is applied to the message as a "clicked" event through the
same path as vendor callbacks (so the campaign's clicked counter moves once per recipient).
Link-preview fetchers (by User-Agent) and HEAD requests are redirected but not counted.
"""

from __future__ import annotations

import copy
import hashlib
import re
import secrets
import string
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from providers.callbacks import dedupe_key
from providers.content import OPEN_URL
from providers.events import CLICKED, RCS, SMS
from providers.models import ProviderEvent

from .events import apply_events_now
from .models import Message, ShortLink

CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 8
URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
# Trailing punctuation that ends a sentence rather than the URL.
TRAILING = ".,;:!?)]}"
# Fetchers that expand links for previews or scanning; redirected, never counted as clicks.
BOT_RE = re.compile(
    r"bot\b|bot/|crawler|spider|preview|facebookexternalhit|facebookcatalog|meta-externalagent|"
    r"whatsapp|telegram|slack|discord|skypeuri|linkedin|embedly|pinterest|vkshare|iframely|"
    r"google|bingpreview|yandex|baidu|duckduck|microsoft office existence|mastodon|tumblr|"
    r"flipboard|nuzzel|qwantify|bitlybot|apple-pagerenderer|applebot|xing-contenttabreceiver|"
    r"ahrefs|semrush|headless-preview",
    re.IGNORECASE,
)
TEXT_KEYS = ("text", "title", "description")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def short_url(code: str) -> str:
    return settings.CLICK_TRACKING_BASE_URL + reverse("short_link", args=[code])


def is_preview_bot(user_agent: str) -> bool:
    return not user_agent.strip() or bool(BOT_RE.search(user_agent))


# -- shortening -----------------------------------------------------------------------------------
def shorten_urls(
    content: dict[str, Any], *, message: Message, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A copy of `content` with every OPEN_URL and text URL replaced by the message's short links.

    `template` is the content before its placeholders were filled (None: `content` is written as
    is by its author). Only URLs the template holds become short links: a rendered URL must start
    with a template URL's fixed part (up to its first placeholder) on that URL's own host, so a URL
    inside a contact attribute (a name `https://evil.example/phish`) is never put behind our click
    domain. Idempotent: the same (message, URL) always gets the same link, so a retried send carries
    the same short URLs; URLs that are already our short links are left as they are.
    """
    rewritten = copy.deepcopy(content)
    prefixes: list[str] = []
    _walk(template if template is not None else content, lambda url: prefixes.append(url) or url)
    prefixes = [_fixed_part(p) for p in prefixes]
    urls: list[str] = []
    _walk(rewritten, lambda url: urls.append(url) or url)
    urls = [u for u in urls if _from_template(u, prefixes)]
    if not urls:
        return rewritten
    links = short_links_for(message, urls)
    _walk(rewritten, lambda url: short_url(links[url].code) if url in links else url)
    return rewritten


def _fixed_part(url: str) -> str:
    return url.split("{{", 1)[0]


def _from_template(url: str, prefixes: list[str]) -> bool:
    host = urlsplit(url).netloc.lower()
    return any(
        url == prefix or (url.startswith(prefix) and urlsplit(prefix).netloc.lower() == host)
        for prefix in prefixes
    )


def short_links_for(message: Message, urls: list[str]) -> dict[str, ShortLink]:
    """Get or create the message's short link for each URL; returns {url: ShortLink}."""
    wanted = {url_hash(u): u for u in urls if _trackable(u)}
    links = {link.url_hash: link for link in ShortLink.objects.filter(message=message, url_hash__in=wanted)}
    for digest, url in wanted.items():
        while digest not in links:
            link = ShortLink(
                code=new_code(), message=message, campaign_id=message.campaign_id, url=url, url_hash=digest
            )
            try:
                with transaction.atomic():
                    link.save()
                links[digest] = link
            except IntegrityError:
                # A code collision (retry with a new code) or a concurrent send of the same message.
                existing = ShortLink.objects.filter(message=message, url_hash=digest).first()
                if existing:
                    links[digest] = existing
    return {link.url: link for link in links.values()}


def _trackable(url: str) -> bool:
    return url.lower().startswith(("http://", "https://")) and not url.startswith(
        settings.CLICK_TRACKING_BASE_URL + "/c/"
    )


def _walk(node: Any, replace) -> None:
    """Call `replace(url)` on OPEN_URL suggestion URLs and text URLs (in place); media is skipped."""
    if isinstance(node, list):
        for item in node:
            _walk(item, replace)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == OPEN_URL and isinstance(node.get("url"), str) and _trackable(node["url"]):
        node["url"] = replace(node["url"])
    for key in TEXT_KEYS:
        if isinstance(node.get(key), str):
            node[key] = _replace_in_text(node[key], replace)
    for key in ("suggestions", "card", "cards"):
        if key in node:
            _walk(node[key], replace)


def _replace_in_text(text: str, replace) -> str:
    def sub(match: re.Match) -> str:
        url = match.group(0)
        tail = ""
        while url and url[-1] in TRAILING:
            url, tail = url[:-1], url[-1] + tail
        return (replace(url) if _trackable(url) else url) + tail

    return URL_RE.sub(sub, text)


# -- following ------------------------------------------------------------------------------------
def click_record(*, code: str, user_agent: str = "", method: str = "GET") -> str | None:
    """The target URL of `code` (None when unknown), counting the click when a person made it."""
    if not code.isascii() or not code.isalnum() or len(code) > 32:
        return None  # not a code of ours (a NUL would make PostgreSQL refuse the query)
    link = ShortLink.objects.filter(code=code).only("pk", "url", "message_id").first()
    if link is None:
        return None
    now = timezone.now()
    if method != "GET" or is_preview_bot(user_agent):
        ShortLink.objects.filter(pk=link.pk).update(bot_count=F("bot_count") + 1)
        return link.url
    first = ShortLink.objects.filter(pk=link.pk, first_clicked_at__isnull=True).update(
        first_clicked_at=now, click_count=F("click_count") + 1, last_clicked_at=now
    )
    if not first:
        ShortLink.objects.filter(pk=link.pk).update(
            click_count=F("click_count") + 1,
            last_clicked_at=now,
            first_clicked_at=Coalesce("first_clicked_at", now),
        )
        return link.url
    _message_clicked(link, at=now)
    from .conversions import from_link_landing

    from_link_landing(link=link, at=now)  # a conversion when the rule is on (campaigns.conversions)
    return link.url


def _message_clicked(link: ShortLink, *, at) -> None:
    """Record the unique click as a "clicked" event and apply it like a vendor's."""
    message = (
        Message.objects.filter(pk=link.message_id)
        .only("pk", "msg_id", "provider_id", "delivered_via")
        .first()
    )
    if message is None:
        return
    event = ProviderEvent(
        provider_id=message.provider_id,
        msg_id=message.msg_id,
        channel=SMS if message.delivered_via == SMS else RCS,
        status=CLICKED,
        occurred_at=at,
        received_at=at,
        data={"url": link.url, "source": "short_link", "code": link.code},
        dedupe_key=dedupe_key(message.provider_id, {"short_link": link.pk}),
    )
    ProviderEvent.objects.bulk_create([event], ignore_conflicts=True)
    apply_events_now([event])

"""The JioCX send contract (WIRE.md section 4 [3rd]) with the limits of section 5."""

from __future__ import annotations

from typing import Any

from .checks import (
    MAX_CARDS,
    MAX_CAROUSEL_DESCRIPTION,
    MAX_DESCRIPTION,
    MAX_MSG_ID,
    MAX_POSTBACK,
    MAX_SUGGESTIONS,
    MAX_TEXT,
    MAX_TITLE,
    MIN_CARDS,
    MSISDN,
    Problems,
)
from .delivery import Accepted, Suggestion

CONTENT = "data.content"
HEIGHTS = ("SHORT", "MEDIUM", "TALL", "SHORT_HEIGHT", "MEDIUM_HEIGHT", "TALL_HEIGHT")


def validate_send(body: Any) -> tuple[Problems, list[Accepted]]:
    """Check one JioCX sendMessage body; return the problems and one Accepted per contact."""
    p = Problems()
    if not isinstance(body, dict):
        p.add("", "the body must be a JSON object")
        return p, []
    msg_id = p.text(body, "messageID", "messageID", max_len=MAX_MSG_ID)
    agent = p.text(body, "agentID", "agentID")
    p.text(body, "campaignID", "campaignID", required=False, allow_empty=True)
    contacts = p.lst(body, "contacts", "contacts", required=True)
    if contacts is not None and not contacts:
        p.add("contacts", "at least one contact")
    for i, contact in enumerate(contacts or []):
        if not isinstance(contact, str) or not MSISDN.match(contact):
            p.add(
                f"contacts[{i}]",
                f"must be an international number without '+', digits only (got {contact!r})",
            )
    suggestions: list[Suggestion] = []
    data = p.obj(body, "data", "data")
    if data is not None:
        content = p.obj(data, "content", CONTENT)
        if content is not None:
            suggestions = _content(p, content)
    sms = p.obj(body, "data_sms", "data_sms", required=False)
    if p:
        return p, []
    accepted = [
        Accepted(
            api="jiocx",
            msg_id=msg_id,
            to=f"+{contact}",
            sender=agent,
            callback_url=None,
            sms=bool(sms),
            suggestions=suggestions,
        )
        for contact in contacts
    ]
    return p, accepted


def sender_of(body: Any) -> str:
    return body["agentID"] if isinstance(body, dict) and isinstance(body.get("agentID"), str) else ""


def msg_id_of(body: Any) -> str | None:
    return body["messageID"] if isinstance(body, dict) and isinstance(body.get("messageID"), str) else None


def _content(p: Problems, content: dict) -> list[Suggestion]:
    found: list[Suggestion] = []
    rich = p.obj(content, "richCardDetails", f"{CONTENT}.richCardDetails", required=False)
    if "plainText" in content:
        p.text(content, "plainText", f"{CONTENT}.plainText", max_len=MAX_TEXT)
    elif rich is not None:
        standalone = p.obj(rich, "standalone", f"{CONTENT}.richCardDetails.standalone", required=False)
        carousel = p.obj(rich, "carousel", f"{CONTENT}.richCardDetails.carousel", required=False)
        if standalone is not None:
            where = f"{CONTENT}.richCardDetails.standalone"
            p.choice(standalone, "cardOrientation", f"{where}.cardOrientation", ("VERTICAL", "HORIZONTAL"))
            card = p.obj(standalone, "content", f"{where}.content")
            if card is not None:
                found += _card(p, card, f"{where}.content", carousel=False)
        elif carousel is not None:
            where = f"{CONTENT}.richCardDetails.carousel"
            p.choice(carousel, "cardWidth", f"{where}.cardWidth", ("SMALL_WIDTH", "MEDIUM_WIDTH"))
            cards = p.lst(carousel, "contents", f"{where}.contents", required=True)
            if cards is not None and not MIN_CARDS <= len(cards) <= MAX_CARDS:
                p.add(
                    f"{where}.contents", f"a carousel has {MIN_CARDS} to {MAX_CARDS} cards (got {len(cards)})"
                )
            for i, card in enumerate(cards or []):
                if isinstance(card, dict):
                    found += _card(p, card, f"{where}.contents[{i}]", carousel=True)
                else:
                    p.add(f"{where}.contents[{i}]", "must be an object")
        else:
            p.add(f"{CONTENT}.richCardDetails", "needs a 'standalone' card or a 'carousel'")
    elif "contentInfo" in content:
        info = p.obj(content, "contentInfo", f"{CONTENT}.contentInfo")
        if info is not None:
            p.url(info, "fileUrl", f"{CONTENT}.contentInfo.fileUrl")
            p.url(info, "thumbnailUrl", f"{CONTENT}.contentInfo.thumbnailUrl", required=False)
    else:
        p.add(CONTENT, "needs plainText, richCardDetails or contentInfo")
    found += _suggestions(p, content, f"{CONTENT}.suggestions")
    return found


def _card(p: Problems, card: dict, path: str, *, carousel: bool) -> list[Suggestion]:
    title = p.text(card, "cardTitle", f"{path}.cardTitle", required=False, max_len=MAX_TITLE)
    limit = MAX_CAROUSEL_DESCRIPTION if carousel else MAX_DESCRIPTION
    description = p.text(card, "cardDescription", f"{path}.cardDescription", required=False, max_len=limit)
    media = p.obj(card, "cardMedia", f"{path}.cardMedia", required=False)
    if media is not None:
        height = p.choice(media, "mediaHeight", f"{path}.cardMedia.mediaHeight", HEIGHTS)
        if carousel and height in ("TALL", "TALL_HEIGHT"):
            p.add(f"{path}.cardMedia.mediaHeight", "TALL media is not allowed in carousels")
        info = p.obj(media, "contentInfo", f"{path}.cardMedia.contentInfo")
        if info is not None:
            p.url(info, "fileUrl", f"{path}.cardMedia.contentInfo.fileUrl")
    if not (title or description or media):
        p.add(path, "a card needs at least a cardTitle, a cardDescription or cardMedia")
    return _suggestions(p, card, f"{path}.suggestions")


def _suggestions(p: Problems, data: dict, path: str) -> list[Suggestion]:
    items = p.lst(data, "suggestions", path)
    if not items:
        return []
    if len(items) > MAX_SUGGESTIONS:
        p.add(path, f"at most {MAX_SUGGESTIONS} suggestions (got {len(items)})")
    found = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        reply = item.get("reply") if isinstance(item, dict) else None
        action = item.get("action") if isinstance(item, dict) else None
        if isinstance(reply, dict):
            label = p.label(reply, "plainText", f"{where}.reply.plainText")
            postback = _postback(p, reply, f"{where}.reply.postBack")
            if label:
                found.append(Suggestion("REPLY", label, postback or ""))
        elif isinstance(action, dict):
            where = f"{where}.action"
            label = p.label(action, "plainText", f"{where}.plainText")
            postback = _postback(p, action, f"{where}.postBack")
            if isinstance(action.get("openUrl"), dict):
                url = p.url(action["openUrl"], "url", f"{where}.openUrl.url")
                if label and url:
                    found.append(Suggestion("OPEN_URL", label, postback or "", url))
            elif isinstance(action.get("dialerAction"), dict):
                p.phone(action["dialerAction"], "phoneNumber", f"{where}.dialerAction.phoneNumber")
            else:
                p.add(where, "an action needs openUrl {url} or dialerAction {phoneNumber}")
        else:
            p.add(where, "must be {reply: {...}} or {action: {...}}")
    return found


def _postback(p: Problems, data: dict, path: str) -> str | None:
    postback = p.obj(data, "postBack", path)
    if postback is None:
        return None
    return p.text(postback, "data", f"{path}.data", max_len=MAX_POSTBACK)

"""Check a vendor's endpoint against the published Generic RCS contract (docs/contract/).

    manage.py conformance https://bsp.example.com/rcs/messages --auth basic --user u --password p

Sends one message of each content type (TEXT, RICH_CARD, CAROUSEL, MEDIA, and TEXT with SMS
fallback) exactly as rcsconnect sends campaign messages, and reports per type what the vendor
answered and how rcsconnect reads that answer (WIRE.md 1.3). Exit code 1 when any type was not
accepted. Nothing is stored; the address guard applies as for every vendor request.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import jsonschema
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from providers.content import OutboundMessage, SmsFallback
from providers.kinds import generic_rcs
from providers.kinds.base import Outcome
from providers.models import Provider
from providers.sending import masked, send_message
from rcsconnect.contract import load
from rcsconnect.http import outbound_session

IMAGE = "https://rcs.example.com/media/conformance.png"
SUGGESTIONS = [
    {"type": "REPLY", "text": "Yes", "postback_data": "conformance_yes"},
    {"type": "OPEN_URL", "text": "Open", "postback_data": "conformance_open", "url": "https://example.com/"},
    {
        "type": "DIAL_PHONE",
        "text": "Call",
        "postback_data": "conformance_call",
        "phone_number": "+14155550123",
    },
]


def _card(n: int) -> dict[str, Any]:
    return {
        "title": f"Conformance card {n}",
        "description": "A card sent by rcsconnect's conformance check.",
        "media": {"url": IMAGE, "height": "MEDIUM", "content_type": "image/png", "thumbnail_url": ""},
        "suggestions": SUGGESTIONS[:2],
    }


SAMPLES: dict[str, dict[str, Any]] = {
    "TEXT": {
        "type": "TEXT",
        "text": "rcsconnect conformance check: *text* message.",
        "suggestions": SUGGESTIONS,
    },
    "RICH_CARD": {"type": "RICH_CARD", "orientation": "VERTICAL", "image_alignment": "", "card": _card(1)},
    "CAROUSEL": {"type": "CAROUSEL", "card_width": "MEDIUM", "cards": [_card(1), _card(2)]},
    "MEDIA": {
        "type": "MEDIA",
        "media": {"url": IMAGE, "content_type": "image/png", "thumbnail_url": ""},
        "suggestions": SUGGESTIONS[:1],
    },
    "TEXT+SMS": {"type": "TEXT", "text": "rcsconnect conformance check: text with SMS fallback."},
}


class Command(BaseCommand):
    help = "Send one message of each content type to a Generic RCS endpoint and report its answers."

    def add_arguments(self, parser):
        parser.add_argument("url", help="The vendor's messaging endpoint.")
        parser.add_argument("--method", choices=["POST", "PUT"], default="POST")
        parser.add_argument("--auth", choices=["none", "basic", "oauth2"], default="none")
        parser.add_argument("--user", default="", help="Basic auth user.")
        parser.add_argument("--password", default="", help="Basic auth password.")
        parser.add_argument("--client-url", default="", help="OAuth 2.0 token endpoint.")
        parser.add_argument("--client-id", default="")
        parser.add_argument("--client-secret", default="")
        parser.add_argument("--header", action="append", default=[], help='Extra header "Name: value".')
        parser.add_argument("--sender-id", default="conformance", help="RCS sender ID / agent ID.")
        parser.add_argument("--to", default="+14155550123", help="Recipient number (E.164).")
        parser.add_argument("--callback-url", default="", help="callbackURL to send (default: ours, unused).")
        parser.add_argument("--only", nargs="*", choices=list(SAMPLES), help="Only these types.")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args, **opts):
        provider = self._provider(opts)
        schema = jsonschema.Draft202012Validator(load("generic-rcs-outbound"))
        results = []
        with outbound_session(
            timeout=(settings.OUTBOUND_CONNECT_TIMEOUT, settings.OUTBOUND_READ_TIMEOUT)
        ) as s:
            for name, content in SAMPLES.items():
                if opts["only"] and name not in opts["only"]:
                    continue
                message = OutboundMessage(
                    msg_id=f"conf-{secrets.token_hex(8)}",
                    to=opts["to"],
                    content=content,
                    callback_url=opts["callback_url"] or f"{settings.PUBLIC_BASE_URL}/callbacks/conformance/",
                    custom_params=[{"name": "conformance", "value": name}],
                    sms=SmsFallback(body="rcsconnect conformance check (SMS fallback).", sender_id="RCSCON")
                    if name.endswith("+SMS")
                    else None,
                )
                attempt = send_message(provider, message, session=s)
                body = attempt.request.json
                contract = [
                    f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schema.iter_errors(body)
                ]
                results.append(
                    {
                        "type": name,
                        "msg_id": message.msg_id,
                        "http_status": attempt.status_code,
                        "outcome": str(attempt.result.outcome),
                        "vendor_id": attempt.result.vendor_id,
                        "error_code": attempt.result.error_code,
                        "error_message": attempt.result.error_message,
                        "retry_after": attempt.result.retry_after,
                        "elapsed_ms": round(attempt.elapsed * 1000, 1),
                        "response_body": attempt.response_body[:300],
                        "request": masked(attempt.request, provider.kind_class),
                        "contract_errors": contract,
                        "ok": attempt.result.outcome == Outcome.SENT and not contract,
                    }
                )
        if opts["json"]:
            self.stdout.write(json.dumps(results, indent=2, default=str))
        else:
            self._table(results)
        if not all(r["ok"] for r in results):
            raise CommandError(
                f"{sum(not r['ok'] for r in results)} of {len(results)} message types were not accepted."
            )

    def _provider(self, opts) -> Provider:
        headers = []
        for raw in opts["header"]:
            name, sep, value = raw.partition(":")
            if not sep or not name.strip():
                raise CommandError(f'--header must look like "Name: value", not {raw!r}.')
            headers.append({"name": name.strip(), "value": value.strip()})
        config, secrets_ = generic_rcs.tool_settings(
            endpoint=opts["url"],
            method=opts["method"],
            auth=opts["auth"],
            user=opts["user"],
            password=opts["password"],
            client_url=opts["client_url"],
            client_id=opts["client_id"],
            client_secret=opts["client_secret"],
            headers=headers,
        )
        # Unsaved: nothing is stored, and the OAuth token cache key is specific to these credentials.
        return Provider(
            kind="generic_rcs",
            nickname="conformance",
            sender_id=opts["sender_id"],
            config=config,
            secrets=secrets_,
        )

    def _table(self, results: list[dict]) -> None:
        self.stdout.write(f"{'type':<10} {'HTTP':>4}  {'result':<7} {'ms':>7}  details")
        for r in results:
            details = r["vendor_id"] and f"vendor id {r['vendor_id']}" or ""
            if r["error_code"] or r["error_message"]:
                details = f"error {r['error_code']} {r['error_message']}".strip()
            if r["retry_after"]:
                details += f" (Retry-After {r['retry_after']:g} s)"
            if r["contract_errors"]:
                details += f" contract: {'; '.join(r['contract_errors'][:3])}"
            status = "-" if r["http_status"] is None else r["http_status"]
            mark = "ok" if r["ok"] else "FAIL"
            line = f"{r['type']:<10} {status:>4}  {r['outcome']:<7} {r['elapsed_ms']:>7.1f}  {mark} {details}"
            self.stdout.write(line.rstrip())

"""Check a provider: address guard on its URLs, authentication, and optionally one real send."""

from __future__ import annotations

import json
import secrets
import socket
from urllib.parse import urlsplit

from django import forms
from django.core.management.base import BaseCommand, CommandError

from providers.auth import AuthError
from providers.content import TEXT, OutboundMessage
from providers.models import Provider
from providers.sending import masked, send_message
from rcsconnect import phone
from rcsconnect.http import BlockedAddressError, check_host, outbound_session


class Command(BaseCommand):
    help = "Resolve a provider's endpoints through the address guard, check its credentials, optionally send."

    def add_arguments(self, parser):
        parser.add_argument("nickname")
        parser.add_argument(
            "--send-test",
            metavar="NUMBER",
            help="Number to send one test message to: E.164, or national in RCS_PHONE_DEFAULT_COUNTRY.",
        )
        parser.add_argument("--text", default="rcsconnect provider check", help="Text of the test message.")

    def handle(self, *args, nickname: str, send_test: str | None, text: str, **options):
        try:
            provider = Provider.objects.get(nickname=nickname)
        except Provider.DoesNotExist:
            raise CommandError(f"No provider named {nickname!r}.") from None
        to = ""
        if send_test:
            try:
                to = phone.to_e164(send_test)  # the phone input's rule (rcsconnect.phone)
            except forms.ValidationError as exc:
                raise CommandError(f"--send-test {send_test!r}: {' '.join(exc.messages)}") from None
        kind = provider.kind_class(provider)
        for key in kind.url_fields:
            url = provider.config.get(key)
            if not url:
                continue
            parts = urlsplit(url)
            try:
                addresses = check_host(parts.hostname or "", parts.port or 443)
            except (BlockedAddressError, socket.gaierror) as exc:
                raise CommandError(f"{key} {url}: address guard refused: {exc}") from exc
            self.stdout.write(f"{key}: {url} -> {', '.join(addresses)}  address guard: ok")
        with outbound_session(pool_size=1) as session:
            try:
                headers = kind.auth_headers(session)
            except (AuthError, BlockedAddressError) as exc:
                provider.set_health(Provider.Health.UNHEALTHY, f"auth: {exc}")
                raise CommandError(f"authentication failed: {exc}") from exc
            names = ", ".join(sorted(headers)) or "none needed"
            self.stdout.write(f"authentication: ok ({names})")
            if not send_test:
                return
            message = OutboundMessage(
                msg_id=f"check-{secrets.token_hex(10)}",
                to=to,
                content={"type": TEXT, "text": text, "suggestions": []},
                callback_url=provider.callback_url,
            )
            attempt = send_message(provider, message, session=session)
        self.stdout.write(json.dumps(masked(attempt.request, kind), indent=2))
        self.stdout.write(f"HTTP {attempt.status_code}: {attempt.response_body[:500]}")
        result = attempt.result
        self.stdout.write(
            f"result: {result.outcome.value} {result.error_code} {result.error_message}".rstrip()
        )
        if result.outcome.value != "sent":
            raise CommandError(f"send test not accepted: {result.outcome.value} {result.error_code}")

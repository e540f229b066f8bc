"""Reprocess stored raw callback bodies (CallbackLog): parse again, store missing events, apply.

Idempotent: events are deduplicated by their key and applying an event twice changes nothing, so a
replay after a bug fix (or a new shape in a provider kind) only adds what was missing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from campaigns.events import apply_pending
from providers.callbacks import callback_process
from providers.models import CallbackLog, Provider, ProviderEvent

RELATIVE = re.compile(r"^(\d+)\s*([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_when(value: str) -> datetime:
    """An ISO date or datetime (server time zone when naive), or a relative age: 30m, 6h, 7d."""
    value = value.strip()
    if match := RELATIVE.match(value):
        return timezone.now() - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = datetime(day.year, day.month, day.day)
    if moment is None:
        raise CommandError(f"--since/--until: cannot read {value!r} (use 2026-05-01, 2026-05-01T10:00 or 6h)")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "Reprocess stored raw callbacks (idempotent). Filters: --since, --until, --provider."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="Received at or after: ISO date/datetime or an age (6h, 7d).")
        parser.add_argument("--until", help="Received before: ISO date/datetime or an age.")
        parser.add_argument("--provider", help="Provider id or nickname.")
        parser.add_argument("--errors-only", action="store_true", help="Only callbacks that had an error.")

    def handle(self, *args, since=None, until=None, provider=None, errors_only=False, **options):
        logs = CallbackLog.objects.select_related("provider").order_by("id")
        since_at = parse_when(since) if since else None
        provider_obj = self._provider(provider) if provider else None
        if since_at:
            logs = logs.filter(received_at__gte=since_at)
        if until:
            logs = logs.filter(received_at__lt=parse_when(until))
        if provider_obj:
            logs = logs.filter(provider=provider_obj)
        if errors_only:
            logs = logs.exclude(error="")

        events_before = ProviderEvent.objects.count()
        seen = rejected = processed = 0
        for log in logs.iterator(chunk_size=500):
            result = callback_process(log=log, hand_over=False)  # applied below, in this process
            seen += 1
            processed += result.processed
            if result.http_status != 200:
                rejected += 1
                self.stderr.write(f"callback {log.pk}: {result.error}")
        sweep = apply_pending(provider_id=provider_obj.pk if provider_obj else None, since=since_at)
        new_events = ProviderEvent.objects.count() - events_before
        pending = ProviderEvent.objects.filter(applied=False)
        if provider_obj:
            pending = pending.filter(provider=provider_obj)
        self.stdout.write(
            f"replayed {seen} callbacks ({rejected} not recognised): {processed} events read, "
            f"{new_events} new, {sweep.applied} waiting events applied, {pending.count()} still waiting "
            "for their message"
        )

    def _provider(self, value: str) -> Provider:
        found = (
            Provider.objects.filter(pk=int(value))
            if value.isdigit()
            else Provider.objects.filter(nickname=value)
        )
        provider = found.first()
        if provider is None:
            raise CommandError(f"--provider: no provider {value!r}")
        return provider

"""Recompute the hourly stats buckets and the campaign counters from the messages (to repair them)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from campaigns import stats


class Command(BaseCommand):
    help = "Recompute stat buckets and campaign counters from messages (all, a campaign, a provider)."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", type=int, help="Campaign id.")
        parser.add_argument("--provider", type=int, help="Provider id.")

    def handle(self, *args, campaign=None, provider=None, **options):
        buckets = stats.rebuild(campaign_id=campaign, provider_id=provider)
        self.stdout.write(f"rebuilt {buckets} hourly buckets")

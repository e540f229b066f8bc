"""Shared body of the campaign_launch / pause / resume / cancel commands (thin wrappers over services)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from campaigns.services import CampaignError


class LifecycleCommand(BaseCommand):
    action = None

    def add_arguments(self, parser):
        parser.add_argument("campaign", help="Campaign id or exact name.")

    def handle(self, *args, campaign: str, **options):
        found = (
            Campaign.objects.filter(pk=int(campaign))
            if campaign.isdigit()
            else Campaign.objects.filter(name=campaign)
        )
        if found.count() != 1:
            raise CommandError(f"No single campaign matches {campaign!r}.")
        try:
            result = self.action(campaign_id=found.get().pk)
        except CampaignError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{result.name}: {result.get_status_display()} ({result.total_count} messages)")

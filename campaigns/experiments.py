"""Experiments: A/B variants, the holdout group and "test, then send the winner" (the one owner of
assignment; figures and the significance test are `campaigns.stats`).

Assignment is deterministic per contact: `bucket(campaign id, contact id)` is a number in
[0, BUCKETS), the same every time, computed by the same integer arithmetic in Python (`bucket`)
and in the fan-out's SQL (`bucket_sql`, on SQLite and PostgreSQL alike: 64-bit integers, no
overflow, no hash function either database lacks). A `Plan` cuts the buckets into ranges:

    [0, holdout)            the holdout group: a message row in state "holdout", never sent
    [holdout, test_end)     the variants, in label order, each its `split` percent of the range
    [test_end, BUCKETS)     "test, then send the winner" only: the rest, written when the winner
                            is picked (`winner_pick`), all with the winning variant

The stored label (`Message.variant`) is the truth afterwards; a conversion carries the variant
of the message it is attributed to (`campaigns.conversions`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .models import Campaign, Variant

log = logging.getLogger(__name__)

BUCKETS = 10_000
HOLDOUT = "holdout"  # Message.variant of a holdout row (its status is MessageStatus.HOLDOUT)
MAX_HOLDOUT_PERCENT = 50
MIN_VARIANTS, MAX_VARIANTS = 2, 4
# Phases of a fan-out: the first (holdout, and the variants' share: everyone without a test) and,
# with "test, then send the winner", the rest.
FIRST, REST = "first", "rest"

_P = 2_147_483_647  # 2**31 - 1, prime: every intermediate value stays below 2**62
_K_CONTACT, _K_CAMPAIGN, _K_ADD = 40_503, 2_654_435, 12_345


def bucket(campaign_id: int, contact_id: int) -> int:
    """The contact's bucket in the campaign, in [0, BUCKETS): two non-linear (squaring) rounds
    modulo a prime, so that neighbouring ids land far apart."""
    a = (contact_id * _K_CONTACT + campaign_id * _K_CAMPAIGN) % _P
    b = (a * a + _K_ADD) % _P
    return ((b * b + a) % _P) % BUCKETS


def bucket_sql(campaign_id: int, contact_column: str = "c.id") -> str:
    """`bucket` as an SQL expression over `contact_column` (for a statement with parameters: the
    modulo is written `%%`)."""
    campaign_id = int(campaign_id)
    a = f"((CAST({contact_column} AS BIGINT) * {_K_CONTACT} + {campaign_id * _K_CAMPAIGN}) %% {_P})"
    b = f"(({a} * {a} + {_K_ADD}) %% {_P})"
    return f"((({b} * {b} + {a}) %% {_P}) %% {BUCKETS})"


@dataclass(frozen=True)
class Plan:
    campaign_id: int
    holdout_end: int  # buckets below: the holdout
    ranges: tuple[tuple[str, int, int], ...]  # (label, lo, hi) of the first phase's sends
    test_end: int  # buckets from here: the rest ("test, then send the winner"), or BUCKETS
    winner: str = ""  # the rest's variant, once picked

    def assign(self, contact_id: int, phase: str = FIRST) -> str | None:
        """The contact's variant in `phase` ("holdout", a label, "" for no variant) or None (no row
        in this phase)."""
        n = bucket(self.campaign_id, contact_id)
        if n < self.holdout_end:
            return HOLDOUT
        if phase == REST:
            return self.winner if n >= self.test_end else None
        for label, lo, hi in self.ranges:
            if lo <= n < hi:
                return label
        return None

    def case_sql(self, phase: str = FIRST, contact_column: str = "c.id") -> str:
        """`assign` as an SQL CASE expression (NULL: no row in this phase)."""
        n = bucket_sql(self.campaign_id, contact_column)
        whens = [f"WHEN {n} < {self.holdout_end} THEN '{HOLDOUT}'"]
        if phase == REST:
            whens.append(f"WHEN {n} >= {self.test_end} THEN '{_label(self.winner)}'")
        else:
            whens += [f"WHEN {n} < {hi} THEN '{_label(label)}'" for label, lo, hi in self.ranges if hi > lo]
        return f"(CASE {' '.join(whens)} ELSE NULL END)"


def _label(label: str) -> str:
    if label not in ("", *(v for v, _ in Variant._meta.get_field("label").choices)):
        raise ValueError(f"not a variant label: {label!r}")
    return label


def is_experiment(campaign: Campaign) -> bool:
    return bool(campaign.holdout_percent) or campaign.variants.exists()


def plan(campaign: Campaign, variants: list[Variant] | None = None) -> Plan:
    """The campaign's ranges (see the module docstring). Without variants there is one range, of
    the campaign's own template (label "")."""
    if variants is None:
        variants = list(campaign.variants.order_by("label"))
    holdout_end = BUCKETS * min(campaign.holdout_percent, MAX_HOLDOUT_PERCENT) // 100
    sendable = BUCKETS - holdout_end
    test_end = BUCKETS
    if campaign.test_percent and len(variants) >= MIN_VARIANTS:
        test_end = holdout_end + sendable * campaign.test_percent // 100
    span, ranges, cumulative, lo = test_end - holdout_end, [], 0, holdout_end
    splits = [(v.label, v.split) for v in variants] or [("", 100)]
    total = sum(split for _, split in splits) or 1
    for label, split in splits:
        cumulative += split
        hi = holdout_end + span * cumulative // total
        ranges.append((label, lo, hi))
        lo = hi
    return Plan(campaign.pk, holdout_end, tuple(ranges), test_end, campaign.winner_variant)


def has_test_phase(campaign: Campaign) -> bool:
    return bool(campaign.test_percent)


# -- test, then send the winner ---------------------------------------------------------------------


def winner_due_at(campaign: Campaign) -> datetime | None:
    if not campaign.test_percent or campaign.started_at is None:
        return None
    return campaign.started_at + timedelta(minutes=campaign.winner_after_minutes)


def winners_tick(*, now: datetime | None = None) -> int:
    """Periodic (the engine tick): pick the winner of every sending campaign whose test time is up,
    and write the rest's rows (again, when a run was cut short); returns how many were handled."""
    now = now or timezone.now()
    handled = 0
    due = Campaign.objects.filter(
        status=Campaign.Status.SENDING,
        test_percent__gt=0,
        fanned_out_at__isnull=False,
        rest_fanned_out_at__isnull=True,
    )
    for campaign in due:
        at = winner_due_at(campaign)
        if campaign.winner_picked_at is None and (at is None or at > now):
            continue
        winner_pick(campaign_id=campaign.pk, now=now)
        handled += 1
    return handled


def winner_pick(*, campaign_id: int, now: datetime | None = None) -> Campaign:
    """Pick the winner by the campaign's metric (once: a pick is kept), then send it to the rest
    only: one message row per remaining contact, the holdout and the tested contacts untouched."""
    from . import stats
    from .services import campaign_fan_out, provider_kick

    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if not campaign.winner_picked_at:
            board = stats.variant_results(campaign)
            campaign.winner_variant = stats.best_variant(board, campaign.winner_metric)
            campaign.winner_picked_at = now
            campaign.save(update_fields=["winner_variant", "winner_picked_at"])
            from rcsconnect.audit import audit_action

            audit_action(campaign, "winner", variant=campaign.winner_variant, metric=campaign.winner_metric)
    campaign_fan_out(campaign=campaign, phase=REST)
    Campaign.objects.filter(pk=campaign.pk).update(rest_fanned_out_at=timezone.now())
    provider_kick(provider_id=campaign.provider_id)
    campaign.refresh_from_db()
    return campaign


def variants_save(*, campaign: Campaign, variants: list[dict]) -> list[Variant]:
    """Replace a draft's variants (validated by `campaigns.validation.experiment_errors`)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not campaign.is_editable:
            raise ValueError("The content is locked once sending starts.")
        campaign.variants.all().delete()
        saved = [
            Variant.objects.create(
                campaign=campaign,
                label=v["label"],
                template=v["template"],
                placeholder_mapping=v["placeholder_mapping"],
                split=v["split"],
            )
            for v in variants
        ]
        from rcsconnect.audit import audit_action

        audit_action(campaign, "variants", variants=[f"{v.label}:{v.template_id}:{v.split}" for v in saved])
    return saved

"""Stats: the funnel, rates and hourly series for campaigns and providers.

Reads never scan messages: a campaign's funnel comes from its counters, everything per hour from
`StatBucket` / `ErrorBucket`, which `record` keeps up to date incrementally. Whoever applies a
`campaigns.state.Change` to the database (the engine for send results, the callback handler for
vendor events) calls `record` with the same changes, in the same transaction, after updating the
campaign counters:

    changes = [(message, advance(message, channel=..., status=..., at=...)) for ...]
    ...bulk_update messages, update campaign counters...
    stats.record(changes)

`rebuild` recomputes the buckets from the messages (after an import, or to repair).

An A/B campaign's per-variant results (`variant_results`: funnel, rates, the z-tests, lift vs the
holdout) are the exception: one aggregate over the campaign's messages grouped by variant and one over
its conversions, as there are no per-variant counters.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from providers.events import DELIVERED, READ

from .models import Campaign, Conversion, ErrorBucket, Message, MessageStatus, StatBucket
from .models.stats import BUCKET_FIELDS

# The message timestamp each funnel step is counted at (its hour bucket).
STAMP = {
    "sent": "sent_at",
    "delivered_rcs": "delivered_at",
    "delivered_sms": "delivered_at",
    "read": "read_at",
    "clicked": "clicked_at",
    "replied": "replied_at",
    "failed": "failed_at",
}
UNKNOWN_ERROR = "unknown"
# A provider's waiting messages are counted up to this many (a huge backlog stays cheap to show).
QUEUED_CAP = 10_000


def hour_of(value: datetime | None) -> datetime:
    value = value or timezone.now()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# -- writing ----------------------------------------------------------------------------------------


def record(changes: Iterable[tuple]) -> None:
    """Add the funnel deltas of applied changes to the hourly buckets (one UPDATE per bucket).

    Each item is `(message, change)` or `(message, change, error_code_before)`. `message` carries
    the state after the change: its timestamps choose the hour, its error_code names a failure.
    Negative deltas (a late "delivered" after "failed") are subtracted from the hour the step was
    counted in. Pass the message's error_code from before `advance` as the third item so that a
    failure whose code changes (RCS 2002, then SMS 905) moves between codes instead of being
    counted under the newer code only.
    """
    stats, errors = _deltas(changes)
    for key, deltas in stats:
        _bump(StatBucket, key, deltas)
    for key, deltas in errors:
        _bump(ErrorBucket, key, deltas)


def upsert_statements(changes: Iterable[tuple], *, where: str = "") -> list[tuple[str, list]]:
    """`record` as PostgreSQL upserts, for a caller that sends several statements in one round trip;
    `where`: a condition (SQL without parameters) the upserts depend on."""
    stats, errors = _deltas(changes)
    return [_upsert(StatBucket, key, deltas, where) for key, deltas in stats] + [
        _upsert(ErrorBucket, key, deltas, where) for key, deltas in errors
    ]


def _deltas(changes: Iterable[tuple]) -> tuple[list, list]:
    """(bucket key, deltas) pairs for the stat and error buckets, in a fixed order."""
    stats: dict[tuple, Counter] = defaultdict(Counter)
    errors: dict[tuple, int] = defaultdict(int)
    for message, change, *before in changes:
        for name, delta in change.counters.items():
            if not delta or name not in STAMP:
                continue
            hour = hour_of(getattr(message, STAMP[name]))
            key = (message.provider_id, message.campaign_id, hour)
            stats[key][name] += delta
        code_after = _code(message.error_code)
        code_before = _code(before[0]) if before else code_after
        failed = change.counters.get("failed", 0)
        key = (message.provider_id, message.campaign_id, hour_of(message.failed_at))
        if failed > 0:
            errors[(*key, code_after)] += 1
        elif failed < 0:
            errors[(*key, code_before)] -= 1
        elif message.status == MessageStatus.FAILED and code_before != code_after:
            errors[(*key, code_before)] -= 1
            errors[(*key, code_after)] += 1
    # A fixed order keeps concurrent writers from deadlocking on the same rows.
    stat_rows = [
        (key, d) for key in sorted(stats, key=_sort_key) if (d := {k: v for k, v in stats[key].items() if v})
    ]
    error_rows = [(key, {"count": errors[key]}) for key in sorted(errors, key=_sort_key) if errors[key]]
    return stat_rows, error_rows


def _upsert(model, key: tuple, deltas: dict[str, int], where: str = "") -> tuple[str, list]:
    provider_id, campaign_id, hour, *rest = key
    counts = list(BUCKET_FIELDS) if model is StatBucket else ["count"]
    columns = ["provider_id", "campaign_id", "hour", *(["code"] if rest else []), *counts]
    conflict = ["provider_id", *(["campaign_id"] if campaign_id is not None else []), "hour"]
    conflict += ["code"] if rest else []
    partial = "campaign_id IS NOT NULL" if campaign_id is not None else "campaign_id IS NULL"
    table = model._meta.db_table
    sets = ", ".join(f'"{name}" = {table}."{name}" + EXCLUDED."{name}"' for name in deltas)
    quoted = ", ".join(f'"{name}"' for name in columns)
    rows = f"SELECT {', '.join(['%s'] * len(columns))}" + (f" WHERE {where}" if where else "")
    sql = (
        f"INSERT INTO {table} ({quoted}) {rows} "  # noqa: S608 - table and column names, not input
        f"ON CONFLICT ({', '.join(conflict)}) WHERE {partial} DO UPDATE SET {sets}"
    )
    return sql, [provider_id, campaign_id, hour, *rest, *(deltas.get(name, 0) for name in counts)]


def _code(code: str) -> str:
    return (code or UNKNOWN_ERROR)[:20]


def _sort_key(key: tuple) -> tuple:
    return tuple("" if k is None else str(k) for k in key)


def _bump(model, key: tuple, deltas: dict[str, int]) -> None:
    provider_id, campaign_id, hour, *rest = key
    lookup = {"provider_id": provider_id, "campaign_id": campaign_id, "hour": hour}
    if rest:
        lookup["code"] = rest[0]
    rows = model.objects.filter(**lookup)
    increments = {name: F(name) + delta for name, delta in deltas.items()}
    if rows.update(**increments):
        return
    try:
        with transaction.atomic():
            model.objects.create(**lookup, **deltas)
    except IntegrityError:  # another writer created the row meanwhile
        rows.update(**increments)


@transaction.atomic
def funnel_conditions() -> dict[str, Q]:
    """Each funnel figure as a condition on a message row, as the transitions count it
    (campaigns.state): the recount and the per-variant results both aggregate these."""
    delivered_rcs = Q(rcs_status__in=(DELIVERED, READ))
    return {
        "sent": Q(sent_at__isnull=False),
        "delivered_rcs": delivered_rcs,
        "delivered_sms": ~delivered_rcs & Q(sms_status__in=(DELIVERED, READ)),
        "read": Q(rcs_status=READ) | Q(sms_status=READ),
        "clicked": Q(clicked_at__isnull=False),
        "replied": Q(replied_at__isnull=False),
        "failed": Q(status=MessageStatus.FAILED),
    }


def rebuild(*, campaign_id: int | None = None, provider_id: int | None = None) -> int:
    """Recompute the buckets and the campaign counters of a campaign, a provider or everything from
    the messages (maintenance: run it while the campaigns it covers are not sending)."""
    scope = Q()
    if campaign_id is not None:
        scope &= Q(campaign_id=campaign_id)
    if provider_id is not None:
        scope &= Q(provider_id=provider_id)
    messages = Message.objects.filter(scope)
    conditions = funnel_conditions()
    # The global lock order (docs/engine.md): campaign rows before stat and error buckets.
    recount(campaign_id=campaign_id, provider_id=provider_id, conditions=conditions)
    StatBucket.objects.filter(scope).delete()
    ErrorBucket.objects.filter(scope).delete()
    buckets: dict[tuple, Counter] = defaultdict(Counter)
    for name, condition in conditions.items():
        rows = (
            messages.filter(condition)
            .annotate(h=TruncHour(STAMP[name], tzinfo=UTC))
            .values("provider_id", "campaign_id", "h")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            buckets[(row["provider_id"], row["campaign_id"], hour_of(row["h"]))][name] += row["n"]
    StatBucket.objects.bulk_create(
        [StatBucket(provider_id=p, campaign_id=c, hour=h, **counts) for (p, c, h), counts in buckets.items()],
        batch_size=1000,
    )
    error_rows = (
        messages.filter(conditions["failed"])
        .annotate(h=TruncHour("failed_at", tzinfo=UTC))
        .values("provider_id", "campaign_id", "h", "error_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    merged: dict[tuple, int] = defaultdict(int)
    for row in error_rows:
        code = _code(row["error_code"])
        merged[(row["provider_id"], row["campaign_id"], hour_of(row["h"]), code)] += row["n"]
    ErrorBucket.objects.bulk_create(
        [
            ErrorBucket(provider_id=p, campaign_id=c, hour=h, code=k, count=n)
            for (p, c, h, k), n in merged.items()
        ],
        batch_size=1000,
    )
    return len(buckets)


def recount(*, campaign_id=None, provider_id=None, conditions: dict[str, Q] | None = None) -> None:
    """Set the campaigns' counters (`state.COUNTED`) to a count of their messages (part of `rebuild`)."""
    from .state import UNFINISHED, counter_field

    conditions = dict(conditions or {})
    conditions["processed"] = ~Q(status__in=(*UNFINISHED, MessageStatus.HOLDOUT))
    conditions["cancelled"] = Q(status=MessageStatus.CANCELLED)
    conditions["skipped"] = Q(status=MessageStatus.SKIPPED)
    conditions["expired"] = Q(status=MessageStatus.EXPIRED)
    campaigns = Campaign.objects.all()
    if campaign_id is not None:
        campaigns = campaigns.filter(pk=campaign_id)
    if provider_id is not None:
        campaigns = campaigns.filter(provider_id=provider_id)
    counts = {
        row.pop("campaign_id"): row
        for row in Message.objects.filter(campaign__in=campaigns)
        .values("campaign_id")
        .annotate(**{counter_field(n): Count("id", filter=c) for n, c in conditions.items()})
        .order_by()
    }
    zero = dict.fromkeys((counter_field(n) for n in conditions), 0)
    for pk in campaigns.order_by("id").values_list("id", flat=True):
        Campaign.objects.filter(pk=pk).update(**{**zero, **counts.get(pk, {})})


# -- reading ----------------------------------------------------------------------------------------


@dataclass
class Funnel:
    queued: int | None  # messages created (a campaign's audience size); None when not known cheaply
    sent: int
    delivered_rcs: int
    delivered_sms: int
    read: int
    clicked: int
    replied: int
    failed: int
    errors: list[tuple[str, int]] = field(default_factory=list)  # by error code, most frequent first
    waiting: int | None = None  # still queued or being sent now (campaigns: from counters)
    waiting_capped: bool = False  # providers: more than QUEUED_CAP are waiting (shown as "10000+")
    cancelled: int = 0
    # Ended unsent by the send rules (campaigns.sendrules): frequency cap or opted out; expired.
    skipped: int = 0
    expired: int = 0
    # Of `waiting`, those waiting for their send window (None where not counted: lists, providers).
    window_waiting: int | None = None
    # Conversions credited to the campaign (campaigns.conversions); None where not counted (providers).
    conversions: int | None = None
    converted: int = 0  # messages with at least one conversion
    conversion_value: Decimal = Decimal(0)

    @property
    def delivered(self) -> int:
        return self.delivered_rcs + self.delivered_sms

    @property
    def delivery_rate(self) -> float | None:
        return _ratio(self.delivered, self.sent)

    @property
    def ctr_basis(self) -> str:
        """CTR is clicks per delivered message when delivery reports exist, else per sent message."""
        return "delivered" if self.delivered else "sent"

    @property
    def ctr(self) -> float | None:
        return _ratio(self.clicked, self.delivered if self.delivered else self.sent)

    @property
    def reply_rate(self) -> float | None:
        """Replies per delivered message (per sent without delivery reports), like CTR."""
        return _ratio(self.replied, self.delivered if self.delivered else self.sent)

    @property
    def fallback_rate(self) -> float | None:
        """Share of delivered messages that reached the recipient by SMS fallback."""
        return _ratio(self.delivered_sms, self.delivered)

    @property
    def conversion_rate(self) -> float | None:
        """Converted messages per delivered message (per sent without delivery reports), like CTR."""
        if self.conversions is None:
            return None
        return _ratio(self.converted, self.delivered if self.delivered else self.sent)

    def as_dict(self) -> dict:
        return {
            "queued": self.queued,
            "sent": self.sent,
            "delivered": self.delivered,
            "delivered_rcs": self.delivered_rcs,
            "delivered_sms": self.delivered_sms,
            "read": self.read,
            "clicked": self.clicked,
            "replied": self.replied,
            "failed": self.failed,
            "errors": [{"code": code, "count": n} for code, n in self.errors],
            "waiting": self.waiting,
            "waiting_capped": self.waiting_capped,
            "cancelled": self.cancelled,
            "skipped": self.skipped,
            "expired": self.expired,
            "waiting_for_window": self.window_waiting,
            "delivery_rate": self.delivery_rate,
            "ctr": self.ctr,
            "ctr_basis": self.ctr_basis,
            "reply_rate": self.reply_rate,
            "fallback_rate": self.fallback_rate,
            "conversions": self.conversions,
            "conversion_rate": self.conversion_rate,
            "conversion_value": str(self.conversion_value),
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _errors(rows) -> list[tuple[str, int]]:
    totals = rows.values("code").annotate(n=Sum("count")).order_by("-n", "code")
    return [(row["code"], row["n"]) for row in totals if row["n"] > 0]


def campaign_funnel(campaign: Campaign) -> Funnel:
    """The campaign's funnel from its counters (no message scan) and errors from the buckets."""
    from .sendrules import waiting_for_window

    funnel = campaign_funnel_counters(campaign)
    # Only a sending or paused campaign can have messages waiting for their window (cancel and
    # expiry end them; a campaign completes without any).
    active = campaign.status in (Campaign.Status.SENDING, Campaign.Status.PAUSED)
    funnel.window_waiting = waiting_for_window(campaign).count if active else 0
    funnel.errors = _errors(ErrorBucket.objects.filter(campaign=campaign))
    add_conversions(funnel, Conversion.objects.filter(campaign=campaign))
    return funnel


def add_conversions(funnel: Funnel, conversions) -> Funnel:
    """Count `conversions` (a Conversion queryset) into `funnel`: one aggregate over the conversions
    (indexed by campaign), never over the messages."""
    sums = conversions.aggregate(
        n=Count("id"), converted=Count("message_id", distinct=True), value=Sum("value")
    )
    funnel.conversions, funnel.converted = sums["n"], sums["converted"]
    funnel.conversion_value = Decimal(sums["value"] or 0).quantize(Decimal("0.01"))
    return funnel


def campaign_funnel_counters(campaign: Campaign) -> Funnel:
    """The funnel from the campaign row alone (no query): lists of many campaigns."""
    return Funnel(
        queued=campaign.total_count,
        sent=campaign.sent_count,
        delivered_rcs=campaign.delivered_rcs_count,
        delivered_sms=campaign.delivered_sms_count,
        read=campaign.read_count,
        clicked=campaign.clicked_count,
        replied=campaign.replied_count,
        failed=campaign.failed_count,
        waiting=campaign.queued_count,
        cancelled=campaign.cancelled_count,
        skipped=campaign.skipped_count,
        expired=campaign.expired_count,
    )


def provider_stats(provider, since: datetime | None = None) -> Funnel:
    """A provider's funnel over every campaign and transactional send since `since` (hourly)."""
    buckets = StatBucket.objects.filter(provider=provider)
    errors = ErrorBucket.objects.filter(provider=provider)
    if since is not None:
        buckets = buckets.filter(hour__gte=hour_of(since))
        errors = errors.filter(hour__gte=hour_of(since))
    sums = buckets.aggregate(**{name: Sum(name) for name in BUCKET_FIELDS})
    waiting = (
        Message.objects.filter(provider=provider, status__in=(MessageStatus.QUEUED, MessageStatus.SENDING))
        .order_by()[: QUEUED_CAP + 1]
        .count()
    )
    return Funnel(
        queued=None,
        waiting=min(waiting, QUEUED_CAP),
        waiting_capped=waiting > QUEUED_CAP,
        errors=_errors(errors),
        **{name: sums[name] or 0 for name in BUCKET_FIELDS},
    )


@dataclass
class Point:
    hour: datetime
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    clicked: int = 0


def series(
    *,
    campaign: Campaign | None = None,
    provider=None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_points: int = 24 * 14,
) -> list[Point]:
    """Sends, deliveries, errors and clicks per hour (gaps filled with zeros), oldest first.

    Without `since`, the series starts at the first bucket; spans longer than `max_points` hours
    are cut to the most recent ones.
    """
    buckets = StatBucket.objects.all()
    if campaign is not None:
        buckets = buckets.filter(campaign=campaign)
    if provider is not None:
        buckets = buckets.filter(provider=provider)
    if since is not None:
        buckets = buckets.filter(hour__gte=hour_of(since))
    if until is not None:
        buckets = buckets.filter(hour__lte=hour_of(until))
    rows = (
        buckets.values("hour")
        .annotate(
            sent=Sum("sent"),
            delivered=Sum(F("delivered_rcs") + F("delivered_sms")),
            failed=Sum("failed"),
            clicked=Sum("clicked"),
        )
        .order_by("hour")
    )
    by_hour = {hour_of(row["hour"]): row for row in rows}
    if not by_hour and since is None:
        return []
    first = hour_of(since) if since is not None else min(by_hour)
    last = hour_of(until) if until is not None else max([*by_hour, first])
    first = max(first, last - timedelta(hours=max_points - 1))
    points = []
    hour = first
    while hour <= last:
        row = by_hour.get(hour, {})
        points.append(
            Point(
                hour=hour,
                sent=row.get("sent") or 0,
                delivered=row.get("delivered") or 0,
                failed=row.get("failed") or 0,
                clicked=row.get("clicked") or 0,
            )
        )
        hour += timedelta(hours=1)
    return points


def overall_stats(since: datetime) -> Funnel:
    """Every provider's funnel since `since` (hourly buckets): the home page's figures."""
    sums = StatBucket.objects.filter(hour__gte=hour_of(since)).aggregate(
        **{name: Sum(name) for name in BUCKET_FIELDS}
    )
    return Funnel(queued=None, **{name: sums[name] or 0 for name in BUCKET_FIELDS})


@dataclass(frozen=True)
class FanOutProgress:
    created: int  # message rows written so far
    audience: int  # subscribed contacts: the rows the fan-out will write

    @property
    def percent(self) -> int:
        return min(100, int(100 * self.created / self.audience)) if self.audience else 100


def fan_out_progress(campaign: Campaign) -> FanOutProgress | None:
    """While a started campaign's message rows are still being written (the launch's fan-out task)."""
    if campaign.fanned_out_at is not None or campaign.status not in (
        Campaign.Status.SENDING,
        Campaign.Status.PAUSED,
    ):
        return None
    from .models import Contact

    audience = Contact.objects.filter(audience_id=campaign.audience_id, subscribed=True).count()
    return FanOutProgress(created=campaign.total_count + campaign.holdout_count, audience=audience)


# -- experiments (A/B variants and the holdout, campaigns.experiments) -------------------------------

SIGNIFICANCE = 0.05  # a difference is called significant below this two-sided p-value
TEST_NAME = "two-proportion z-test"
METRICS = {  # the rates variants are compared on (the winner metrics, Campaign.WinnerMetric)
    "ctr": "Click-through rate",
    "reply_rate": "Reply rate",
    "conversion_rate": "Conversion rate",
}
METRIC_NAMES = {**METRICS, "recipient_conversion_rate": "Converted per contact"}


@dataclass(frozen=True)
class ZTest:
    """A two-proportion z-test (pooled) of x1/n1 against x2/n2, two-sided."""

    metric: str
    first: str  # the labels compared ("B" against "A", "A" against "holdout")
    second: str
    x1: int
    n1: int
    x2: int
    n2: int
    name: str = TEST_NAME

    @property
    def z(self) -> float | None:
        if not self.n1 or not self.n2:
            return None
        pooled = (self.x1 + self.x2) / (self.n1 + self.n2)
        se = math.sqrt(pooled * (1 - pooled) * (1 / self.n1 + 1 / self.n2))
        if se == 0:
            return None
        return round((self.x1 / self.n1 - self.x2 / self.n2) / se, 3)

    @property
    def p(self) -> float | None:
        z = self.z
        return None if z is None else round(math.erfc(abs(z) / math.sqrt(2)), 4)

    @property
    def significant(self) -> bool:
        return self.p is not None and self.p < SIGNIFICANCE

    def as_dict(self) -> dict:
        return {
            "test": self.name,
            "metric": self.metric,
            "variant": self.first,
            "against": self.second,
            "x1": self.x1,
            "n1": self.n1,
            "x2": self.x2,
            "n2": self.n2,
            "z": self.z,
            "p": self.p,
            "significant": self.significant,
        }


@dataclass
class VariantFigures:
    """One variant's (or the holdout's) figures: its funnel, and its conversions per contact."""

    label: str  # "A".."D", "holdout", or "" (a campaign with a holdout and no variants)
    members: int  # contacts assigned (message rows; the holdout's are never sent)
    funnel: Funnel

    @property
    def is_holdout(self) -> bool:
        from .experiments import HOLDOUT

        return self.label == HOLDOUT

    @property
    def recipient_conversion_rate(self) -> float | None:
        """Converted contacts per contact assigned: the rate the holdout can be compared on (it
        has no deliveries), and the lift's."""
        return _ratio(self.funnel.converted, self.members)

    def metric(self, name: str) -> float | None:
        return getattr(self.funnel, name)

    def counts(self, name: str) -> tuple[int, int]:
        """(successes, trials) of a rate, as the z-test takes them."""
        f = self.funnel
        basis = f.delivered if f.delivered else f.sent
        return {
            "ctr": (f.clicked, basis),
            "reply_rate": (f.replied, basis),
            "conversion_rate": (f.converted, basis),
            "recipient_conversion_rate": (f.converted, self.members),
        }[name]

    def as_dict(self) -> dict:
        return {
            "variant": self.label,
            "members": self.members,
            "recipient_conversion_rate": self.recipient_conversion_rate,
            **self.funnel.as_dict(),
        }


@dataclass
class Experiment:
    variants: list[VariantFigures]  # in label order
    holdout: VariantFigures | None
    tests: list[ZTest]
    # Per variant: relative lift of the recipient conversion rate over the holdout's (0.25 = +25 %);
    # None without a holdout or while the holdout has no conversions.
    lift: dict[str, float | None]
    winner: str = ""

    def as_dict(self) -> dict:
        return {
            "variants": [v.as_dict() for v in self.variants],
            "holdout": self.holdout.as_dict() if self.holdout else None,
            "tests": [t.as_dict() for t in self.tests],
            "lift": self.lift,
            "winner": self.winner,
        }


def variant_results(campaign: Campaign) -> Experiment | None:
    """An A/B campaign's figures per variant and for its holdout, the z-tests between the variants
    (each against the first, on CTR, reply rate and conversion rate) and of each against the
    holdout (on conversions per contact), and the lift. None for a campaign without variants or
    holdout. One aggregate over the campaign's messages (the campaign's index) and one over its
    conversions: the per-variant figures are not kept in counters."""
    from .experiments import HOLDOUT

    if not campaign.holdout_percent and not campaign.variants.exists():
        return None
    conditions = {
        **funnel_conditions(),
        "cancelled": Q(status=MessageStatus.CANCELLED),
        "waiting": Q(status__in=(MessageStatus.QUEUED, MessageStatus.SENDING)),
    }
    rows = {
        row.pop("variant"): row
        for row in Message.objects.filter(campaign=campaign, repeat_of__isnull=True)
        .values("variant")
        .annotate(members=Count("id"), **{name: Count("id", filter=c) for name, c in conditions.items()})
        .order_by()
    }
    conversions = {
        row.pop("variant"): row
        for row in Conversion.objects.filter(campaign=campaign)
        .values("variant")
        .annotate(n=Count("id"), converted=Count("message_id", distinct=True), value=Sum("value"))
        .order_by()
    }
    labels = list(campaign.variants.order_by("label").values_list("label", flat=True)) or [""]

    def figures(label: str) -> VariantFigures:
        row = rows.get(label, {})
        funnel = Funnel(
            queued=row.get("members", 0),
            **{name: row.get(name, 0) for name in BUCKET_FIELDS},
            waiting=row.get("waiting", 0),
            cancelled=row.get("cancelled", 0),
        )
        conv = conversions.get(label, {})
        funnel.conversions, funnel.converted = conv.get("n", 0), conv.get("converted", 0)
        funnel.conversion_value = Decimal(conv.get("value") or 0).quantize(Decimal("0.01"))
        return VariantFigures(label, row.get("members", 0), funnel)

    variants = [figures(label) for label in labels]
    holdout = figures(HOLDOUT) if campaign.holdout_percent or HOLDOUT in rows else None
    tests = []
    first = variants[0]
    for other in variants[1:]:
        for metric in METRICS:
            tests.append(
                ZTest(metric, other.label, first.label, *other.counts(metric), *first.counts(metric))
            )
    lift: dict[str, float | None] = {}
    if holdout is not None:
        base = holdout.funnel.converted / holdout.members if holdout.members else 0
        for v in variants:
            tests.append(
                ZTest(
                    "recipient_conversion_rate",
                    v.label,
                    HOLDOUT,
                    *v.counts("recipient_conversion_rate"),
                    *holdout.counts("recipient_conversion_rate"),
                )
            )
            rate = v.funnel.converted / v.members if v.members else None
            lift[v.label] = round((rate - base) / base, 4) if base and rate is not None else None
    return Experiment(variants, holdout, tests, lift, winner=campaign.winner_variant)


def best_variant(experiment: Experiment | None, metric: str) -> str:
    """The variant with the highest `metric` ("ctr", "reply_rate", "conversion_rate"); a tie, or
    no figures yet, goes to the earlier label."""
    if experiment is None or not experiment.variants:
        return ""
    ranked = sorted(
        enumerate(experiment.variants),
        key=lambda item: (-(item[1].metric(metric) if item[1].metric(metric) is not None else -1), item[0]),
    )
    return ranked[0][1].label

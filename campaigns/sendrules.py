"""Send rules: when a marketing message may go, and whether it may go at all.

The one owner of these rules (docs/send-rules.md); the claimer (`campaigns.engine.claimer`) asks
it for every claimed message of a campaign whose rules apply, the tick and each dispatcher release
windows and end expired campaigns through it, the builder and the estimate read it.

- A contact's timezone (`contact_timezone`): its `timezone` attribute (an IANA name) when present,
  else the one zone phonenumbers gives its number, else the workspace default
  (`RCS_DEFAULT_TIMEZONE`: numbers whose country spans several zones).
- The send window (campaign `window_start`-`window_end`, in the contact's local time or in the
  campaign's `window_timezone`) and the installation's quiet hours (`RCS_QUIET_HOURS`, local time):
  a message claimed outside them waits (`waiting`) until its next opening (`next_opening`), then
  `release_due` puts it back in the queue.
- Frequency cap: at most N marketing messages per number per rolling period, across campaigns
  (`RCS_FREQUENCY_CAP` / `RCS_FREQUENCY_PERIOD_HOURS`, a campaign may override). `check_and_record`
  counts and records in one transaction under a lock on each number (PostgreSQL: transaction-scoped
  advisory locks, taken in number order), so two dispatchers never let the N+1st through.
- Expiry: past the campaign's `expires_at` ("do not send after", or launch + TTL) unsent messages
  end `expired` (`expire_due`, and the claimer for a message it holds).
- The estimate's timing (`zone_counts`, `timing`): the audience counted per zone in one GROUP BY,
  then when sending starts and about when it ends at the provider's rate, window by window.
- Opt-outs: a contact unsubscribed since the fan-out (an unsubscribe, a STOP reply) is skipped
  (`opted_out`; the claim loads the contact's `subscribed`, so this costs no query).
Whether they apply: the campaign's `send_rules` (category: only for a marketing template).
Messages of campaigns without rules take none of these paths (the claimer checks one attribute).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import math
import zoneinfo
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import phonenumbers
import phonenumbers.timezone
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Substr
from django.utils import timezone

from . import state
from .models import Campaign, FrequencyRecord, Message, MessageStatus

INDIA_PRESET = {"window_start": time(9), "window_end": time(21), "window_timezone": "Asia/Kolkata"}
INDIA_PRESET_LABEL = "India promotional hours: 09:00-21:00 IST"


# -- timezones --
def default_timezone() -> str:
    name = settings.RCS_DEFAULT_TIMEZONE or "UTC"
    return name if _zone(name) else "UTC"


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


@functools.lru_cache(maxsize=65536)
def number_timezone(e164: str) -> str:
    """The one zone phonenumbers gives the number, "" when it gives several (or none)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ""
    zones = [z for z in phonenumbers.timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    return zones[0] if len(zones) == 1 else ""


def valid_zone(name: str) -> bool:
    return bool(name) and _zone(name) is not None


def contact_timezone(to: str, attributes: dict | None = None, default: str = "") -> str:
    name = str((attributes or {}).get("timezone") or "").strip()
    if name and _zone(name):
        return name
    return number_timezone(to) or default or default_timezone()


# -- windows --
def parse_hours(text: str) -> tuple[time, time] | None:
    """ "21:00-09:00" -> (21:00, 09:00); "" -> None; ValueError when unreadable."""
    text = (text or "").strip()
    if not text:
        return None
    start, _, end = text.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def quiet_hours() -> tuple[time, time] | None:
    try:
        return parse_hours(settings.RCS_QUIET_HOURS)
    except ValueError:
        return None


def _inside(t: time, start: time, end: time) -> bool:
    """Whether local time `t` is in [start, end) (a span over midnight when end <= start)."""
    if start < end:
        return start <= t < end
    return t >= start or t < end


def _next_at(local: datetime, at: time) -> datetime:
    """The next local datetime at `at` after `local` (same tz)."""
    candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=local.tzinfo)
    return candidate


@dataclass(frozen=True)
class Rules:
    """What applies to one campaign's messages (None from `for_campaign` when nothing does)."""

    window: tuple[time, time] | None = None
    window_timezone: str = ""  # "" = each contact's local time
    quiet: tuple[time, time] | None = None
    cap: int = 0
    period: timedelta = timedelta(hours=24)
    expires_at: datetime | None = None
    opt_outs: bool = True

    @property
    def timed(self) -> bool:
        return self.window is not None or self.quiet is not None

    def zone(self, to: str, attributes: dict | None) -> zoneinfo.ZoneInfo:
        name = self.window_timezone or contact_timezone(to, attributes)
        return _zone(name) or UTC

    def next_opening(self, now: datetime, to: str, attributes: dict | None = None) -> datetime | None:
        """None when the message may go at `now`, else when it may (UTC)."""
        return self.opening_in(now, self.zone(to, attributes))

    def opening_in(self, now: datetime, tz: zoneinfo.ZoneInfo) -> datetime | None:
        """`next_opening` for a contact in zone `tz`."""
        local = now.astimezone(tz)
        moved = False
        for _ in range(6):  # the window's opening may fall in quiet hours, and the other way round
            blocked = False
            if self.window and not _inside(local.time(), *self.window):
                local, blocked = _next_at(local, self.window[0]), True
            if self.quiet and _inside(local.time(), *self.quiet):
                local, blocked = _next_at(local, self.quiet[1]), True
            if not blocked:
                return local.astimezone(UTC) if moved else None
            moved = True
        return local.astimezone(UTC)

    def open_at(self, t: time) -> bool:
        """Whether local time `t` is inside the window and outside quiet hours."""
        if self.window and not _inside(t, *self.window):
            return False
        return not (self.quiet and _inside(t, *self.quiet))

    def boundaries(self) -> list[time]:
        """The local times at which sending may start or stop."""
        return [b for pair in (self.window, self.quiet) if pair for b in pair]

    def window_hours(self) -> float:
        """Sending hours a day the rules leave (24 without a window or quiet hours)."""
        hours = _span(*self.window) if self.window else 24.0
        if self.quiet:
            hours = min(hours, 24 - _span(*self.quiet))
        return max(hours, 0.0)


def _span(start: time, end: time) -> float:
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return (minutes if minutes > 0 else minutes + 24 * 60) / 60


def applies(campaign: Campaign) -> bool:
    """Whether windows, quiet hours and caps apply to the campaign's messages."""
    if campaign.send_rules == Campaign.Rules.OFF:
        return False
    if campaign.send_rules == Campaign.Rules.ON:
        return True
    from templates_app.models import MessageTemplate

    if campaign.template_id is None:  # the builder's estimate before a template is picked
        return True
    return campaign.template.category == MessageTemplate.Category.MARKETING


def campaign_cap(campaign: Campaign) -> tuple[int, timedelta]:
    cap = settings.RCS_FREQUENCY_CAP if campaign.frequency_cap is None else campaign.frequency_cap
    hours = campaign.frequency_period_hours or settings.RCS_FREQUENCY_PERIOD_HOURS
    return max(0, cap or 0), timedelta(hours=max(1, hours))


def for_campaign(campaign: Campaign) -> Rules | None:
    """The campaign's rules; None when none applies (the claimer's fast path)."""
    expires_at = campaign.expires_at
    if not applies(campaign):
        return Rules(expires_at=expires_at, opt_outs=False) if expires_at else None
    window = None
    if campaign.window_start is not None and campaign.window_end is not None:
        window = (campaign.window_start, campaign.window_end)
    cap, period = campaign_cap(campaign)
    return Rules(
        window=window,
        window_timezone=campaign.window_timezone,
        quiet=quiet_hours(),
        cap=cap,
        period=period,
        expires_at=expires_at,
    )


def expiry_of(campaign: Campaign, started_at: datetime) -> datetime | None:
    """When the campaign's unsent messages expire (fixed when it starts)."""
    times = [t for t in (campaign.send_until,) if t]
    if campaign.ttl_hours:
        times.append(started_at + timedelta(hours=campaign.ttl_hours))
    return min(times) if times else None


# -- the frequency cap --
def check_and_record(items: list[tuple[Message, int, timedelta]], now: datetime) -> set[int]:
    """Which of these messages (each with its campaign's cap and period) stay within the cap; those
    are recorded. One transaction: a lock on each number (PostgreSQL: advisory, in number order,
    held to the commit), a count of the numbers' records in the period, the inserts. A message
    already recorded (claimed again) counts once and stays allowed."""
    if not items:
        return set()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return _check_and_record_postgresql(items, now)
    numbers = sorted({m.to for m, _, _ in items})
    longest = max(period for _, _, period in items)
    ids = {m.id for m, _, _ in items}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(LOCK_SQL, [sorted({_lock_key(n) for n in numbers})])
                cursor.fetchall()
        records = list(
            FrequencyRecord.objects.filter(to__in=numbers, at__gt=now - longest).values_list(
                "to", "at", "message_id"
            )
        )
        mine = {mid for _, _, mid in records if mid in ids}
        allowed, new = set(), []
        taken: dict[str, list[datetime]] = {}
        for to, at, _ in records:
            taken.setdefault(to, []).append(at)
        for message, cap, period in items:
            if message.id in mine:
                allowed.add(message.id)
                continue
            count = sum(1 for at in taken.get(message.to, ()) if at > now - period)
            if count < cap:
                allowed.add(message.id)
                taken.setdefault(message.to, []).append(now)
                new.append(FrequencyRecord(to=message.to, message_id=message.id, at=now))
        FrequencyRecord.objects.bulk_create(new, ignore_conflicts=True)
    return allowed


# unnest keeps the array's order: the locks are taken in number order (no deadlock between claims).
LOCK_SQL = "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k"
# After the locks, in the same transaction but a statement of its own (so its snapshot sees every
# record committed by a claim that held one of the locks before): record each message whose number
# has fewer than its cap of records in its period, counting the batch's earlier messages to the
# same number; return those recorded now and those recorded before (a claim again).
RECORD_SQL = """
WITH batch AS (
    SELECT b.id, b."to", b.cap, b.since,
           row_number() OVER (PARTITION BY b."to" ORDER BY b.id) AS place
    FROM unnest(%(ids)s::bigint[], %(tos)s::text[], %(caps)s::int[], %(since)s::timestamptz[])
         AS b(id, "to", cap, since)
    WHERE NOT EXISTS (SELECT 1 FROM {table} AS r WHERE r.message_id = b.id)
), inserted AS (
    INSERT INTO {table} ("to", message_id, at)
    SELECT b."to", b.id, %(now)s FROM batch AS b
    WHERE (SELECT count(*) FROM {table} AS r WHERE r."to" = b."to" AND r.at > b.since) + b.place <= b.cap
    ON CONFLICT (message_id) DO NOTHING
    RETURNING message_id
)
SELECT message_id FROM inserted
UNION ALL
SELECT message_id FROM {table} WHERE message_id = ANY(%(ids)s)
"""


def _check_and_record_postgresql(items: list[tuple[Message, int, timedelta]], now: datetime) -> set[int]:
    """`check_and_record` in one round trip: `BEGIN; locks; record; COMMIT`."""
    numbers = sorted({_lock_key(m.to) for m, _, _ in items})
    ordered = sorted(items, key=lambda item: item[0].id)
    params = {
        "ids": [m.id for m, _, _ in ordered],
        "tos": [m.to for m, _, _ in ordered],
        "caps": [cap for _, cap, _ in ordered],
        "since": [now - period for _, _, period in ordered],
        "now": now,
    }
    sql = RECORD_SQL.format(table=FrequencyRecord._meta.db_table)
    with connection.cursor() as cursor:
        try:
            # Named parameters for the second statement, the first's array spelled as one too.
            cursor.execute(
                f"BEGIN; {LOCK_SQL.replace('%s', '%(keys)s')}; {sql}; COMMIT",
                {**params, "keys": numbers},
            )
            cursor.nextset()  # past BEGIN
            cursor.nextset()  # past the locks
            allowed = {row[0] for row in cursor.fetchall()}
        except BaseException:
            with contextlib.suppress(Exception):
                cursor.execute("ROLLBACK")
            raise
    return allowed


def _lock_key(number: str) -> int:
    digits = number.lstrip("+")
    if digits.isdigit() and len(digits) <= 18:
        return int(digits)
    return hash(number) & 0x7FFFFFFFFFFFFFFF


def forget_records(now: datetime | None = None) -> int:
    """Delete records older than any cap could count (the tick)."""
    now = now or timezone.now()
    longest = max(
        [settings.RCS_FREQUENCY_PERIOD_HOURS]
        + list(
            Campaign.objects.filter(frequency_period_hours__isnull=False).values_list(
                "frequency_period_hours", flat=True
            )
        )
    )
    deleted, _ = FrequencyRecord.objects.filter(at__lt=now - timedelta(hours=longest)).delete()
    return deleted


# -- windows opening, campaigns expiring (the tick and each dispatcher) --
def release_due(now: datetime | None = None, *, campaign_ids=None) -> int:
    """Waiting messages whose window opened go back to the queue (`state.RELEASE_WINDOW`)."""
    now = now or timezone.now()
    rows = Message.objects.filter(status=MessageStatus.WAITING, next_attempt_at__lte=now)
    if campaign_ids is not None:
        rows = rows.filter(campaign_id__in=campaign_ids)
    return rows.update(status=state.RELEASE_WINDOW[MessageStatus.WAITING])


def expire_due(now: datetime | None = None) -> int:
    """End the unsent messages of every campaign past its expiry (`state.EXPIRABLE`, a leased one
    once its lease ran out); lock order: messages by id, then the campaign row."""
    from .engine.complete import campaign_complete_if_done

    now = now or timezone.now()
    total = 0
    due = Campaign.objects.filter(
        expires_at__lte=now, status__in=[Campaign.Status.SENDING, Campaign.Status.PAUSED]
    ).values_list("id", flat=True)
    for campaign_id in list(due):
        with transaction.atomic():
            rows = Message.objects.filter(
                Q(status__in=state.EXPIRABLE) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now)),
                campaign_id=campaign_id,
            )
            locked = rows.select_for_update(of=("self",)).order_by("id").values("id")
            n = Message.objects.filter(id__in=locked).update(
                status=MessageStatus.EXPIRED, lease_until=None, error_code="expired"
            )
            if n:
                deltas: Counter = state.expire_counters(n)
                Campaign.objects.filter(pk=campaign_id).update(
                    **{state.counter_field(k): F(state.counter_field(k)) + v for k, v in deltas.items()}
                )
        total += n
        if Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).exists():
            campaign_complete_if_done(campaign_id=campaign_id)
    return total


# -- figures for the pages --
@dataclass(frozen=True)
class Waiting:
    count: int
    until: datetime | None  # the earliest opening among them (UTC)
    local: str  # the window's opening as local time ("09:00")


def waiting_for_window(campaign: Campaign) -> Waiting:
    """How many of the campaign's messages wait for their window (an index range on campaign+status)."""
    rows = Message.objects.filter(campaign_id=campaign.pk, status=MessageStatus.WAITING)
    count = rows.count() if campaign.pk else 0
    until = (
        rows.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first() if count else None
    )
    opening = campaign.window_start
    if opening is None and (quiet := quiet_hours()):
        opening = quiet[1]
    return Waiting(count, until, opening.strftime("%H:%M") if opening else "")


def describe(campaign: Campaign) -> list[str]:
    """The campaign's send rules as short sentences (detail page, admin)."""
    if not applies(campaign):
        lines = ["Off (transactional template)" if campaign.send_rules == Campaign.Rules.CATEGORY else "Off"]
    else:
        lines = []
        if campaign.window_start is not None and campaign.window_end is not None:
            where = campaign.window_timezone or "each contact's local time"
            lines.append(f"Window {campaign.window_start:%H:%M}-{campaign.window_end:%H:%M} ({where})")
        if quiet := quiet_hours():
            lines.append(f"Quiet hours {quiet[0]:%H:%M}-{quiet[1]:%H:%M} (installation, local time)")
        cap, period = campaign_cap(campaign)
        hours = int(period.total_seconds() // 3600)
        lines.append(
            f"At most {cap} marketing message{'s' if cap != 1 else ''} per {hours} h" if cap else "No cap"
        )
    if campaign.expires_at or campaign.send_until or campaign.ttl_hours:
        when = campaign.expires_at or campaign.send_until
        lines.append(
            f"Not sent after {when:%Y-%m-%d %H:%M} UTC"
            if when
            else f"Not sent later than {campaign.ttl_hours} h after launch"
        )
    return lines


def audience_has_india(campaign_or_contacts) -> bool:
    """Whether an audience (a Contact queryset) holds +91 numbers (the India preset is offered)."""
    return campaign_or_contacts.filter(phone__startswith="+91").exists()


# -- the estimate: when sending starts and ends --
# The audience's contacts are counted per zone in one GROUP BY over what gives a contact its zone:
# the `timezone` attribute and the number's first digits ("+" and ZONE_PREFIX_DIGITS digits: the
# country code and the start of the national number, which settle phonenumbers' zone for all but a
# few split area codes, e.g. some US ones); each group's zone is that of its smallest number.
ZONE_PREFIX_DIGITS = 4
ZONES_SHOWN = 5  # the estimate lists the openings of the audience's largest zones
SIMULATED_DAYS = 7  # days followed window by window; longer sendings are extrapolated by whole days


def zone_counts(contacts) -> tuple[Counter, int]:
    """(subscribed contacts per timezone name, unsubscribed contacts) of a Contact queryset."""
    rows = (
        contacts.order_by()
        .annotate(
            tz_attribute=KT("attributes__timezone"), number_prefix=Substr("phone", 1, 1 + ZONE_PREFIX_DIGITS)
        )
        .values("tz_attribute", "number_prefix")
        .annotate(
            subscribed_n=Count("pk", filter=Q(subscribed=True)),
            unsubscribed_n=Count("pk", filter=Q(subscribed=False)),
            sample=Min("phone"),
        )
    )
    zones: Counter = Counter()
    unsubscribed = 0
    default = default_timezone()
    for row in rows:
        unsubscribed += row["unsubscribed_n"]
        if row["subscribed_n"]:
            name = contact_timezone(row["sample"], {"timezone": row["tz_attribute"]}, default)
            zones[name] += row["subscribed_n"]
    return zones, unsubscribed


def duration_text(seconds: float) -> str:
    """ "45 s", "12 min", "11 h", "11 h 30 min", "3 d 4 h"."""
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@dataclass(frozen=True)
class Opening:
    """When one zone's contacts may first be sent to."""

    zone: str
    count: int
    at: datetime  # UTC (the start itself when the zone is open then)
    local: str  # that time on the zone's clock, "09:00"
    wait: str  # from the start, "11 h" ("" when open at the start)


@dataclass(frozen=True)
class Timing:
    """When a campaign's sending starts and about when it ends, given its windows and quiet hours."""

    start: datetime  # the launch (now) or the scheduled time, UTC
    scheduled: bool  # `start` is the scheduled time
    starts_at: datetime | None  # the first opening; None: the rules leave no time to send
    ends_at: datetime | None  # about when the last message goes
    zone: str = ""  # the zone that opens first
    local: str = ""  # its opening on its clock
    openings: tuple[Opening, ...] = ()  # the largest zones' openings, earliest first
    more_zones: int = 0  # zones not in `openings`

    @property
    def waits(self) -> bool:
        return self.starts_at is not None and self.starts_at > self.start

    @property
    def wait(self) -> str:
        return duration_text((self.starts_at - self.start).total_seconds()) if self.waits else ""

    @property
    def takes(self) -> str:
        """From the first opening to the end ("" when unknown)."""
        if self.starts_at is None or self.ends_at is None:
            return ""
        return duration_text((self.ends_at - self.starts_at).total_seconds())


def timing(
    rules: Rules, zones: Mapping[str, float], rate: float, start: datetime, *, scheduled: bool = False
) -> Timing | None:
    """When sending `zones` (recipients per timezone name) at `rate` messages/s from `start` starts
    and ends under the rules: each zone's messages go while its local time is open; the open zones
    share the rate in proportion to what they have left (the queue interleaves them). None without
    recipients. Costs a few steps per zone and window boundary, never a step per contact."""
    zones = {name: n for name, n in zones.items() if n > 0}
    if not zones or rate <= 0:
        return None
    start = start.astimezone(UTC)
    if rules.window_timezone:
        zones = {rules.window_timezone: sum(zones.values())}
    if rules.boundaries() and not any(rules.open_at(b) for b in rules.boundaries()):
        return Timing(start, scheduled, None, None)
    tzs = {name: _zone(name) or UTC for name in zones}
    openings = []
    for name, n in zones.items():
        at = rules.opening_in(start, tzs[name]) or start
        wait = duration_text((at - start).total_seconds()) if at > start else ""
        openings.append(Opening(name, round(n), at, at.astimezone(tzs[name]).strftime("%H:%M"), wait))
    first = min(openings, key=lambda o: (o.at, -o.count))
    shown = sorted(sorted(openings, key=lambda o: -o.count)[:ZONES_SHOWN], key=lambda o: (o.at, -o.count))
    ends_at = _simulate(rules, zones, tzs, rate, start)
    return Timing(
        start,
        scheduled,
        first.at,
        ends_at,
        zone=first.zone,
        local=first.local,
        openings=tuple(shown),
        more_zones=len(openings) - len(shown),
    )


def _simulate(
    rules: Rules, zones: dict[str, float], tzs: dict, rate: float, start: datetime
) -> datetime | None:
    """When the last message goes (see `timing`). Zones with the same UTC offset at the start share
    windows, so they are followed as one group (at most ~40 groups, whatever the audience)."""
    remaining: dict[timedelta, float] = {}
    clock: dict[timedelta, zoneinfo.ZoneInfo] = {}
    largest: dict[timedelta, float] = {}
    for name, n in zones.items():
        offset = start.astimezone(tzs[name]).utcoffset() or timedelta(0)
        remaining[offset] = remaining.get(offset, 0.0) + n
        if n > largest.get(offset, -1):
            largest[offset], clock[offset] = n, tzs[name]
    boundaries = rules.boundaries()

    def next_boundary(t: datetime, tz) -> datetime:
        local = t.astimezone(tz)
        return min(_next_at(local, b) for b in boundaries).astimezone(UTC)

    def reset(t: datetime):
        is_open = {k: rules.open_at(t.astimezone(clock[k]).time()) for k in remaining}
        heap = [(next_boundary(t, clock[k]), k.total_seconds()) for k in remaining]
        heapq.heapify(heap)
        return is_open, heap

    t = start
    horizon = start + timedelta(days=SIMULATED_DAYS)
    extrapolated = False
    is_open, heap = reset(t)
    open_seconds = 0.0  # in the last day before the horizon, with some zone open (sending at the rate)
    while remaining:
        t_next = min(heap[0][0], horizon)
        active = [k for k in remaining if is_open[k]]
        if active:
            total = sum(remaining[k] for k in active)
            span = (t_next - t).total_seconds()
            if total <= rate * span + 1e-6:
                for k in active:
                    del remaining[k]
                if not remaining:
                    return t + timedelta(seconds=total / rate)
            else:
                for k in active:
                    remaining[k] -= remaining[k] * rate * span / total
                if t_next > horizon - timedelta(days=1):
                    open_seconds += (t_next - max(t, horizon - timedelta(days=1))).total_seconds()
        t = t_next
        if t >= horizon:
            if extrapolated or not open_seconds:
                return None
            # Skip whole days at the last day's pace (the windows repeat daily), then follow the rest.
            left = sum(remaining.values())
            days = max(0, math.floor(left / (rate * open_seconds)) - 1)
            for k in remaining:
                remaining[k] *= 1 - days * rate * open_seconds / left
            t += timedelta(days=days)
            horizon = t + timedelta(days=2)
            extrapolated = True
            is_open, heap = reset(t)
            continue
        while heap and heap[0][0] <= t:
            _, seconds = heapq.heappop(heap)
            k = timedelta(seconds=seconds)
            if k in remaining:
                is_open[k] = rules.open_at(t.astimezone(clock[k]).time())
                heapq.heappush(heap, (next_boundary(t, clock[k]), seconds))
    return t

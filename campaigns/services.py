"""Workflows for audiences, campaigns and messages (the UI, commands, API and tasks call these)."""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from providers.models import Provider
from rcsconnect.audit import audit_action
from rcsconnect.db import retry_on_conflict
from rcsconnect.webhooks.events import EventType, emit
from templates_app.models import MessageTemplate

from . import notify, sendrules, state
from .engine.complete import campaign_complete_if_done
from .models import Audience, AudienceImport, Campaign, Contact, Message, MessageStatus
from .storage import storage

log = logging.getLogger(__name__)

FANOUT_CHUNK = 50_000  # contact ids per INSERT ... SELECT (one short transaction each)
FANOUT_CONNECTIONS = 2  # PostgreSQL: chunks inserted over this many connections at once
# A started campaign still without `fanned_out_at` this long after its start lost its fan-out (the
# launching request or process was killed part-way): the tick runs it again (it is idempotent).
FANOUT_RESUME_AFTER = timedelta(minutes=5)


class CampaignError(ValueError):
    """A lifecycle action that is not allowed now; the message is shown to the user as is."""


# -- audiences --------------------------------------------------------------------------------------


def audience_import_start(
    *, audience: Audience, file, original_name: str = "", default_region: str = ""
) -> AudienceImport:
    """Store the uploaded CSV and import it in the background (campaigns.tasks.import_audience)."""
    job = AudienceImport(audience=audience, original_name=original_name[:200], default_region=default_region)
    job.file.save(f"audience-{audience.pk}.csv", file, save=False)
    job.size_bytes = job.file.size
    job.save()
    transaction.on_commit(lambda: _enqueue("campaigns.tasks.import_audience", job.pk))
    return job


# -- campaigns --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    recipients: int
    unsubscribed: int
    rate: int
    seconds: int
    # Of the subscribed contacts, about this many are in the A/B holdout (campaigns.experiments): not
    # sent to, so not in `recipients` or the time.
    holdout: int = 0
    # With a send window or quiet hours (campaigns.sendrules): the hours a day they leave, and over
    # how many days' windows the sending spreads (0: no window applies).
    window_hours: float = 24.0
    window_days: int = 0
    # With a window or quiet hours: when sending starts and about when it ends, from now or from the
    # scheduled time, for the audience's timezones (sendrules.timing); None without them.
    timing: sendrules.Timing | None = None


def campaign_estimate(*, campaign: Campaign, now: datetime | None = None, timing: bool = True) -> Estimate:
    """Recipients and sending time; with windows, when sending starts and ends, from the scheduled
    time of a campaign that starts later, else from `now`. Counts: two COUNTs, or with windows in
    each contact's local time one GROUP BY per zone-determining key (sendrules.zone_counts).
    `timing=False` (the progress card, polled, shows only the recipients): no zones, no timing."""
    now = now or timezone.now()
    contacts = campaign_contacts(campaign)
    rules = sendrules.for_campaign(campaign)
    timed = rules is not None and rules.timed
    zones = None
    if timed and timing and not rules.window_timezone:
        zones, unsubscribed = sendrules.zone_counts(contacts)
        subscribed = sum(zones.values())
    else:
        subscribed = contacts.filter(subscribed=True).count()
        unsubscribed = contacts.filter(subscribed=False).count()
    holdout = subscribed * min(campaign.holdout_percent or 0, 50) // 100
    recipients = subscribed - holdout
    provider = campaign.provider
    # Concurrency can be the tighter bound only with a slow vendor; the rate is what we promise.
    rate = provider.effective_rate
    seconds = math.ceil(recipients / rate) if recipients else 0
    if not timed:
        return Estimate(recipients, unsubscribed, rate, seconds, holdout)
    hours = rules.window_hours()
    days = max(1, math.ceil(seconds / (hours * 3600))) if hours else 0
    share = recipients / subscribed if subscribed else 0
    per_zone = {name: n * share for name, n in zones.items()} if zones else {"": recipients}
    scheduled = bool(campaign.scheduled_at and campaign.scheduled_at > now)
    start = campaign.scheduled_at if scheduled else now
    when = sendrules.timing(rules, per_zone, rate, start, scheduled=scheduled) if timing else None
    return Estimate(
        recipients, unsubscribed, rate, seconds, holdout, window_hours=hours, window_days=days, timing=when
    )


def campaign_contacts(campaign: Campaign):
    """The contacts the campaign is for, subscribed or not: its segment's, or its whole audience."""
    if campaign.segment_id:
        from .segments import contacts

        return contacts(campaign.segment)
    return Contact.objects.filter(audience_id=campaign.audience_id)


def campaign_check(campaign: Campaign) -> list[str]:
    """Why the campaign cannot launch (empty when it can): campaigns.validation's rules, as sentences."""
    from .validation import stored_campaign_errors

    return [message for messages in stored_campaign_errors(campaign).values() for message in messages]


def campaign_launch(*, campaign_id: int, background: bool = False) -> Campaign:
    """Draft -> scheduled (when scheduled_at is in the future) or straight to sending.

    `background=True` (the page and the API: a web request) leaves the fan-out to a task and
    returns at once; otherwise (commands, the demo, tests) the rows are written before it returns."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update().select_related("provider", "template").get(pk=campaign_id)
        )
        if campaign.status != Campaign.Status.DRAFT:
            raise CampaignError(
                f"Only a draft can be launched; this campaign is {campaign.get_status_display()}."
            )
        if problems := campaign_check(campaign):
            raise CampaignError(" ".join(problems))
        if campaign.scheduled_at and campaign.scheduled_at > timezone.now():
            campaign.status = Campaign.Status.SCHEDULED
            campaign.save(update_fields=["status"])
            audit_action(campaign, "launch", scheduled_at=campaign.scheduled_at.isoformat())
            return campaign
        audit_action(campaign, "launch")
    return campaign_start(campaign_id=campaign.pk, background=background)


def campaign_start(*, campaign_id: int, background: bool = False) -> Campaign:
    """Fan out (one message row per subscribed contact, chunked INSERT ... SELECT) and start sending.

    `background=True`: the fan-out runs in the `campaigns.tasks.fan_out` task, enqueued once the
    status change is committed; a web request never writes the rows (about 30 s a million here,
    gunicorn's default worker timeout). Sending starts after its first chunk either way."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            raise CampaignError(f"The campaign is already {campaign.get_status_display()}.")
        from .sendrules import expiry_of

        campaign.status = Campaign.Status.SENDING
        campaign.started_at = timezone.now()
        campaign.msg_prefix = campaign.msg_prefix or f"c{campaign.pk}{secrets.token_hex(3)}"
        campaign.expires_at = expiry_of(campaign, campaign.started_at)  # "do not send after" / TTL
        campaign.save(update_fields=["status", "started_at", "msg_prefix", "expires_at"])
        if background:
            transaction.on_commit(lambda: _enqueue("campaigns.tasks.fan_out", campaign.pk))
    if background:
        return campaign
    return campaign_fan_out_run(campaign_id=campaign.pk)


def campaign_fan_out_run(*, campaign_id: int) -> Campaign:
    """The launch's fan-out, then sending (the `fan_out` task, or inline): skipped once done or when
    the campaign was cancelled before it ran."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.fanned_out_at is None and campaign.status in (
        Campaign.Status.SENDING,
        Campaign.Status.PAUSED,
    ):
        campaign_fan_out(campaign=campaign)
    provider_kick(provider_id=campaign.provider_id)
    campaign_complete_if_done(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def campaign_fan_out(*, campaign: Campaign, chunk: int = FANOUT_CHUNK, phase: str = "first") -> int:
    """Create the campaign's message rows; idempotent (msgIds are fixed: "<prefix>-<contact id>").

    An experiment (`campaigns.experiments`: variants, a holdout) writes each row with its variant,
    and its holdout rows in state "holdout" (counted in `holdout_count`, not in `total_count`);
    with "test, then send the winner" the first phase writes the holdout and the tested share, the
    `phase="rest"` fan-out (the winner step) the rest, all with the winning variant.

    Chunks of contact ids, each in one short transaction (INSERT ... SELECT, then the campaign's
    total). On PostgreSQL, outside an open transaction, FANOUT_CONNECTIONS threads insert chunks at
    once: the database does all of this work (most of it keeping the message indexes), and one
    connection keeps one core busy. Sending starts after the first chunk with rows.
    """
    bounds = Contact.objects.filter(audience_id=campaign.audience_id).aggregate(lo=Min("id"), hi=Max("id"))
    fan_out = _FanOut(campaign, chunk, phase=phase)
    if bounds["lo"] is not None:
        starts = range(bounds["lo"], bounds["hi"] + 1, chunk)
        threads = min(FANOUT_CONNECTIONS, len(starts))
        if threads > 1 and storage().parallel_writers():
            fan_out.in_threads(iter(starts), threads)
        else:
            fan_out.run(iter(starts), kick=True)
    if phase == "first":
        Campaign.objects.filter(pk=campaign.pk).update(fanned_out_at=timezone.now())
    return fan_out.created


class _FanOut:
    """One campaign's fan-out: chunks of contact ids taken in order by one thread or several."""

    def __init__(self, campaign: Campaign, chunk: int, *, phase: str = "first"):
        from . import experiments

        self.campaign, self.chunk = campaign, chunk
        # An experiment's rows carry their variant (experiments.Plan.case_sql); holdout rows and
        # sendable rows are written by one statement each, for the two counters.
        assign = None
        if experiments.is_experiment(campaign):
            assign = experiments.plan(campaign).case_sql(phase)
        self.experiment = assign is not None
        self.sql = _fan_out_statement(segment=campaign.segment_id is not None, assign=assign)
        # The segment is read once too, and its rules evaluated at one time for every chunk.
        self.segment, self.started = campaign.segment, timezone.now()
        # Read here, once: the threads share the campaign (and its provider, which this may load).
        self.prefix, self.sms_fallback = f"{campaign.msg_prefix}-", campaign.uses_sms_fallback
        self.created = 0
        self.lock = threading.Lock()
        self.first_rows = threading.Event()  # a chunk inserted rows: sending can start
        self.error: BaseException | None = None

    def run(self, starts: Iterator[int], *, kick: bool = False) -> None:
        """Insert chunks until none is left (or another thread failed); `kick`: start sending after
        the first chunk with rows, from this thread."""
        while True:
            with self.lock:
                lo = None if self.error else next(starts, None)
            if lo is None:
                return
            inserted = self.insert(lo)
            with self.lock:
                self.created += inserted
            if inserted and not self.first_rows.is_set():
                self.first_rows.set()
                if kick:
                    provider_kick(provider_id=self.campaign.provider_id)  # sends while the rest is written

    def in_threads(self, starts: Iterator[int], count: int) -> None:
        """`run` in `count` threads, each over its own connection; sending is started from this thread."""

        def work() -> None:
            try:
                self.run(starts)
            except BaseException as exc:  # noqa: BLE001 - raised in the calling thread
                with self.lock:
                    self.error = self.error or exc
            finally:
                connection.close()

        name = f"fan-out-{self.campaign.pk}"
        threads = [threading.Thread(target=work, name=f"{name}-{i}", daemon=True) for i in range(count)]
        for thread in threads:
            thread.start()
        while not self.first_rows.wait(0.05):
            if not any(thread.is_alive() for thread in threads):
                break
        if self.first_rows.is_set() and self.error is None:
            provider_kick(provider_id=self.campaign.provider_id)  # sends while the rest is written
        for thread in threads:
            thread.join()
        if self.error is not None:
            raise self.error

    def insert(self, lo: int) -> int:
        """One chunk of contact ids, [lo, lo + chunk): its message rows and the campaign's total."""
        campaign, now = self.campaign, timezone.now()
        params = [
            campaign.pk,
            campaign.provider_id,
            self.prefix,
            self.sms_fallback,
            MessageStatus.QUEUED,
            now,
            now,
            campaign.audience_id,
            lo,
            lo + self.chunk,
        ]
        sql = self.sql
        if self.segment is not None:  # only the segment's contacts of this chunk (campaigns.segments)
            from .segments import fan_out_filter

            segment_sql, extra = fan_out_filter(self.segment, lo, lo + self.chunk, now=self.started)
            sql = sql.replace("{segment}", segment_sql)
            params.extend(extra)
        if not self.experiment:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                inserted = max(cursor.rowcount, 0)
                Campaign.objects.filter(pk=campaign.pk).update(total_count=F("total_count") + inserted)
            return inserted
        with transaction.atomic(), connection.cursor() as cursor:
            params[4] = MessageStatus.HOLDOUT  # the holdout's rows: never sent (campaigns.state)
            cursor.execute(sql, [*params, True])
            holdout = max(cursor.rowcount, 0)
            params[4] = MessageStatus.QUEUED
            cursor.execute(sql, [*params, False])
            inserted = max(cursor.rowcount, 0)
            Campaign.objects.filter(pk=campaign.pk).update(
                total_count=F("total_count") + inserted, holdout_count=F("holdout_count") + holdout
            )
        return inserted + holdout


def _fan_out_statement(*, segment: bool = False, assign: str | None = None) -> str:
    """The fan-out's INSERT ... SELECT for one chunk of contact ids. `assign`: an experiment's
    variant per contact (SQL over `c.id`, NULL: no row in this phase); the statement then takes a
    last parameter, whether it writes the holdout's rows or the others."""
    q = connection.ops.quote_name
    table, contacts = Message._meta.db_table, Contact._meta.db_table
    columns = (
        "campaign_id, provider_id, contact_id, {to}, msg_id, sms_fallback, status, rcs_status, "
        "sms_status, delivered_via, error_code, error_message, vendor_id, idempotency_key, attempts, "
        "next_attempt_at, created_at"
    ).format(to=q("to"))
    if assign is not None:
        return (
            f"INSERT INTO {q(table)} ({columns}, variant) "  # noqa: S608 - table names, not input
            f"SELECT %s, %s, c.id, c.phone, %s || c.id, %s, %s, '', '', '', '', '', '', '', 0, %s, %s, "
            f"c.variant FROM (SELECT c.id, c.phone, {assign} AS variant FROM {q(contacts)} c "
            f"WHERE c.audience_id = %s AND c.subscribed AND c.id >= %s AND c.id < %s "
            f"{'AND c.id IN ({segment}) ' if segment else ''}) c "
            f"WHERE c.variant IS NOT NULL AND (c.variant = 'holdout') = %s "
            "ON CONFLICT (msg_id) DO NOTHING"
        )
    return (
        f"INSERT INTO {q(table)} ({columns}) "  # noqa: S608 - table names, not input
        f"SELECT %s, %s, c.id, c.phone, %s || c.id, %s, %s, '', '', '', '', '', '', '', 0, %s, %s "
        f"FROM {q(contacts)} c WHERE c.audience_id = %s AND c.subscribed AND c.id >= %s AND c.id < %s "
        f"{'AND c.id IN ({segment}) ' if segment else ''}"
        "ON CONFLICT (msg_id) DO NOTHING"
    )


def campaign_pause(*, campaign_id: int) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != Campaign.Status.SENDING:
            raise CampaignError(
                f"Only a sending campaign can be paused; it is {campaign.get_status_display()}."
            )
        campaign.status, campaign.paused_at = Campaign.Status.PAUSED, timezone.now()
        campaign.save(update_fields=["status", "paused_at"])
        audit_action(campaign, "pause")
    return campaign


def campaign_resume(*, campaign_id: int) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != Campaign.Status.PAUSED:
            raise CampaignError(
                f"Only a paused campaign can be resumed; it is {campaign.get_status_display()}."
            )
        campaign.status, campaign.paused_at = Campaign.Status.SENDING, None
        campaign.save(update_fields=["status", "paused_at"])
        audit_action(campaign, "resume")
        transaction.on_commit(lambda: provider_kick(provider_id=campaign.provider_id))
    return campaign


def campaign_cancel(*, campaign_id: int) -> Campaign:
    """Stop for good: queued messages are cancelled now; those on the wire finish as they are.

    Lock order (docs/engine.md): the messages (by id), then the campaign row, as the result writer
    and the event applier take them; a deadlock or serialization failure is retried in place.
    """
    retry_on_conflict(_cancel, campaign_id, what="cancelling a campaign")
    return Campaign.objects.get(pk=campaign_id)


CANCELLABLE = (
    Campaign.Status.DRAFT,
    Campaign.Status.SCHEDULED,
    Campaign.Status.SENDING,
    Campaign.Status.PAUSED,
)


def _cancel(campaign_id: int) -> None:
    with transaction.atomic():
        campaign = Campaign.objects.get(pk=campaign_id)
        if campaign.status not in CANCELLABLE:
            raise CampaignError(f"The campaign is already {campaign.get_status_display()}.")
        now = timezone.now()
        # state.CANCELLABLE, a leased message only once its lease ran out (one on the wire finishes).
        cancellable = Message.objects.filter(
            Q(status__in=state.CANCELLABLE) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now)),
            campaign=campaign,
        )
        # One statement; on PostgreSQL its subquery locks the rows in id order (`FOR UPDATE`).
        locked = cancellable.select_for_update(of=("self",)).order_by("id").values("id")
        n = Message.objects.filter(id__in=locked).update(status=MessageStatus.CANCELLED, lease_until=None)
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status not in CANCELLABLE:  # finished by someone else meanwhile: nothing is kept
            raise CampaignError(f"The campaign is already {campaign.get_status_display()}.")
        started = campaign.status in (Campaign.Status.SENDING, Campaign.Status.PAUSED)
        campaign.status, campaign.finished_at = Campaign.Status.CANCELLED, now
        campaign.save(update_fields=["status", "finished_at"])
        audit_action(campaign, "cancel")
        if n:  # the counters of cancel's transition (state.send_outcome's cancel) for n messages
            deltas = state.cancel_counters(n)
            Campaign.objects.filter(pk=campaign.pk).update(
                **{state.counter_field(k): F(state.counter_field(k)) + v for k, v in deltas.items()}
            )
        if started:  # a campaign that sent finishes here as completion finishes it (docs/webhooks.md)
            campaign.refresh_from_db()
            emit(EventType.CAMPAIGN_FINISHED, [notify.campaign_finished(campaign)])  # sent after commit


# -- retry and resend -------------------------------------------------------------------------------


def message_retry(*, message_id: int) -> Message:
    """Send a failed message again, as a new attempt with a new msgId (`campaigns.state`)."""
    return _message_repeat(message_id, state.RETRY)


def message_resend(*, message_id: int) -> Message:
    """Send a message that went out (sent, delivered, read) again, as a new message (`campaigns.state`)."""
    return _message_repeat(message_id, state.RESEND)


def _message_repeat(message_id: int, kind: str) -> Message:
    """The attempt is queued now and sent by the dispatcher. Its campaign counts one more message;
    a completed campaign is sending again until the attempt is done (then it completes again), a
    paused one sends it on resume, a cancelled one refuses. Lock order (docs/engine.md): the
    messages by id (the chain's first, then this one), then the campaign row."""
    with transaction.atomic():
        first_id = Message.objects.values_list("repeat_of_id", flat=True).get(pk=message_id) or message_id
        mine = Message.objects.select_for_update().filter(pk__in={first_id, message_id}).order_by("id")
        list(mine.values_list("id", flat=True))  # the chain's first and this one, locked in id order
        message = Message.objects.select_related("provider", "contact").get(pk=message_id)
        first = message if first_id == message_id else Message.objects.get(pk=first_id)
        if not message.provider.is_active:
            raise CampaignError(f"Provider {message.provider} is disabled or archived; enable it first.")
        if message.contact is not None and not message.contact.subscribed:
            raise CampaignError(f"{message.to} has unsubscribed: nothing is sent to them.")
        chain = Message.objects.filter(Q(pk=first_id) | Q(repeat_of_id=first_id))
        if pending := chain.filter(status__in=state.UNFINISHED).values_list("msg_id", flat=True).first():
            raise CampaignError(f"{pending} of this message is still waiting to be sent.")
        try:
            attempt = state.repeat(message, kind=kind, first=first, number=chain.count(), at=timezone.now())
        except state.NotRepeatable as exc:
            raise CampaignError(str(exc)) from exc
        attempt.save(force_insert=True)
        if message.campaign_id is not None:
            _campaign_adds(campaign_id=message.campaign_id, attempt=attempt)
        audit_action(message, kind, attempt=attempt.msg_id, campaign=message.campaign_id)
        transaction.on_commit(lambda: provider_kick(provider_id=message.provider_id))
    return attempt


def _campaign_adds(*, campaign_id: int, attempt: Message) -> None:
    """Count `attempt` in its campaign and make the campaign send it."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status == Campaign.Status.CANCELLED:
        raise CampaignError(f"Campaign {campaign} was cancelled: its messages are not sent again.")
    update: dict = {"total_count": F("total_count") + 1}
    if campaign.status == Campaign.Status.COMPLETED:
        update |= {"status": Campaign.Status.SENDING, "finished_at": None}
    Campaign.objects.filter(pk=campaign_id).update(**update)


# -- transactional sends ----------------------------------------------------------------------------


def message_enqueue(
    *, provider: Provider, to: str, content: dict, contact: Contact | None = None, idempotency_key: str = ""
) -> Message:
    """Queue one message with ready content (inbox replies, transactional sends); same throttle."""
    with transaction.atomic():
        if idempotency_key:
            existing = Message.objects.filter(provider=provider, idempotency_key=idempotency_key).first()
            if existing:
                return existing
        message = Message.objects.create(
            provider=provider,
            contact=contact,
            to=to,
            msg_id=f"t{secrets.token_hex(12)}",
            content=content,
            idempotency_key=idempotency_key[:120],
            next_attempt_at=timezone.now(),
        )
        transaction.on_commit(lambda: provider_kick(provider_id=provider.pk))
    return message


def transactional_send(
    *, provider: Provider, template: MessageTemplate, to: str, values: list[str], idempotency_key: str = ""
) -> Message:
    """One message to one number from a template with placeholder values (REST API)."""
    from rcsconnect.phone import normalise

    from .engine.build import BuildError, render

    phone, error = normalise(to, "")
    if error:
        raise CampaignError(error)
    if template.provider_id != provider.pk:
        raise CampaignError("The template belongs to another provider.")
    if template.category == MessageTemplate.Category.MARKETING:
        from .inbox import is_unsubscribed

        if is_unsubscribed(phone):  # opt-outs skip every marketing send (campaigns.sendrules)
            raise CampaignError(f"{phone} opted out: a marketing template is not sent to it.")
    try:
        content = render(template.content, [str(v) for v in values])
    except BuildError as exc:
        raise CampaignError(str(exc)) from exc
    return message_enqueue(provider=provider, to=phone, content=content, idempotency_key=idempotency_key)


# -- dispatch orchestration -------------------------------------------------------------------------


HEARTBEAT_STALE = 5.0  # seconds without a heartbeat after which a dispatch slot is free again


def _dispatch_key(provider_id: int, slot: int) -> str:
    return f"engine:dispatch:{provider_id}:{slot}"


def _slot_holder(key: str) -> str | None:
    """The token of the live dispatch task holding the slot (None when free or its holder died)."""
    return _live_token(cache.get(key))


def _live_token(value) -> str | None:
    if not isinstance(value, dict) or time.time() - value.get("beat", 0) > HEARTBEAT_STALE:
        return None
    return value.get("token")


def provider_kick(*, provider_id: int) -> int:
    """Make sure the provider's dispatch tasks run (one per free slot); returns how many were enqueued."""
    enqueued = 0
    for slot in range(settings.RCS_DISPATCHERS):
        if _slot_holder(_dispatch_key(provider_id, slot)) is None:
            _enqueue("campaigns.tasks.dispatch", provider_id, slot)
            enqueued += 1
    return enqueued


def dispatch_peers(provider_id: int, slot: int) -> int:
    """How many dispatch tasks of the provider other than the one in `slot` are alive (one cache read)."""
    keys = [_dispatch_key(provider_id, other) for other in range(settings.RCS_DISPATCHERS) if other != slot]
    return sum(_live_token(value) is not None for value in cache.get_many(keys).values())


def dispatch_run(*, provider_id: int, slot: int = 0, budget: float | None = None):
    """Body of the dispatch task: holds slot `slot` of the provider (heartbeat every second)."""
    from .engine.dispatch import Dispatcher

    key, token = _dispatch_key(provider_id, slot), secrets.token_hex(8)
    budget = settings.RCS_DISPATCH_BUDGET_SECONDS if budget is None else budget
    if _slot_holder(key) is not None:
        return None  # a live task holds this slot (a duplicate enqueue, or a kick racing a running task)

    def heartbeat() -> None:
        cache.set(key, {"token": token, "beat": time.time()}, timeout=60)

    heartbeat()
    try:
        provider = Provider.objects.get(pk=provider_id)
        if not provider.is_active:
            return None
        stats = Dispatcher(
            provider, budget=budget, heartbeat=heartbeat, peers=lambda: dispatch_peers(provider_id, slot)
        ).run()
    finally:
        if _slot_holder(key) == token:
            cache.delete(key)
    if stats.claimed and not _sync():
        # Budget spent with work left: hand over to a fresh task (bounded task run time, new session).
        provider_kick(provider_id=provider_id)
    return stats


def engine_tick(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic: start due scheduled campaigns, finish fan-outs that were cut short, release messages
    whose send window opened and end expired campaigns' unsent ones (campaigns.sendrules), send the
    winner of a test whose time is up, restart dispatch where work is due, finish campaigns."""
    from . import sendrules
    from .engine.claim import active_campaign_ids, next_due_at

    now = now or timezone.now()
    started = kicked = resumed = 0
    released = sendrules.release_due(now)
    expired = sendrules.expire_due(now)
    sendrules.forget_records(now)
    for campaign_id in Campaign.objects.filter(
        status=Campaign.Status.SCHEDULED, scheduled_at__lte=now
    ).values_list("id", flat=True):
        try:
            campaign_start(campaign_id=campaign_id)
            started += 1
        except CampaignError:
            log.info("campaign %s was not started: its status changed", campaign_id)
    for campaign in Campaign.objects.filter(
        status__in=[Campaign.Status.SENDING, Campaign.Status.PAUSED],
        fanned_out_at__isnull=True,
        started_at__lt=now - FANOUT_RESUME_AFTER,
    ):
        log.warning("campaign %s: its fan-out was cut short; writing the rest", campaign.pk)
        campaign_fan_out(campaign=campaign)
        resumed += 1
    from .experiments import winners_tick

    winners = winners_tick(now=now)  # "test, then send the winner": the rest, once the test is up
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.SENDING).values_list("id", flat=True):
        campaign_complete_if_done(campaign_id=campaign_id)
    for provider in Provider.objects.active():
        due = next_due_at(provider_id=provider.pk, campaign_ids=active_campaign_ids(provider.pk))
        if due is not None and due <= now + timedelta(seconds=60):
            kicked += provider_kick(provider_id=provider.pk)
    return {
        "started": started,
        "kicked": kicked,
        "fan_outs_resumed": resumed,
        "released": released,
        "expired": expired,
        "winners": winners,
    }


def _sync() -> bool:
    from django_q.conf import Conf

    return bool(Conf.SYNC)


def _enqueue(func: str, *args) -> None:
    from django_q.tasks import async_task

    async_task(func, *args, group=func.rsplit(".", 1)[-1])

"""Provider workflows: plain keyword-only functions named <entity>_<action>.

Campaigns are reached only through the reverse relation `provider.campaigns` (providers never
imports campaigns): archive pauses the ones still running, delete refuses while any exists.
"""

from __future__ import annotations

import logging
import secrets as pysecrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from rcsconnect.audit import audit_action

from .models import Provider, SendTest

logger = logging.getLogger(__name__)

# Campaign statuses (campaigns.Campaign.Status values) that still send and are stopped by archive.
RUNNING_CAMPAIGN_STATUSES = ("scheduled", "sending")


class ProviderError(Exception):
    """A provider operation that is not allowed (shown to the user as is)."""


@transaction.atomic
def provider_save(*, provider: Provider, make_default: bool = False) -> Provider:
    """Create or update a provider (from a validated form) and optionally make it the default."""
    if provider.is_default and not provider.is_active:
        provider.is_default = False
    provider.save()
    if make_default:
        provider_mark_default(provider_id=provider.pk)
        provider.refresh_from_db(fields=["is_default"])
    return provider


@transaction.atomic
def provider_mark_default(*, provider_id: int) -> Provider:
    """Make one provider the default; the partial unique index guarantees there is never a second."""
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    if not provider.is_active:
        raise ProviderError("A disabled or archived provider cannot be the default.")
    # Lock the current default too, then clear it before setting the new one (the unique index
    # is checked per statement).
    list(Provider.objects.select_for_update().filter(is_default=True))
    Provider.objects.filter(is_default=True).exclude(pk=provider_id).update(is_default=False)
    Provider.objects.filter(pk=provider_id).update(is_default=True)
    provider.is_default = True
    audit_action(provider, "mark_default")
    return provider


@transaction.atomic
def provider_set_enabled(*, provider_id: int, enabled: bool) -> Provider:
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    if enabled and provider.archived_at is not None:
        raise ProviderError("An archived provider cannot be enabled; duplicate it instead.")
    provider.enabled = enabled
    if not enabled:
        provider.is_default = False
    provider.save(update_fields=["enabled", "is_default", "updated_at"])
    audit_action(provider, "enable" if enabled else "disable")
    return provider


def provider_running_campaigns(*, provider: Provider) -> QuerySet:
    return provider.campaigns.filter(status__in=RUNNING_CAMPAIGN_STATUSES).order_by("name")


def provider_campaigns(*, provider: Provider) -> QuerySet:
    return provider.campaigns.order_by("name")


@transaction.atomic
def provider_archive(*, provider_id: int) -> list[str]:
    """Archive a provider: it stops sending, its running campaigns are paused, its stats stay.

    Returns the names of the campaigns that were stopped.
    """
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    running = list(provider_running_campaigns(provider=provider).select_for_update())
    now = timezone.now()
    # As campaigns.services.campaign_pause leaves them (which providers may not import).
    provider.campaigns.filter(pk__in=[c.pk for c in running]).update(status="paused", paused_at=now)
    provider.archived_at = provider.archived_at or now
    provider.enabled = False
    provider.is_default = False
    provider.save(update_fields=["archived_at", "enabled", "is_default", "updated_at"])
    audit_action(provider, "archive", paused_campaigns=[c.name for c in running])
    return [c.name for c in running]


@transaction.atomic
def provider_delete(*, provider_id: int) -> None:
    """Delete a provider that no campaign or message uses (otherwise archive it: stats are kept)."""
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    names = list(provider_campaigns(provider=provider).values_list("name", flat=True))
    if names or provider.messages.exists():
        raise ProviderError(
            "Campaigns use this provider ("
            + ", ".join(names[:10])
            + "): archive it instead to keep their stats."
            if names
            else "Messages were sent through this provider: archive it instead to keep their stats."
        )
    provider.delete()


@transaction.atomic
def provider_duplicate(*, provider_id: int, nickname: str | None = None) -> Provider:
    """A copy with the same settings and secrets, a new callback URL, not default, enabled."""
    source = Provider.objects.get(pk=provider_id)
    base = nickname or f"{source.nickname} (copy)"
    name, n = base, 2
    while Provider.objects.filter(nickname=name).exists():
        name, n = f"{base} {n}", n + 1
    copy = Provider.objects.get(pk=provider_id)
    copy.pk = None
    copy.nickname = name[:80]
    copy.is_default = False
    copy.enabled = True
    copy.archived_at = None
    copy.callback_token = pysecrets.token_urlsafe(32)
    copy.callback_hmac_secrets = []
    copy.callback_basic_credentials = []
    copy.health, copy.health_reason, copy.health_changed_at = Provider.Health.HEALTHY, "", None
    copy.save()
    return copy


def providers_with_counts(queryset: QuerySet[Provider], *, hours: int = 24) -> QuerySet[Provider]:
    since = timezone.now() - timezone.timedelta(hours=hours)
    recent = Q(events__received_at__gte=since)
    return queryset.annotate(
        sent_24h=Count("events", filter=recent & Q(events__status="sent")),
        delivered_24h=Count("events", filter=recent & Q(events__status="delivered")),
        failed_24h=Count("events", filter=recent & Q(events__status="failed")),
    )


def provider_health(*, provider: Provider, hours: int = 24) -> dict[str, Any]:
    """Health for the detail page: state, reason, and what the recent Send Tests ran into. The message
    figures come from the stats selector (settings.RCS_PROVIDER_FIGURES), never from raw events."""
    since = timezone.now() - timezone.timedelta(hours=hours)
    tests = SendTest.objects.filter(provider=provider, created_at__gte=since)
    return {
        "state": provider.health,
        "reason": provider.health_reason,
        "since": provider.health_changed_at,
        "test_errors": tests.exclude(outcome="sent").exclude(outcome="").count(),
        "throttled": tests.filter(error_code="429").count(),
        "auth_failures": tests.filter(error_code="auth").count(),
    }


def provider_figures(*, provider: Provider, hours: int = 24):
    """The provider's message funnel over the last `hours` from the one stats selector (campaigns.stats
    through settings.RCS_PROVIDER_FIGURES: providers does not import campaigns)."""
    selector = import_string(settings.RCS_PROVIDER_FIGURES)
    return selector(provider, since=timezone.now() - timezone.timedelta(hours=hours))


# -- Send Test ----------------------------------------------------------------------------------
def provider_send_test(
    *,
    provider_id: int,
    to: str,
    rcs_text: str,
    sms_text: str = "",
    template_name: str = "",
    principal_entity_id: str = "",
    user: Any = None,
) -> SendTest:
    """Record a Send Test and run it in the background (django-q2) once the row is committed."""
    from django_q.tasks import async_task

    send_test = SendTest.objects.create(
        provider_id=provider_id,
        msg_id=f"test-{pysecrets.token_hex(12)}",
        to=to,
        rcs_text=rcs_text,
        sms_text=sms_text,
        template_name=template_name,
        principal_entity_id=principal_entity_id,
        created_by=user if getattr(user, "pk", None) else None,
    )
    transaction.on_commit(lambda: async_task("providers.tasks.run_send_test", send_test.pk))
    audit_action(send_test.provider, "send_test", to=to, send_test_id=send_test.pk)
    return send_test


@dataclass
class TestSendResult:
    """What one Send Test gave, ready to store: the masked request, the redacted answer and outcome."""

    request: Any = None
    status_code: int | None = None
    response_body: str = ""
    outcome: str = ""  # sent | failed | retry | reauth, or "error" when the send raised
    error_code: str = ""
    error_message: str = ""
    vendor_id: str = ""
    elapsed_ms: int = 0


def run_test_send(provider: Provider, build: Callable[[], Any], *, session: Any = None) -> TestSendResult:
    """The one Send Test (providers' and templates'): build the message and send it once; mask the
    request with the kind's redaction keys; redact the vendor's answer and the error and scrub the
    provider's secrets from them. An exception while building or sending (a bug, bad config, content that
    does not render) is an "error" outcome with its redacted message, so no test is ever left queued."""
    from rcsconnect.http import outbound_session
    from rcsconnect.logging import redact

    from .sending import masked, send_message

    own_session = session is None
    session = session or outbound_session(pool_size=1)
    try:
        attempt = send_message(provider, build(), session=session)
    except Exception as exc:
        logger.exception("Send Test on provider %s raised", provider.pk)
        return TestSendResult(outcome="error", error_message=redact(_scrub_secrets(str(exc), provider))[:500])
    finally:
        if own_session:
            session.close()
    result = attempt.result
    return TestSendResult(
        request=masked(attempt.request, provider.kind_class(provider)),
        status_code=attempt.status_code,
        response_body=redact(_scrub_secrets(attempt.response_body or "", provider)),
        outcome=result.outcome.value,
        error_code=result.error_code,
        error_message=redact(_scrub_secrets(result.error_message, provider))[:500],
        vendor_id=result.vendor_id,
        elapsed_ms=int(attempt.elapsed * 1000),
    )


def send_test_run(*, send_test_id: int, session: Any = None) -> SendTest:
    """Send the test message once and store the masked request, the answer and its classification."""
    from .content import TEXT, OutboundMessage, SmsFallback, TemplateRef

    test = SendTest.objects.select_related("provider").get(pk=send_test_id)
    if test.state != SendTest.State.QUEUED:
        return test  # a retried task does not send twice
    provider = test.provider
    message = OutboundMessage(
        msg_id=test.msg_id,
        to=test.to,
        content={"type": TEXT, "text": test.rcs_text, "suggestions": []},
        callback_url=provider.callback_url,
        sms=SmsFallback(body=test.sms_text, principal_entity_id=test.principal_entity_id)
        if test.sms_text
        else None,
        template=TemplateRef(name=test.template_name) if test.template_name else None,
        campaign_ref="send-test",
    )
    result = run_test_send(provider, lambda: message, session=session)
    test.finished_at = timezone.now()
    test.error_message = result.error_message
    if result.outcome == "error":
        test.state = SendTest.State.ERROR
        test.save(update_fields=["state", "error_message", "finished_at"])
        return test
    test.request = result.request
    test.status_code = result.status_code
    test.response_body = result.response_body
    test.outcome = result.outcome
    test.error_code = result.error_code
    test.vendor_id = result.vendor_id
    test.elapsed_ms = result.elapsed_ms
    test.state = SendTest.State.DONE
    test.save()
    return test


def _scrub_secrets(text: str, provider: Provider) -> str:
    from rcsconnect.logging import MASK

    for value in (provider.secrets or {}).values():
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, MASK)
    return text

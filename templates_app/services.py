"""Template workflows: save, clone, delete (stopping campaigns), payload preview, send test, status sync."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from providers import sending
from providers.content import OutboundMessage
from providers.models import Provider
from rcsconnect.audit import audit_action

from .models import MessageTemplate, TemplateTestSend
from .rendering import render_content

# Campaign statuses (campaigns.models.Campaign.Status) that are stopped when their template is deleted.
# Read through the reverse relation only: templates_app does not import campaigns (dependency direction).
ACTIVE_CAMPAIGN_STATUSES = ("scheduled", "sending", "paused")
CANCELLED = "cancelled"
PREVIEW_NUMBER = "+14155550123"


def template_save(
    *, template: MessageTemplate, content: dict[str, Any], sample_values: list[str]
) -> list[str]:
    """Store valid content. A changed approved/submitted template goes back to draft (vendors re-approve)."""
    from .validation import with_defaults

    content = with_defaults(content)
    notes = []
    if template.pk:
        before = MessageTemplate.all_objects.get(pk=template.pk)
        content_changed = before.content != content
        status_untouched = before.status == template.status
        if content_changed and status_untouched and template.status in ("approved", "submitted"):
            template.status = MessageTemplate.Status.DRAFT
            notes.append(
                "The content changed, so the status is back to draft (the vendor approves it again)."
            )
    template.content, template.sample_values, template.format = content, sample_values, content["type"]
    if template.status != MessageTemplate.Status.REJECTED:
        template.rejection_reason = ""
    template.save()
    return notes


def template_clone(*, template: MessageTemplate, name: str, language: str | None = None) -> MessageTemplate:
    return MessageTemplate.objects.create(
        provider=template.provider,
        name=name,
        language=language or template.language,
        format=template.format,
        content=template.content,
        sample_values=list(template.sample_values),
        status=MessageTemplate.Status.DRAFT,
    )


def campaigns_using(template: MessageTemplate) -> list:
    return list(template.campaigns.all()) if hasattr(template, "campaigns") else []


@dataclass
class DeleteResult:
    cancelled: list[str]  # names of the campaigns stopped
    soft: bool  # kept (hidden) because campaigns refer to it


@transaction.atomic
def template_delete(*, template: MessageTemplate) -> DeleteResult:
    """Delete a template, cancelling the scheduled, sending or paused campaigns that use it.

    A template that campaigns refer to is hidden (deleted_at) instead of removed, so their history stays.
    """
    related = template.campaigns if hasattr(template, "campaigns") else None
    cancelled: list[str] = []
    soft = False
    if related is not None:
        active = related.select_for_update().filter(status__in=ACTIVE_CAMPAIGN_STATUSES)
        cancelled = list(active.values_list("name", flat=True))
        active.update(status=CANCELLED, finished_at=timezone.now())
        soft = related.exists()
    if soft:
        template.deleted_at = timezone.now()
        template.save(update_fields=["deleted_at", "updated_at"])
    else:
        template.delete()
    return DeleteResult(cancelled=cancelled, soft=soft)


# -- payload preview ----------------------------------------------------------------------------------
def preview_message(*, content: dict[str, Any], values: list[str], provider: Provider, msg_id: str, to: str):
    return OutboundMessage(
        msg_id=msg_id, to=to, content=render_content(content, values), callback_url=provider.callback_url
    )


def preview_request(*, provider: Provider, content: dict[str, Any], values: list[str]) -> dict[str, Any]:
    """The request the provider's kind builds for this content with these values (no auth headers)."""
    message = preview_message(
        content=content, values=values, provider=provider, msg_id="preview", to=PREVIEW_NUMBER
    )
    kind = provider.kind_class(provider)
    return sending.masked(kind.build_request(message), kind)


# -- send test ------------------------------------------------------------------------------------------
def test_send_create(
    *, template: MessageTemplate, to: str, values: list[str], user: User | None
) -> TemplateTestSend:
    """Record a test send and enqueue it (after commit); the task does the HTTP request."""
    from django_q.tasks import async_task

    test = TemplateTestSend.objects.create(
        template=template, to=to, values=values, msg_id=f"tt-{uuid.uuid4().hex}", created_by=user
    )
    transaction.on_commit(lambda: async_task("templates_app.tasks.send_test", test.pk))
    audit_action(template, "send_test", to=to, test_send_id=test.pk)
    return test


def test_send_run(*, test_send_id: int) -> TemplateTestSend:
    """Send one test message through the one Send Test (providers.services.run_test_send: the same
    redaction and error handling as a provider's) and store the request and the vendor's answer."""
    from providers.services import run_test_send

    test = TemplateTestSend.objects.select_related("template__provider").get(pk=test_send_id)
    if test.status != TemplateTestSend.Status.QUEUED:
        return test  # idempotent: a re-run of the task does not send twice
    provider = test.template.provider
    result = run_test_send(
        provider,
        lambda: preview_message(
            content=test.template.content,
            values=test.values,
            provider=provider,
            msg_id=test.msg_id,
            to=test.to,
        ),
    )
    test.request = result.request
    test.status_code = result.status_code
    test.response_body = result.response_body[:5000]
    # (a send that raised is failed, with its redacted message: never left queued)
    test.status = {"sent": "sent", "failed": "failed", "error": "failed"}.get(result.outcome, "retry")
    test.error = " ".join(x for x in (result.error_code, result.error_message) if x)[:500]
    test.sent_at = timezone.now()
    test.save()
    return test

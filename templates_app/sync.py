"""Refresh templates' approval status from the vendor (kinds with a template status endpoint)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from providers.models import Provider
from rcsconnect.http import outbound_session

from .models import MessageTemplate

BATCH = 50  # names per status request


@dataclass
class StatusRow:
    label: str
    action: str  # updated | unchanged | error
    detail: str = ""


def template_statuses_refresh(*, provider: Provider) -> list[StatusRow]:
    """Ask the vendor for the status of every template of provider; one failure does not stop the others."""
    kind = provider.kind_class(provider)
    templates = list(MessageTemplate.objects.filter(provider=provider).order_by("name", "language"))
    if not getattr(kind, "supports_template_status", False):
        return [
            StatusRow(_label(t), "error", f"{kind.name} has no template status endpoint.") for t in templates
        ]
    names = sorted({t.name for t in templates})
    found, failed = {}, {}
    with outbound_session() as session:
        for start in range(0, len(names), BATCH):
            batch = names[start : start + BATCH]
            try:
                for status in kind.template_statuses(session, batch):
                    found[status.name] = status
            except Exception as exc:  # noqa: BLE001 - any vendor failure is reported per template
                failed.update({name: f"{type(exc).__name__}: {exc}"[:300] for name in batch})
    rows = []
    now = timezone.now()
    for template in templates:
        rows.append(_apply(template, found.get(template.name), failed.get(template.name), now))
    return rows


def _apply(template: MessageTemplate, status, failure: str | None, now) -> StatusRow:
    label = _label(template)
    if failure:
        return StatusRow(label, "error", failure)
    if status is None:
        return StatusRow(label, "error", "The vendor does not know this template.")
    if status.status not in MessageTemplate.Status.values:
        return StatusRow(label, "error", f"Unknown status {status.status!r} from the vendor.")
    reason = (status.reason or "")[:500] if status.status == MessageTemplate.Status.REJECTED else ""
    changed = (template.status, template.rejection_reason) != (status.status, reason)
    MessageTemplate.objects.filter(pk=template.pk).update(
        status=status.status, rejection_reason=reason, status_checked_at=now
    )
    if not changed:
        return StatusRow(label, "unchanged", status.status)
    detail = f"{template.status} -> {status.status}" + (f" ({reason})" if reason else "")
    return StatusRow(label, "updated", detail)


def _label(template: MessageTemplate) -> str:
    return f"{template.provider.nickname} / {template.name} / {template.language}"

"""Refresh templates' approval status from the vendor (kinds with a template status endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from providers.kinds.base import ProviderKind, TemplateStatus, TemplateStatusError
from providers.models import Provider
from rcsconnect.http import outbound_session

from .models import MessageTemplate

if TYPE_CHECKING:
    import requests

BATCH = 50  # names per status request
NO_REASON = "Rejected by the vendor (no reason given)."


class TemplateStatusUnavailable(Exception):
    """The provider cannot be asked for template statuses (its kind has no endpoint, or none is set)."""


@dataclass
class StatusRow:
    label: str
    action: str  # updated | unchanged | error
    detail: str = ""


def template_statuses_refresh(*, provider: Provider) -> list[StatusRow]:
    """Ask the vendor for the status of every template of provider; one failure does not stop the others.

    Raises TemplateStatusUnavailable (before any request) when the provider has no status endpoint.
    """
    kind = provider.kind_class(provider)
    if problem := kind.template_status_unavailable():
        raise TemplateStatusUnavailable(problem)
    templates = list(
        MessageTemplate.objects.filter(provider=provider)
        .select_related("provider")
        .order_by("name", "language")
    )
    names = sorted({t.name for t in templates})
    found: dict[str, TemplateStatus] = {}
    failed: dict[str, str] = {}
    with outbound_session() as session:
        for start in range(0, len(names), BATCH):
            _ask(kind, session, names[start : start + BATCH], found, failed)
    rows = []
    now = timezone.now()
    for template in templates:
        rows.append(_apply(template, found.get(template.name), failed.get(template.name), now))
    return rows


def _ask(
    kind: ProviderKind,
    session: requests.Session,
    batch: list[str],
    found: dict[str, TemplateStatus],
    failed: dict[str, str],
) -> None:
    """One status request for batch; when the vendor refuses a batch, ask for its names one by one."""
    try:
        for status in kind.template_statuses(session, batch):
            found[status.name] = status
    except TemplateStatusError as exc:
        if len(batch) > 1:
            for name in batch:  # one template the vendor chokes on must not fail the others
                _ask(kind, session, [name], found, failed)
        else:
            failed[batch[0]] = str(exc)[:300]
    except Exception as exc:  # noqa: BLE001 - any vendor failure is reported per template
        failed.update({name: f"{type(exc).__name__}: {exc}"[:300] for name in batch})


def _apply(template: MessageTemplate, status, failure: str | None, now) -> StatusRow:
    label = _label(template)
    if failure:
        return StatusRow(label, "error", failure)
    if status is None:
        return StatusRow(label, "error", "The vendor does not know this template.")
    if status.status not in MessageTemplate.Status.values:
        return StatusRow(label, "error", f"Unknown status {status.status!r} from the vendor.")
    reason = (status.reason or NO_REASON)[:500] if status.status == MessageTemplate.Status.REJECTED else ""
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

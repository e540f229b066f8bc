"""Export and import templates as JSON. An import is all or nothing: one invalid template saves none."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from providers.models import Provider

from .limits import name_errors
from .models import MessageTemplate
from .validation import content_errors

EXPORT_FORMAT = "rcsconnect.templates"
EXPORT_VERSION = 1
FIELDS = ("name", "language", "format", "status", "rejection_reason", "content", "sample_values")


def template_to_dict(template: MessageTemplate) -> dict[str, Any]:
    data = {"provider": template.provider.nickname}
    data.update({f: getattr(template, f) for f in FIELDS})
    return data


def templates_export(templates) -> dict[str, Any]:
    """A JSON-ready document holding the given templates (any iterable of MessageTemplate)."""
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "templates": [template_to_dict(t) for t in templates],
    }


@dataclass
class Problem:
    index: int  # position in the file, from 1
    label: str  # "provider / name / language" as far as known
    path: str  # field ("name", "content.cards.1.title", ...), "" for the whole template
    message: str

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"#{self.index} {self.label}:{where} {self.message}"


@dataclass
class ImportRow:
    index: int
    label: str
    action: str  # created | updated | unchanged | error | skipped
    detail: str = ""


@dataclass
class ImportResult:
    rows: list[ImportRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    saved: bool = False

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


def _entries(document: Any) -> list[Any] | None:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and "templates" in document:
        return document["templates"] if isinstance(document["templates"], list) else None
    if isinstance(document, dict):
        return [document]  # a single template
    return None


def _check(index: int, entry: Any, providers: dict[str, Provider]) -> tuple[str, list[Problem], dict | None]:
    if not isinstance(entry, dict):
        return "?", [Problem(index, "?", "", "A template must be a JSON object.")], None
    nickname = str(entry.get("provider", ""))
    name, language = str(entry.get("name", "")), str(entry.get("language") or "en")
    label = f"{nickname or '?'} / {name or '?'} / {language}"
    problems: list[Problem] = []

    def problem(path: str, message: str) -> None:
        problems.append(Problem(index, label, path, message))

    provider = providers.get(nickname)
    if provider is None:
        problem("provider", f"No provider with nickname {nickname!r}.")
    for message in name_errors(name):
        problem("name", message)
    if not 1 <= len(language) <= 10:
        problem("language", "Use a language code of 1 to 10 characters.")
    content = entry.get("content")
    samples = entry.get("sample_values") or []
    if not isinstance(samples, list) or not all(isinstance(v, str | int | float) for v in samples):
        problem("sample_values", "Sample values must be a list of strings.")
        samples = []
    samples = [str(v) for v in samples]
    errors, _ = content_errors(content if isinstance(content, dict) else None, samples)
    for path, messages in errors.items():
        for message in messages:
            if path.startswith("samples."):
                problem(f"sample_values.{path.split('.')[1]}", message)
            else:
                problem(f"content.{path}" if path else "content", message)
    fmt = entry.get("format") or (content or {}).get("type") if isinstance(content, dict) else None
    if isinstance(content, dict) and fmt != content.get("type"):
        problem("format", f"Format {fmt!r} does not match the content type {content.get('type')!r}.")
    status = entry.get("status") or MessageTemplate.Status.DRAFT
    if status not in MessageTemplate.Status.values:
        problem("status", f"Use one of {', '.join(MessageTemplate.Status.values)}.")
    reason = str(entry.get("rejection_reason") or "")
    if len(reason) > 500:
        problem("rejection_reason", "At most 500 characters.")
    if problems:
        return label, problems, None
    values = {
        "format": fmt,
        "content": content,
        "sample_values": samples,
        "status": status,
        "rejection_reason": reason if status == MessageTemplate.Status.REJECTED else "",
    }
    return label, [], {"provider": provider, "name": name, "language": language, "values": values}


def templates_import(document: Any, *, partial: bool = False) -> ImportResult:
    """Create or update (by provider + name + language) every template in document.

    Every template is checked and every problem listed. Unless partial, nothing is saved when any
    template has a problem; with partial, the valid ones are saved and the others reported.
    Importing the same document twice changes nothing the second time.
    """
    result = ImportResult()
    entries = _entries(document)
    if entries is None:
        result.problems.append(
            Problem(0, "file", "", 'Expected {"templates": [...]}, a list or one template.')
        )
        return result
    nicknames = {str(e.get("provider", "")) for e in entries if isinstance(e, dict)}
    providers = {p.nickname: p for p in Provider.objects.filter(nickname__in=nicknames)}
    checked, seen = [], {}
    for index, entry in enumerate(entries, start=1):
        label, problems, clean = _check(index, entry, providers)
        if clean:
            key = (clean["provider"].pk, clean["name"], clean["language"])
            if key in seen:
                problems = [
                    Problem(index, label, "name", f"Same provider, name and language as #{seen[key]}.")
                ]
                clean = None
            else:
                seen[key] = index
        result.problems.extend(problems)
        checked.append((index, label, problems, clean))
    if result.problems and not partial:
        result.rows = [
            ImportRow(
                i, label, "error" if problems else "skipped", "; ".join(str(p.message) for p in problems)
            )
            for i, label, problems, _ in checked
        ]
        return result
    with transaction.atomic():
        for index, label, problems, clean in checked:
            if not clean:
                result.rows.append(ImportRow(index, label, "error", "; ".join(p.message for p in problems)))
                continue
            result.rows.append(ImportRow(index, label, *_upsert(clean)))
    result.saved = True
    return result


def _upsert(clean: dict) -> tuple[str, str]:
    values = clean["values"]
    template = (
        MessageTemplate.objects.select_for_update()
        .filter(provider=clean["provider"], name=clean["name"], language=clean["language"])
        .first()
    )
    if template is None:
        MessageTemplate.objects.create(
            provider=clean["provider"], name=clean["name"], language=clean["language"], **values
        )
        return "created", ""
    changed = [k for k, v in values.items() if getattr(template, k) != v]
    if not changed:
        return "unchanged", ""
    for key in changed:
        setattr(template, key, values[key])
    template.save()
    return "updated", ", ".join(changed)

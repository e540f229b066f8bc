"""Sync templates with a JSON file and/or refresh their approval status from a vendor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from providers.models import Provider
from templates_app.models import MessageTemplate
from templates_app.sync import TemplateStatusUnavailable, template_statuses_refresh
from templates_app.transfer import templates_export, templates_import


class Command(BaseCommand):
    help = (
        "Import templates from a JSON file (--from-file), refresh approval status from a provider's vendor "
        "(--provider NICKNAME), and/or export templates to a JSON file (--to-file), in that order. "
        "Idempotent; prints a summary table; exits 1 when any template failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from-file", help="JSON file to import (created or updated by provider+name+language)."
        )
        parser.add_argument(
            "--partial",
            action="store_true",
            help="With --from-file: save the valid templates even when others are invalid (default: none).",
        )
        parser.add_argument(
            "--provider", help="Refresh the status of this provider's templates from its vendor."
        )
        parser.add_argument("--to-file", help="Write templates to this JSON file ('-' for stdout).")
        parser.add_argument("--only-provider", help="With --to-file: export only this provider's templates.")

    def handle(self, *args, **options):
        if not any(options.get(k) for k in ("from_file", "provider", "to_file")):
            raise CommandError("Give at least one of --from-file, --provider, --to-file.")
        rows: list[tuple[str, str, str, str]] = []
        if options["from_file"]:
            rows += self._import(options["from_file"], options["partial"])
        if options["provider"]:
            rows += self._refresh(self._provider(options["provider"]))
        if options["to_file"]:
            rows += self._export(options["to_file"], options.get("only_provider"))
        self._table(rows)
        failed = sum(1 for r in rows if r[2] == "error")
        if failed:
            self.stderr.write(self.style.ERROR(f"{failed} row(s) failed."))
            sys.exit(1)

    def _provider(self, nickname: str) -> Provider:
        try:
            return Provider.objects.get(nickname=nickname)
        except Provider.DoesNotExist:
            raise CommandError(f"No provider with nickname {nickname!r}.") from None

    def _refresh(self, provider: Provider):
        try:
            result = template_statuses_refresh(provider=provider)
        except TemplateStatusUnavailable as exc:
            # One row for the provider: nothing was asked, so no template is marked as failed.
            return [("status", f"{provider.nickname} (all templates)", "error", str(exc))]
        return [("status", r.label, r.action, r.detail) for r in result]

    def _import(self, path: str, partial: bool):
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        result = templates_import(document, partial=partial)
        if not result.rows:
            return [("import", "file", "error", str(p)) for p in result.problems]
        if not result.saved:
            self.stderr.write(
                self.style.ERROR("Nothing imported: fix the problems below (or use --partial).")
            )
            for problem in result.problems:
                self.stderr.write(f"  {problem}")
        return [("import", r.label, r.action, r.detail) for r in result.rows]

    def _export(self, path: str, nickname: str | None):
        templates = MessageTemplate.objects.select_related("provider").order_by(
            "provider__nickname", "name", "language"
        )
        if nickname:
            templates = templates.filter(provider=self._provider(nickname))
        text = json.dumps(templates_export(templates), indent=2, ensure_ascii=False) + "\n"
        if path == "-":
            self.stdout.write(text)
        else:
            target = Path(path)
            unchanged = target.exists() and target.read_text(encoding="utf-8") == text
            if not unchanged:
                target.write_text(text, encoding="utf-8")
        action = "unchanged" if path != "-" and unchanged else "written"
        return [
            ("export", f"{t.provider.nickname} / {t.name} / {t.language}", action, path) for t in templates
        ]

    def _table(self, rows):
        if not rows:
            self.stdout.write("No templates.")
            return
        header = ("step", "template", "result", "detail")
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(3)]
        line = "  ".join(f"{{:{w}}}" for w in widths) + "  {}"
        self.stdout.write(line.format(*header))
        for row in rows:
            self.stdout.write(line.format(*row))
        totals = {}
        for row in rows:
            totals[row[2]] = totals.get(row[2], 0) + 1
        self.stdout.write("Total: " + ", ".join(f"{n} {a}" for a, n in sorted(totals.items())))

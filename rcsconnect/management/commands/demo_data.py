"""Create (or refresh) the demo login and the demo records; prints "<username> <password>"."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

from rcsconnect.demo import load_demo_records
from rcsconnect.form_errors import Refused


def default_password_file() -> Path:
    return Path(settings.BASE_DIR) / "var" / "demo-password"


def demo_password(user: User, path: Path, *, rotate: bool) -> str:
    """The demo login's password: the one kept in `path` while it still opens `user`, else a new one.

    Keeping it means `make run` does not log out open sessions or print a new login every start;
    `rotate` forces a new one. The file is git-ignored (var/) and readable by its owner only.
    """
    if not rotate and path.exists():
        kept = path.read_text().strip()
        if kept and user.check_password(kept):
            return kept
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


class Command(BaseCommand):
    help = "Create the demo admin login (password kept across runs in var/) and the demo providers and data."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-port", type=int, default=8025)
        parser.add_argument("--rotate-password", action="store_true", help="New demo login password.")
        parser.add_argument("--password-file", type=Path, default=None, help="Default: var/demo-password.")

    def handle(
        self, *args, simulator_port: int, rotate_password: bool, password_file: Path | None, **options
    ) -> str:
        user, _ = User.objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        user.is_staff = user.is_superuser = True
        password = demo_password(user, password_file or default_password_file(), rotate=rotate_password)
        user.save()
        user.groups.add(Group.objects.get(name="Marketer"))
        try:
            load_demo_records(simulator_url=f"http://127.0.0.1:{simulator_port}", stdout=self.stdout)
        except Refused as exc:  # the form's own rules and messages (the validation services)
            raise CommandError(str(exc)) from exc
        return f"demo {password}"

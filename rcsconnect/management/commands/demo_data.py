"""Create (or refresh) the demo login and the demo records; prints "<username> <password>"."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand

from rcsconnect.demo import load_demo_records


class Command(BaseCommand):
    help = "Create the demo admin login (new password every run) and the demo providers and data."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-port", type=int, default=8025)

    def handle(self, *args, simulator_port: int, **options) -> str:
        password = secrets.token_urlsafe(9)
        user, _ = User.objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name="Marketer"))
        load_demo_records(simulator_url=f"http://127.0.0.1:{simulator_port}", stdout=self.stdout)
        return f"demo {password}"

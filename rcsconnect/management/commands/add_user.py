"""Create a user with a role and print a generated password (operators' shortcut)."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create a user: --role admin (superuser), marketer (dashboard) or support (admin site, read-mostly)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=["admin", "marketer", "support"], default="marketer")
        parser.add_argument("--email", default="")

    def handle(self, *args, username: str, role: str, email: str, **options):
        if User.objects.filter(username=username).exists():
            raise CommandError(f"User {username!r} already exists.")
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(username, email=email, password=password)
        user.is_staff = role in ("admin", "support")
        user.is_superuser = role == "admin"
        user.save()
        if role != "admin":
            user.groups.add(Group.objects.get(name=role.capitalize()))
        self.stdout.write(f"{username} ({role}) password: {password}")

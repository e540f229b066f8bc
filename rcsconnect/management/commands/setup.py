"""`manage.py setup`: what an operator runs after every install or upgrade, in one command.

migrate (which also creates the database cache table, see rcsconnect.apps), createcachetable (again, for
a cache added to settings since), collectstatic, then the deploy checks' report. Safe to repeat.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, create the cache table, collect static files: run after every install or upgrade."

    def add_arguments(self, parser):
        parser.add_argument("--no-static", action="store_true", help="Skip collectstatic.")

    def handle(self, *args, no_static: bool, **options):
        verbosity = options["verbosity"]
        self.stdout.write("migrate")
        call_command("migrate", interactive=False, verbosity=max(verbosity - 1, 0))
        self.stdout.write("createcachetable")
        call_command("createcachetable", verbosity=max(verbosity - 1, 0))
        if not no_static:
            self.stdout.write(f"collectstatic into {settings.STATIC_ROOT}")
            call_command("collectstatic", interactive=False, verbosity=max(verbosity - 1, 0))
        self.stdout.write(
            self.style.SUCCESS("Set up: the database, its cache table and static files are current.")
        )

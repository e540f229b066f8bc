from django.apps import AppConfig


def create_cache_table(using: str = "default", verbosity: int = 0, **kwargs) -> None:
    """After every migrate: the database cache's table (a no-op with Redis or when it exists), so the
    task cluster never runs against a missing `rcs_cache`."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class RcsConnectConfig(AppConfig):
    name = "rcsconnect"
    verbose_name = "rcsconnect"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401  (registers system checks)
        from .roles import sync_role_permissions

        post_migrate.connect(sync_role_permissions, dispatch_uid="rcsconnect.roles")
        post_migrate.connect(create_cache_table, sender=self, dispatch_uid="rcsconnect.cache_table")

        from .audit import register_models

        register_models()

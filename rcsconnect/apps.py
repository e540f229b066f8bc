from django.apps import AppConfig


class RcsConnectConfig(AppConfig):
    name = "rcsconnect"
    verbose_name = "rcsconnect"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401  (registers system checks)
        from .roles import sync_role_permissions

        post_migrate.connect(sync_role_permissions, dispatch_uid="rcsconnect.roles")

        from .audit import register_models

        register_models()

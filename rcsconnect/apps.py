from django.apps import AppConfig


class RcsConnectConfig(AppConfig):
    name = "rcsconnect"
    verbose_name = "rcsconnect"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "rcsconnect.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

"""A Provider is one configured vendor (BSP) account of a given kind (Generic RCS, JioCX, ...).

Fields every kind shares are columns; what only one kind needs lives in `config` (plain JSON) and
`secrets` (encrypted JSON), described by the kind's declared fields (see `providers.kinds.base`).
"""

from __future__ import annotations

import secrets as pysecrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from rcsconnect.fields import EncryptedJSONField

MAX_RATE_CEILING = 4600  # WIRE.md 5: custom concurrency / rate ceiling


def new_callback_token() -> str:
    return pysecrets.token_urlsafe(32)


class ProviderQuerySet(models.QuerySet):
    def active(self) -> ProviderQuerySet:
        return self.filter(enabled=True, archived_at__isnull=True)

    def default(self) -> Provider | None:
        return self.filter(is_default=True).first()


class Provider(models.Model):
    class Health(models.TextChoices):
        HEALTHY = "healthy", "Healthy"
        DEGRADED = "degraded", "Degraded"
        UNHEALTHY = "unhealthy", "Unhealthy"

    kind = models.CharField(max_length=40, help_text="Provider kind slug from the registry.")
    nickname = models.CharField(max_length=80, unique=True)
    sender_id = models.CharField("RCS sender ID / agent ID", max_length=200)
    is_default = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    concurrency = models.PositiveIntegerField(
        null=True, blank=True, help_text="Maximum requests in flight; blank uses the platform default."
    )
    max_rate = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=f"Requests per second, 1 to {MAX_RATE_CEILING}; blank uses the default.",
    )

    # Kind-specific settings (endpoint, method, auth type, headers, body parameters, ...).
    config = models.JSONField(default=dict, blank=True)
    # Kind-specific secrets (password, client secret, API key): encrypted, write-only in every UI.
    secrets = EncryptedJSONField(default=dict, blank=True)

    sms_fallback = models.BooleanField("SMS fallback", default=False)
    sms_sender_id = models.CharField("SMS sender ID", max_length=40, blank=True)
    sms_params = models.JSONField("SMS body parameters", default=list, blank=True)
    india = models.BooleanField("India (DLT)", default=False)
    principal_entity_id = models.CharField("Principal Entity ID", max_length=40, blank=True)
    dlt_template_ids = models.JSONField("DLT template IDs", default=list, blank=True)

    callback_token = models.CharField(max_length=64, unique=True, default=new_callback_token, editable=False)
    # Optional stronger callback checks; each holds up to two values so secrets can be rotated.
    callback_hmac_secrets = EncryptedJSONField(default=list, blank=True)
    callback_basic_credentials = EncryptedJSONField(default=list, blank=True)
    # WIRE.md 3 "Replay window": refuse signed callbacks that do not carry X-RCS-Timestamp.
    callback_require_timestamp = models.BooleanField("Require X-RCS-Timestamp on callbacks", default=False)

    health = models.CharField(max_length=12, choices=Health.choices, default=Health.HEALTHY)
    health_reason = models.CharField(max_length=300, blank=True)
    health_changed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["nickname"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="providers_one_default"
            ),
            models.CheckConstraint(
                condition=Q(max_rate__isnull=True) | Q(max_rate__gte=1, max_rate__lte=MAX_RATE_CEILING),
                name="providers_max_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(concurrency__isnull=True)
                | Q(concurrency__gte=1, concurrency__lte=MAX_RATE_CEILING),
                name="providers_concurrency_range",
            ),
        ]

    def __str__(self) -> str:
        return self.nickname

    def get_absolute_url(self) -> str:
        return reverse("providers:detail", args=[self.pk])

    @property
    def kind_class(self):
        from .kinds import registry

        return registry.get(self.kind)

    @property
    def is_active(self) -> bool:
        return self.enabled and self.archived_at is None

    @property
    def callback_url(self) -> str:
        return settings.PUBLIC_BASE_URL + reverse("callback", args=[self.callback_token])

    @property
    def effective_concurrency(self) -> int:
        return self.concurrency or settings.RCS_DEFAULT_CONCURRENCY

    @property
    def effective_rate(self) -> int:
        return self.max_rate or settings.RCS_DEFAULT_RATE

    def set_health(self, health: str, reason: str = "") -> None:
        if self.health == health and self.health_reason == reason[:300]:
            return
        self.health, self.health_reason, self.health_changed_at = health, reason[:300], timezone.now()
        Provider.objects.filter(pk=self.pk).update(
            health=self.health, health_reason=self.health_reason, health_changed_at=self.health_changed_at
        )


class CallbackLog(models.Model):
    """Every callback body as received, stored before it is processed (replayable)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="callback_logs")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    body = models.TextField()  # as text; the exact bytes in `raw` when text cannot hold them
    raw = models.BinaryField(null=True, blank=True, editable=False)
    content_type = models.CharField(max_length=100, blank=True)
    remote_addr = models.CharField(max_length=64, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"callback {self.pk} from {self.provider}"

    def raw_body(self) -> bytes:
        """The body exactly as received."""
        return bytes(self.raw) if self.raw is not None else self.body.encode()


class ProviderEvent(models.Model):
    """A normalised delivery / engagement event reported by a vendor (append-only, deduplicated).

    `applied` turns true once the event has been applied to its message; events for a msgId we do
    not know yet stay unapplied and are applied when the message appears.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="events")
    callback = models.ForeignKey(CallbackLog, null=True, blank=True, on_delete=models.SET_NULL)
    msg_id = models.CharField(max_length=120, db_index=True)
    channel = models.CharField(max_length=3)
    status = models.CharField(max_length=10)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)
    # Hash of (provider, msg_id, channel, status, distinguishing data): a repeated event is ignored.
    dedupe_key = models.CharField(max_length=64, unique=True)
    applied = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["msg_id"], condition=Q(applied=False), name="events_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.msg_id} {self.channel} {self.status}"


class SendTest(models.Model):
    """One Send Test from the dashboard: the masked request, the vendor's answer, its classification.

    Callback events for it are the ProviderEvent rows with the same provider and msg_id.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"
        ERROR = "error", "Error"

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="send_tests")
    msg_id = models.CharField(max_length=60, unique=True)
    to = models.CharField(max_length=20)
    rcs_text = models.TextField("RCS message")
    sms_text = models.TextField("SMS fallback message", blank=True)
    template_name = models.CharField("Template ID", max_length=100, blank=True)
    principal_entity_id = models.CharField("Principal Entity ID", max_length=40, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    request = models.JSONField(default=dict, blank=True)  # masked: method, url, headers, json
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    vendor_id = models.CharField(max_length=200, blank=True)
    elapsed_ms = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"send test {self.msg_id} to {self.to}"

    def events(self) -> models.QuerySet[ProviderEvent]:
        return ProviderEvent.objects.filter(provider_id=self.provider_id, msg_id=self.msg_id).order_by("id")

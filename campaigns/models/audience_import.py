from __future__ import annotations

from django.db import models

from .audience import Audience


class AudienceImport(models.Model):
    """One CSV upload into an audience, processed by a background task (campaigns.imports)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=200, blank=True)
    # Region used for numbers written without a leading + (ISO 3166 code, e.g. "IN"); blank: + required.
    default_region = models.CharField(max_length=2, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    size_bytes = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    imported_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    # CSV of every rejected row: line number, reason, the raw number.
    report = models.FileField(upload_to="imports/reports/%Y/%m/", blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"import {self.pk} into {self.audience}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.bytes_read / self.size_bytes) if self.size_bytes else 0

    @property
    def rejected_count(self) -> int:
        return self.invalid_count + self.duplicate_count

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

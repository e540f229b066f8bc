from __future__ import annotations

from django.db import models
from django.urls import reverse


class Audience(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:audience_detail", args=[self.pk])

    def attribute_names(self, sample: int = 500) -> list[str]:
        """The attribute names of the audience's contacts (from the first `sample` of them), sorted."""
        names: set[str] = set()
        for attributes in self.contacts.order_by("id").values_list("attributes", flat=True)[:sample]:
            names.update(str(k) for k in (attributes or {}))
        return sorted(names)


class Contact(models.Model):
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="contacts")
    phone = models.CharField(max_length=20, help_text="E.164 with a leading +.")
    # Free attributes used for placeholders ({"first_name": "Asha", "order": "A-17"}).
    attributes = models.JSONField(default=dict, blank=True)
    subscribed = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["audience", "phone"], name="contacts_unique_phone")]
        indexes = [models.Index(fields=["phone"], name="contacts_phone")]

    def __str__(self) -> str:
        return self.phone

    @property
    def name(self) -> str:
        """The contact's name from its attributes (name, full_name, or first and last name), or ""."""
        attrs = {str(k).lower(): str(v).strip() for k, v in (self.attributes or {}).items() if v}
        if attrs.get("name") or attrs.get("full_name"):
            return attrs.get("name") or attrs["full_name"]
        return " ".join(p for p in (attrs.get("first_name", ""), attrs.get("last_name", "")) if p)

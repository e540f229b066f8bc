from django.conf import settings
from django.db import models


class Profile(models.Model):
    """Per-user settings of the dashboard."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # IANA name; "" until the browser or the user sets it (pages then show UTC).
    timezone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user} ({self.timezone or 'UTC'})"

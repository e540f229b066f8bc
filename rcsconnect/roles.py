"""Roles as Django groups: admin is a superuser; Marketer and Support get these permissions.

The groups are created by a data migration; their permissions are (re)synced after every migrate,
because permissions for models added later only exist once their app has migrated.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

# app_label -> actions, per role. Models not listed get nothing.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # The dashboard: build providers, templates, audiences and campaigns; read messages and events.
    "Marketer": {
        "providers": ("add", "change", "delete", "view"),
        "templates_app": ("add", "change", "delete", "view"),
        "campaigns": ("add", "change", "delete", "view"),
    },
    # The admin site, read-mostly: view everything, change only what the safe actions touch
    # (retry/resend messages, disable/enable or mark a provider default).
    "Support": {
        "providers": ("view",),
        "templates_app": ("view",),
        "campaigns": ("view",),
    },
}
SUPPORT_CHANGE = (("providers", "provider"), ("campaigns", "message"), ("campaigns", "campaign"))


def sync_role_permissions(**kwargs) -> None:
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        query = Q(pk__in=[])
        for app_label, actions in grants.items():
            for action in actions:
                query |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
        if role == "Support":
            for app_label, model in SUPPORT_CHANGE:
                query |= Q(content_type__app_label=app_label, codename=f"change_{model}")
        group.permissions.set(Permission.objects.filter(query))

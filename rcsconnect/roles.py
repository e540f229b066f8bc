"""Who may do what: the one permissions table.

Roles are Django groups (an admin is a superuser). `ROLE_PERMISSIONS` gives each role its Django
permissions; `ROUTES` names, for every named route, the permission each HTTP method needs. The dashboard
middleware, the API permission class and the admin site all read these two tables, and a test walks the
URLconf so a route without an entry fails.

The groups are created by a data migration; their permissions are (re)synced after every migrate,
because permissions for models added later only exist once their app has migrated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

MARKETER, SUPPORT = "Marketer", "Support"

# Permissions no model declares: the safe operations Support may run (created by sync_role_permissions).
CUSTOM_PERMISSIONS: dict[tuple[str, str], dict[str, str]] = {
    ("providers", "provider"): {"operate_provider": "Can enable, disable and mark a provider default"},
    ("campaigns", "message"): {"repeat_message": "Can retry a failed message and resend a sent one"},
}

# role -> app_label -> actions (`view`, `add`, ...) on every model of the app, plus extra "app.codename"s.
ROLE_PERMISSIONS: dict[str, dict[str, Any]] = {
    # The dashboard and the API: build providers, templates, audiences and campaigns; inbox and stats.
    MARKETER: {
        "apps": {
            "providers": ("add", "change", "delete", "view"),
            "templates_app": ("add", "change", "delete", "view"),
            "campaigns": ("add", "change", "delete", "view"),
            "webhooks": ("add", "change", "delete", "view"),
        },
        "extra": ("providers.operate_provider", "campaigns.repeat_message"),
    },
    # The admin site, read-only, plus the safe actions; the API and dashboard read-only.
    SUPPORT: {
        "apps": {
            "providers": ("view",),
            "templates_app": ("view",),
            "campaigns": ("view",),
            "webhooks": ("view",),
        },
        "extra": ("providers.operate_provider", "campaigns.repeat_message"),
    },
}
# Roles that may open the admin site (superusers always may).
ADMIN_SITE_ROLES = (SUPPORT,)


# -- the route table ------------------------------------------------------------------------------------

PUBLIC = "public"  # no login needed (vendors, recipients, the login page)
LOGGED_IN = "logged in"  # any logged-in user, role or not (logging out)
ANY_ROLE = "any role"  # a logged-in user with a role, reading
SUPERUSER = "superuser"  # only an admin
ADMIN_SITE = "admin site"  # the admin site decides (ADMIN_SITE_ROLES, then each ModelAdmin's model perms)

READ_METHODS = ("GET", "HEAD", "OPTIONS")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Rule:
    """`read` for GET/HEAD/OPTIONS, `write` for POST/PUT/PATCH/DELETE (None: only an admin)."""

    read: str | None
    write: str | None = None
    patch: str | None = None  # PUT/PATCH when it differs from write
    delete: str | None = None  # DELETE when it differs from write

    def for_method(self, method: str) -> str | None:
        if method in READ_METHODS:
            return self.read
        if method in ("PUT", "PATCH") and self.patch:
            return self.patch
        if method == "DELETE" and self.delete:
            return self.delete
        return self.write


@dataclass(frozen=True)
class ByArg:
    """The rule depends on a URL argument (`action` in /providers/<id>/<action>/); unknown: admin only."""

    arg: str
    rules: dict[str, Rule]

    def rule(self, kwargs: dict) -> Rule:
        return self.rules.get(str(kwargs.get(self.arg)), Rule(None, None))


def _model(perm_app: str, model: str) -> Rule:
    """A REST collection or object: view to read, add to create, change to edit, delete to delete."""
    return Rule(f"{perm_app}.view_{model}", f"{perm_app}.add_{model}")


def _object(perm_app: str, model: str) -> Rule:
    return Rule(
        f"{perm_app}.view_{model}",
        None,
        patch=f"{perm_app}.change_{model}",
        delete=f"{perm_app}.delete_{model}",
    )


def _post(perm: str, read: str | None = None) -> Rule:
    return Rule(read, perm)


VIEW_PROVIDER, CHANGE_PROVIDER = "providers.view_provider", "providers.change_provider"
ADD_PROVIDER, DELETE_PROVIDER = "providers.add_provider", "providers.delete_provider"
OPERATE_PROVIDER = "providers.operate_provider"
VIEW_TEMPLATE, CHANGE_TEMPLATE = "templates_app.view_messagetemplate", "templates_app.change_messagetemplate"
ADD_TEMPLATE, DELETE_TEMPLATE = "templates_app.add_messagetemplate", "templates_app.delete_messagetemplate"
VIEW_CAMPAIGN, CHANGE_CAMPAIGN = "campaigns.view_campaign", "campaigns.change_campaign"
ADD_CAMPAIGN = "campaigns.add_campaign"
VIEW_AUDIENCE, ADD_AUDIENCE = "campaigns.view_audience", "campaigns.add_audience"
CHANGE_AUDIENCE = "campaigns.change_audience"
VIEW_SEGMENT, ADD_SEGMENT = "campaigns.view_segment", "campaigns.add_segment"
REPEAT_MESSAGE = "campaigns.repeat_message"  # retry a failed message, resend a sent one
VIEW_INBOX, ADD_INBOX = "campaigns.view_inboxmessage", "campaigns.add_inboxmessage"
VIEW_WEBHOOK, ADD_WEBHOOK = "webhooks.view_webhook", "webhooks.add_webhook"
CHANGE_WEBHOOK, DELETE_WEBHOOK = "webhooks.change_webhook", "webhooks.delete_webhook"

_PROVIDER_ACTIONS = {
    "default": _post(OPERATE_PROVIDER),
    "enable": _post(OPERATE_PROVIDER),
    "disable": _post(OPERATE_PROVIDER),
    "duplicate": _post(ADD_PROVIDER),
}
_CAMPAIGN_ACTIONS = {name: _post(CHANGE_CAMPAIGN) for name in ("launch", "pause", "resume", "cancel")}

ROUTES: dict[str, str | Rule | ByArg] = {
    # site
    "callback": PUBLIC,
    "short_link": PUBLIC,
    "healthz": PUBLIC,
    "favicon": PUBLIC,
    "login": PUBLIC,
    "logout": LOGGED_IN,
    "profile": LOGGED_IN,  # one's own settings (the timezone)
    "profile_timezone": LOGGED_IN,
    "contract_index": PUBLIC,
    "contract_schema": PUBLIC,
    "home": Rule(VIEW_CAMPAIGN),
    "admin:*": ADMIN_SITE,
    "audit_log": SUPERUSER,
    # providers
    "providers:list": Rule(VIEW_PROVIDER),
    "providers:create": Rule(ADD_PROVIDER, ADD_PROVIDER),
    "providers:create_kind": Rule(ADD_PROVIDER, ADD_PROVIDER),
    "providers:detail": Rule(VIEW_PROVIDER),
    "providers:edit": Rule(CHANGE_PROVIDER, CHANGE_PROVIDER),
    "providers:archive": Rule(CHANGE_PROVIDER, CHANGE_PROVIDER),
    "providers:delete": Rule(DELETE_PROVIDER, DELETE_PROVIDER),
    # Send Test uses the provider's endpoint and secrets: the people who may change them.
    "providers:send_test": Rule(CHANGE_PROVIDER, CHANGE_PROVIDER),
    "providers:send_test_result": Rule(VIEW_PROVIDER),
    "providers:action": ByArg("action", _PROVIDER_ACTIONS),
    # templates
    "templates_app:list": Rule(VIEW_TEMPLATE),
    "templates_app:create": Rule(ADD_TEMPLATE, ADD_TEMPLATE),
    "templates_app:payload": Rule(VIEW_TEMPLATE, VIEW_TEMPLATE),  # a preview: POST changes nothing
    "templates_app:export_many": Rule(VIEW_TEMPLATE),
    "templates_app:import": Rule(ADD_TEMPLATE, ADD_TEMPLATE),
    "templates_app:edit": Rule(VIEW_TEMPLATE, CHANGE_TEMPLATE),
    "templates_app:clone": Rule(ADD_TEMPLATE, ADD_TEMPLATE),
    "templates_app:delete": Rule(DELETE_TEMPLATE, DELETE_TEMPLATE),
    "templates_app:send_test": Rule(CHANGE_TEMPLATE, CHANGE_TEMPLATE),
    "templates_app:export": Rule(VIEW_TEMPLATE),
    # campaigns, audiences, inbox, stats
    "campaigns:list": Rule(VIEW_CAMPAIGN),
    "campaigns:create": Rule(ADD_CAMPAIGN, ADD_CAMPAIGN),
    "campaigns:mapping": Rule(ADD_CAMPAIGN),
    "campaigns:segments": Rule(ADD_CAMPAIGN),
    "campaigns:builder_live": Rule(ADD_CAMPAIGN),
    "campaigns:detail": Rule(VIEW_CAMPAIGN),
    "campaigns:edit": Rule(CHANGE_CAMPAIGN, CHANGE_CAMPAIGN),
    "campaigns:progress": Rule(VIEW_CAMPAIGN),
    "campaigns:variants": Rule(CHANGE_CAMPAIGN, CHANGE_CAMPAIGN),
    "campaigns:action": ByArg("action", _CAMPAIGN_ACTIONS),
    "campaigns:audience_list": Rule(VIEW_AUDIENCE, ADD_AUDIENCE),
    "campaigns:audience_detail": Rule(VIEW_AUDIENCE, CHANGE_AUDIENCE),
    "campaigns:import_progress": Rule(VIEW_AUDIENCE),
    "campaigns:import_report": Rule(VIEW_AUDIENCE),
    "campaigns:segment_list": Rule(VIEW_SEGMENT),
    "campaigns:segment_create": Rule(ADD_SEGMENT, ADD_SEGMENT),
    "campaigns:segment_count": Rule(VIEW_SEGMENT),
    "campaigns:segment_edit": Rule(VIEW_SEGMENT, "campaigns.change_segment"),
    "campaigns:segment_delete": Rule("campaigns.delete_segment", "campaigns.delete_segment"),
    "campaigns:inbox": Rule(VIEW_INBOX),
    "campaigns:inbox_thread": Rule(VIEW_INBOX),
    "campaigns:inbox_reply": Rule(ADD_INBOX, ADD_INBOX),
    "campaigns:stats": Rule(VIEW_CAMPAIGN),
    "campaigns:stats_campaign": Rule(VIEW_CAMPAIGN),
    "campaigns:stats_provider": Rule(VIEW_PROVIDER),
    # the API (the same permissions; DRF's authentication, so tokens count)
    "api:schema": ANY_ROLE,
    "api:docs": ANY_ROLE,
    "api:redoc": ANY_ROLE,
    "api:token": PUBLIC,
    "api:api-root": ANY_ROLE,
    "api:send": _post("campaigns.add_message"),
    "api:conversions": _post("campaigns.add_conversion"),
    "api:provider-stats": Rule(VIEW_PROVIDER),
    "api:provider-list": _model("providers", "provider"),
    "api:provider-detail": _object("providers", "provider"),
    "api:provider-archive": _post(CHANGE_PROVIDER),
    "api:provider-disable": _post(OPERATE_PROVIDER),
    "api:provider-enable": _post(OPERATE_PROVIDER),
    "api:provider-mark-default": _post(OPERATE_PROVIDER),
    "api:template-list": _model("templates_app", "messagetemplate"),
    "api:template-detail": _object("templates_app", "messagetemplate"),
    "api:audience-list": _model("campaigns", "audience"),
    "api:audience-detail": _object("campaigns", "audience"),
    "api:audience-contacts": Rule("campaigns.view_contact", "campaigns.add_contact"),
    "api:contact-list": _model("campaigns", "contact"),
    "api:contact-detail": _object("campaigns", "contact"),
    "api:segment-list": _model("campaigns", "segment"),
    "api:segment-detail": _object("campaigns", "segment"),
    "api:segment-count": Rule("campaigns.view_segment"),
    "api:campaign-list": _model("campaigns", "campaign"),
    "api:campaign-detail": _object("campaigns", "campaign"),
    "api:campaign-launch": _post(CHANGE_CAMPAIGN),
    "api:campaign-pause": _post(CHANGE_CAMPAIGN),
    "api:campaign-resume": _post(CHANGE_CAMPAIGN),
    "api:campaign-cancel": _post(CHANGE_CAMPAIGN),
    "api:campaign-stats": Rule(VIEW_CAMPAIGN),
    "api:message-list": Rule("campaigns.view_message"),
    "api:message-detail": Rule("campaigns.view_message"),
    "api:message-retry": _post(REPEAT_MESSAGE),
    "api:message-resend": _post(REPEAT_MESSAGE),
    # the inbox: what the dashboard's inbox allows (Support reads, answering needs add)
    "api:inbox-conversations": Rule(VIEW_INBOX),
    "api:inbox-messages": Rule(VIEW_INBOX),
    "api:inbox-reply": _post(ADD_INBOX),
    # outgoing webhooks: a test event and a new secret are changes to the webhook
    "api:webhook-list": _model("webhooks", "webhook"),
    "api:webhook-detail": _object("webhooks", "webhook"),
    "api:webhook-rotate-secret": _post(CHANGE_WEBHOOK),
    "api:webhook-test": _post(CHANGE_WEBHOOK),
    "api:webhook-deliveries": Rule(VIEW_WEBHOOK),
    "webhooks:list": Rule(VIEW_WEBHOOK),
    "webhooks:create": Rule(ADD_WEBHOOK, ADD_WEBHOOK),
    "webhooks:detail": Rule(VIEW_WEBHOOK),
    "webhooks:edit": Rule(CHANGE_WEBHOOK, CHANGE_WEBHOOK),
    "webhooks:delete": Rule(DELETE_WEBHOOK, DELETE_WEBHOOK),
    "webhooks:test": _post(CHANGE_WEBHOOK),
    "webhooks:rotate": _post(CHANGE_WEBHOOK),
    "webhooks:delivery": Rule(VIEW_WEBHOOK),
}


def route_entry(view_name: str) -> str | Rule | ByArg | None:
    if view_name in ROUTES:
        return ROUTES[view_name]
    namespace = view_name.split(":", 1)[0] if ":" in view_name else ""
    return ROUTES.get(f"{namespace}:*") if namespace else None


def has_role(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name__in=ROLE_PERMISSIONS).exists()


def may_use_admin_site(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name__in=ADMIN_SITE_ROLES).exists()


def allowed(user, view_name: str, method: str, kwargs: dict | None = None) -> bool:
    """Whether `user` may call route `view_name` with `method`; a route missing from the table: admin only."""
    entry = route_entry(view_name)
    if entry == PUBLIC:
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    if entry == LOGGED_IN:
        return True
    if user.is_superuser:
        from .login import totp_required

        # With RCS_ADMIN_REQUIRE_TOTP an admin counts only after logging in with their code.
        return not totp_required(user) or getattr(user, "is_verified", lambda: False)()
    if entry is None or entry == SUPERUSER:
        return False
    if entry == ANY_ROLE:
        return has_role(user) and method.upper() in READ_METHODS
    if entry == ADMIN_SITE:
        return may_use_admin_site(user)
    rule = entry.rule(kwargs or {}) if isinstance(entry, ByArg) else entry
    permission = rule.for_method(method.upper())
    return permission is not None and user.has_perm(permission)


# -- groups ---------------------------------------------------------------------------------------------


def _ensure_custom_permissions() -> None:
    from django.contrib.contenttypes.models import ContentType

    for (app_label, model), codenames in CUSTOM_PERMISSIONS.items():
        try:
            content_type = ContentType.objects.get(app_label=app_label, model=model)
        except ContentType.DoesNotExist:
            continue  # that app has not migrated yet; the next post_migrate creates it
        for codename, name in codenames.items():
            Permission.objects.update_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )


def sync_role_permissions(**kwargs) -> None:
    _ensure_custom_permissions()
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        query = Q(pk__in=[])
        for app_label, actions in grants["apps"].items():
            for action in actions:
                query |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
        for dotted in grants["extra"]:
            app_label, codename = dotted.split(".", 1)
            query |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(query))

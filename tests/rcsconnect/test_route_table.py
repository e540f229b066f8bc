"""Role x route: every named route in the URLconf, for anonymous, no role, Marketer, Support and Admin,
with GET and the state-changing methods, answers as the permissions table (rcsconnect.roles) says.
A route without an entry in the table fails here."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from rcsconnect import roles

MISSING_ID = 987654
# Refusals: not logged in, not allowed, or no such method on the route (nothing runs either way).
REFUSED = (401, 403, 405)
ROLE_NAMES = ("anonymous", "no role", "Marketer", "Support", "Admin")
ARG_VALUES = {"int": MISSING_ID, "str": "+15550001001", "slug": "x", "path": "1"}


def _routes():
    """(view_name, pattern string, converter names by argument) for every named route."""
    found = []

    def walk(patterns, ns="", prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, f"{ns}{p.namespace}:" if p.namespace else ns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name:
                converters = {name: type(c).__name__ for name, c in p.pattern.converters.items()}
                for name in p.pattern.regex.groupindex:  # DRF's router: regex patterns, `pk` a number
                    converters.setdefault(name, "IntConverter" if name == "pk" else "StringConverter")
                found.append((ns + p.name, prefix + str(p.pattern), converters))

    walk(get_resolver().url_patterns)
    return found


def _converter_kind(name: str) -> str:
    return {"IntConverter": "int", "SlugConverter": "slug", "PathConverter": "path"}.get(name, "str")


def _urls(view_name: str, converters: dict) -> list[tuple[str, dict]]:
    """The URLs to try: dummy arguments, and every value a ByArg entry names plus one unknown value."""
    entry = roles.route_entry(view_name)
    base = {name: ARG_VALUES[_converter_kind(c)] for name, c in converters.items()}
    if "format" in base:
        return []  # DRF's `.json` suffix twins: the same views as their plain routes
    variants = [base]
    if isinstance(entry, roles.ByArg):
        variants = [{**base, entry.arg: v} for v in [*entry.rules, "no-such-action"]]
    out = []
    for kwargs in variants:
        out.append((reverse(view_name, kwargs=kwargs), kwargs))
    return out


def test_every_named_route_has_an_entry_in_the_table():
    missing = sorted({name for name, _, _ in _routes() if roles.route_entry(name) is None})
    assert not missing, f"routes with no entry in rcsconnect.roles.ROUTES: {missing}"


def test_every_table_entry_is_a_route():
    names = {name for name, _, _ in _routes()}
    stale = sorted(n for n in roles.ROUTES if not n.endswith(":*") and n not in names)
    assert not stale, f"entries in rcsconnect.roles.ROUTES with no route: {stale}"


@pytest.fixture
def users(db):
    made = {"anonymous": None}
    made["no role"] = User.objects.create_user("norole", password="x")
    for role in ("Marketer", "Support"):
        user = User.objects.create_user(role.lower(), password="x", is_staff=role == "Support")
        user.groups.add(Group.objects.get(name=role))
        made[role] = user
    made["Admin"] = User.objects.create_superuser("root", "root@example.com", "x")
    return made


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def _login_redirect(response) -> bool:
    return response.status_code == 302 and "/login/" in response.get("Location", "")


def _is_api(view_name: str) -> bool:
    return view_name.startswith("api:")


def _methods(view_name: str) -> tuple[str, ...]:
    if _is_api(view_name):
        return ("GET", "POST", "PATCH", "DELETE")
    return ("GET", "POST")


def _request(client: Client, method: str, url: str):
    if method in ("PATCH", "PUT"):
        return client.generic(method, url, b"{}", content_type="application/json")
    return client.generic(method, url, b"", content_type="application/json" if method != "GET" else "")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_dashboard_and_api_routes_answer_as_the_table_says(users, role):
    from django.contrib.auth.models import AnonymousUser

    user = users[role]
    checked = 0
    for view_name, _, converters in _routes():
        if view_name.startswith("admin:") or view_name in ("logout",):
            continue
        entry = roles.route_entry(view_name)
        for url, kwargs in _urls(view_name, converters):
            for method in _methods(view_name):
                client = _client(user)
                response = _request(client, method, url)
                subject = user or AnonymousUser()
                allowed = roles.allowed(subject, view_name, method, kwargs)
                where = (role, view_name, method, url, response.status_code)
                if entry == roles.PUBLIC:
                    assert not _login_redirect(response) and response.status_code != 401, where
                elif not allowed and user is None:
                    if _is_api(view_name):
                        assert response.status_code in REFUSED or _login_redirect(response), where
                    else:
                        assert _login_redirect(response), where
                elif not allowed:
                    assert response.status_code in REFUSED and response.status_code != 401, where
                else:
                    assert response.status_code not in (401, 403) and not _login_redirect(response), where
                checked += 1
    assert checked > 150


def _admin_rule(view_name: str) -> tuple[str, str] | None:
    """For a ModelAdmin route, the (view perm, write perm) it needs, from the model's permissions."""
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        if view_name.startswith(prefix):
            suffix = view_name[len(prefix) :]
            opts = model._meta

            def perm(action: str, opts=opts) -> str:
                return f"{opts.app_label}.{action}_{opts.model_name}"

            return {
                "changelist": (perm("view"), None),
                "add": (perm("add"), perm("add")),
                "change": (perm("view"), perm("change")),
                "delete": (perm("delete"), perm("delete")),
                "history": (perm("view"), None),
            }.get(suffix, (perm("change"), perm("change")))  # e.g. a user's password change
    return None


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_admin_routes_answer_as_the_table_says(users, role):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    # django-otp's device config and QR code views look the device up before checking permissions
    TOTPDevice.objects.create(pk=MISSING_ID, user=users["Admin"], name="phone")
    user = users[role]
    checked = 0
    for view_name, _, converters in _routes():
        if not view_name.startswith("admin:") or view_name in ("admin:logout",):
            continue
        if view_name == "admin:app_list":
            urls = [reverse(view_name, kwargs={"app_label": "providers"})]
        else:
            urls = [url for url, _ in _urls(view_name, converters)]
        rule = _admin_rule(view_name)
        for url in urls:
            for method in ("GET", "POST"):
                if method == "POST" and (rule is None or role == "Admin"):
                    continue  # an admin's POSTs there would save (empty) objects; its GETs are checked
                response = _request(_client(user), method, url)
                where = (role, view_name, method, url, response.status_code)
                if user is None:
                    assert response.status_code == 302 or view_name == "admin:login", where
                elif role in ("no role", "Marketer"):
                    assert response.status_code == 403, where
                elif rule is None:  # the site's own pages: index, app list, password change, jsi18n
                    if view_name not in ("admin:autocomplete", "admin:view_on_site"):
                        assert response.status_code != 403, where
                else:
                    read, write = rule
                    need = read if method == "GET" else write
                    if user.is_superuser:
                        # Some ModelAdmins refuse adding or deleting to everyone by design (django-q's task
                        # lists; the audit log, whose entries are never deleted).
                        assert response.status_code != 403 or view_name.endswith(("_add", "_delete")), where
                    elif need and user.has_perm(need):
                        assert response.status_code != 403, where
                    elif need is not None:
                        # A missing object redirects to the admin index before the permission check.
                        assert response.status_code == 403 or (
                            response.status_code == 302 and not _login_redirect(response)
                        ), where
                checked += 1
    assert checked > 40


# -- what the table itself promises, independent of the code that reads it ---------------------------


@pytest.mark.django_db
def test_no_role_user_may_open_nothing_but_public_routes(users):
    user = users["no role"]
    for view_name, _, _ in _routes():
        if roles.route_entry(view_name) in (roles.PUBLIC, roles.LOGGED_IN):
            continue
        for method in ("GET", "POST", "PATCH", "DELETE"):
            assert not roles.allowed(user, view_name, method, {"action": "enable"}), (view_name, method)


@pytest.mark.django_db
def test_support_changes_nothing_but_the_safe_operations(users):
    user = users["Support"]
    writable = set()
    for view_name, _, converters in _routes():
        if view_name.startswith("admin:") or roles.route_entry(view_name) in (roles.PUBLIC, roles.LOGGED_IN):
            continue
        for _, kwargs in _urls(view_name, converters):
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                if roles.allowed(user, view_name, method, kwargs):
                    writable.add((view_name, kwargs.get("action"), method))
    assert {(n, a) for n, a, _ in writable} <= {
        ("providers:action", "enable"),
        ("providers:action", "disable"),
        ("providers:action", "default"),
        ("api:provider-enable", None),
        ("api:provider-disable", None),
        ("api:provider-mark-default", None),
        ("api:message-retry", None),  # a new message to the same recipient (campaigns.state)
        ("api:message-resend", None),
        ("templates_app:payload", None),  # the live preview: POSTs a draft, stores nothing
    }, writable
    assert ("api:provider-detail", None, "PATCH") not in writable
    assert not roles.allowed(user, "providers:send_test", "POST")


@pytest.mark.django_db
def test_marketer_reaches_every_dashboard_page_and_no_admin_page(users):
    user = users["Marketer"]
    for view_name, _, converters in _routes():
        if re.match(r"^(providers|templates_app|campaigns):", view_name):
            for _, kwargs in _urls(view_name, converters):
                if kwargs.get("action") == "no-such-action":
                    continue
                method = "POST" if isinstance(roles.route_entry(view_name), roles.ByArg) else "GET"
                assert roles.allowed(user, view_name, method, kwargs), view_name
        if view_name.startswith("admin:"):
            assert not roles.allowed(user, view_name, "GET"), view_name

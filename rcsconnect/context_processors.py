from django.http import HttpRequest

from . import roles

NAVIGATION = (
    ("Providers", "providers:list"),
    ("Templates", "templates_app:list"),
    ("Audiences", "campaigns:audience_list"),
    ("Segments", "campaigns:segment_list"),
    ("Campaigns", "campaigns:list"),
    ("Inbox", "campaigns:inbox"),
    ("Stats", "campaigns:stats"),
    ("Webhooks", "webhooks:list"),
)


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"NAVIGATION": NAVIGATION, "CAN_USE_ADMIN": False}
    items = tuple(item for item in NAVIGATION if roles.allowed(user, item[1], "GET"))
    return {"NAVIGATION": items, "CAN_USE_ADMIN": roles.may_use_admin_site(user)}


def user_timezone(request: HttpRequest) -> dict:
    """USER_TIMEZONE (shown times are in it) and DETECT_TIMEZONE (the browser should tell its own)."""
    from . import timezones

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return {"USER_TIMEZONE": timezones.DEFAULT, "DETECT_TIMEZONE": False}
    name = timezones.for_request(request)
    return {"USER_TIMEZONE": name or timezones.DEFAULT, "DETECT_TIMEZONE": not name}

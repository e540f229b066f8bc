"""The user's timezone: the names offered, the profile setting, and the searchable select.

Every page renders times in the logged-in user's timezone (`UserTimezoneMiddleware` activates it);
the browser tells it once (Intl.DateTimeFormat().resolvedOptions().timeZone, posted by app.js to
`profile_timezone`) and the profile page changes it.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django import forms

DEFAULT = "UTC"
SESSION_KEY = "rcs_timezone"
# Offered first: the zones most users pick (the full list follows, searchable).
COMMON = (
    "UTC",
    "Asia/Kolkata",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Singapore",
    "Asia/Jakarta",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
)
# Legacy aliases (US/Eastern, Etc/GMT+5, ...): the canonical Area/City names cover them.
_LEGACY_PREFIXES = ("Etc/", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/", "SystemV/", "posix/", "right/")
# Old names browsers still report (Chromium's ICU says Asia/Calcutta), saved as the current name.
ALIASES = {
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Asia/Dacca": "Asia/Dhaka",
    "Asia/Thimbu": "Asia/Thimphu",
    "Asia/Ulan_Bator": "Asia/Ulaanbaatar",
    "Europe/Kiev": "Europe/Kyiv",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Indianapolis": "America/Indiana/Indianapolis",
    "America/Louisville": "America/Kentucky/Louisville",
    "Pacific/Enderbury": "Pacific/Kanton",
}


@lru_cache(maxsize=1)
def names() -> tuple[str, ...]:
    """Canonical Area/City zone names, sorted, plus UTC."""
    found = {
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(_LEGACY_PREFIXES) and name not in ALIASES
    }
    return (DEFAULT, *sorted(found))


def is_valid(name: str | None) -> bool:
    return bool(name) and name in _known()


def canonical(name: str) -> str:
    """The current IANA name of `name` (an old alias a browser reports becomes the name we offer)."""
    return ALIASES.get(name, name)


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def choices() -> list[tuple[str, list[tuple[str, str]]]]:
    common = [(name, name.replace("_", " ")) for name in COMMON]
    rest = [(name, name.replace("_", " ")) for name in names() if name not in COMMON]
    return [("Common", common), ("All timezones", rest)]


class TimezoneSelect(forms.Select):
    """A <select> that static/js/app.js gives a search box (it filters the options as one types)."""

    def __init__(self, attrs=None):
        super().__init__({"data-timezone-select": "", **(attrs or {})})


def timezone_field(**kwargs) -> forms.ChoiceField:
    kwargs.setdefault("label", "Timezone")
    return forms.ChoiceField(choices=choices, widget=TimezoneSelect, **kwargs)


def of_user(user) -> str:
    """The user's saved timezone, "" when none was saved yet."""
    from .models import Profile

    if user is None or not user.is_authenticated:
        return ""
    return Profile.objects.filter(user=user).values_list("timezone", flat=True).first() or ""


def for_request(request) -> str:
    """The logged-in user's timezone, "" when unset; remembered in the session after the first read."""
    session = getattr(request, "session", None)
    if session is not None and SESSION_KEY in session:
        return session[SESSION_KEY]
    name = of_user(request.user)
    if session is not None:
        session[SESSION_KEY] = name
    return name


def save(request, name: str, *, only_if_unset: bool = False) -> bool:
    """Store `name` as the user's timezone (and in the session); False when it was not changed."""
    from .models import Profile

    name = canonical(name)
    if not is_valid(name):
        return False
    profile, _ = Profile.objects.get_or_create(user=request.user)
    if only_if_unset and profile.timezone:
        request.session[SESSION_KEY] = profile.timezone
        return False
    profile.timezone = name
    profile.save(update_fields=["timezone"])
    request.session[SESSION_KEY] = name
    return True

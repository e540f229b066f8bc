"""The one phone helper: every form, the API, the CSV import and the event code read numbers here.

Numbers are stored in E.164. A number typed without its country code is read in a default country:
the one the person picked (the phone input's country select, the import's country choice) or the
setting `RCS_PHONE_DEFAULT_COUNTRY` (IN unless set). A whole E.164 number is always accepted as is.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from django import forms
from django.conf import settings

NO_NUMBER = "No phone number."
NOT_A_NUMBER = "Not a phone number."
NOT_A_NUMBER_HINT = "Not a phone number (add the country code with a leading +)."
NOT_VALID = "Not a valid phone number for its country."
_E164 = re.compile(r"\+([1-9]\d{6,16})")


def default_region() -> str:
    return str(getattr(settings, "RCS_PHONE_DEFAULT_COUNTRY", "IN") or "").upper()


def normalise(raw: str, region: str = "") -> tuple[str, str]:
    """(E.164, "") for a valid number, ("", reason) otherwise. `region`: the country of a number
    written without +; "" accepts only numbers with their country code."""
    raw = (raw or "").strip()
    if not raw:
        return "", NO_NUMBER
    if (e164 := _valid_e164(raw)) is not None:
        return e164, ""
    return parse(raw, region)


def to_e164(raw: str, region: str | None = None) -> str:
    """The number in E.164 or forms.ValidationError with the reason (region None: the default)."""
    e164, reason = normalise(raw, default_region() if region is None else region)
    if reason:
        raise forms.ValidationError(reason)
    return e164


def is_e164(number: str) -> bool:
    """Whether `number` is a valid number written in E.164 (a template's dial button)."""
    return bool(re.fullmatch(r"\+[1-9]\d{1,14}", number or "")) and normalise(number)[0] == number


def from_vendor(number: str) -> str:
    """A number as a vendor's event reports it (digits with or without +, spaces): E.164 when it is
    one, else the cleaned text (at most 20 characters) so the event is still recorded."""
    cleaned = re.sub(r"[\s().-]", "", number or "")
    candidate = f"+{cleaned}" if cleaned.isdigit() else cleaned
    e164, _ = normalise(candidate)
    return e164 or candidate[:20]


def from_query(raw: str) -> str:
    """A number given as a search filter (an unencoded "+" arrives as a space, a number may come
    without it): read as a vendor's number is, so it matches the stored E.164."""
    return from_vendor(raw)


def _valid_e164(raw: str) -> str | None:
    """`raw` itself when it is already a valid number in E.164 form; None when it is not, or when
    `phonenumbers.parse` could read it differently (the full parse then decides).

    Most files hold E.164 numbers, and `phonenumbers.parse` (about 60 % of an import's time) does
    nothing to them but split off the country code (country codes are prefix-free) and strip a
    national prefix written after it: numbers that start with their country's national prefix, or
    with 0, take the full parse. Validation is phonenumbers' own.
    """
    match = _E164.fullmatch(raw)
    if match is None:
        return None
    digits = match.group(1)
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    prefix = _national_prefix(country_code)
    if not national or national[0] == "0" or (prefix is not None and prefix.match(national)):
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    return raw if phonenumbers.is_valid_number(number) else None


@functools.cache
def _national_prefix(country_code: int) -> re.Pattern | None:
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    pattern = metadata.national_prefix_for_parsing if metadata else None
    return re.compile(pattern) if pattern else None


def parse(raw: str, region: str) -> tuple[str, str]:
    """The full phonenumbers parse (what the fast path in `normalise` must agree with)."""
    try:
        number = phonenumbers.parse(raw, region.upper() or None)
    except phonenumbers.NumberParseException:
        return "", NOT_A_NUMBER if raw.startswith("+") or region else NOT_A_NUMBER_HINT
    if not phonenumbers.is_valid_number(number):
        return "", NOT_VALID
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


@functools.cache
def _regions() -> tuple[tuple[str, str], ...]:
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    return tuple((r, f"{r} (+{phonenumbers.country_code_for_region(r)})") for r in regions)


def region_choices(*, none: str = "") -> list[tuple[str, str]]:
    """Countries for a select; `none`: the label of an extra "no default country" choice."""
    return ([("", none)] if none else []) + list(_regions())


# -- the one phone input -----------------------------------------------------------------------------------
class PhoneWidget(forms.MultiWidget):
    """A country select (`<name>_country`) and the number (`<name>`)."""

    def __init__(self, attrs=None):
        widgets = {
            "country": forms.Select(choices=region_choices, attrs={"aria-label": "Country"}),
            "": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        }
        super().__init__(widgets, attrs)

    def decompress(self, value):
        return [default_region(), value or ""]

    def value_from_datadict(self, data, files, name):
        country, number = super().value_from_datadict(data, files, name)
        return [country or default_region(), number]


class PhoneField(forms.Field):
    """One phone input: pick the country and type the number, or type the whole E.164 number."""

    widget = PhoneWidget
    default_help = "Pick the country and type the number, or type it whole in E.164 (e.g. +14155550123)."

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("help_text", self.default_help)
        super().__init__(*args, **kwargs)

    def to_python(self, value) -> str:
        region, number = default_region(), value
        if isinstance(value, list | tuple):
            region, number = (list(value) + ["", ""])[:2]
        number = str(number or "").strip()
        if not number:
            return ""
        region = str(region or "").upper()
        if region and region not in phonenumbers.SUPPORTED_REGIONS:
            raise forms.ValidationError("Pick a country from the list.")
        return to_e164(number, region)

"""Segments: what a rule means, how it is checked, and how it is evaluated (the one owner).

A segment is a list of rules over one audience's contacts, combined with "all" (and) or "any" (or).
Every rule is evaluated by the database as part of one queryset (`contacts`): the dashboard's live
count, the API's count, the campaign estimate and the fan-out's INSERT ... SELECT all use it, and
nothing loops over contacts in Python. The same SQL runs on SQLite and PostgreSQL.

Rules (each a dict):
- `{"kind": "attribute", "name": "city", "op": "equals", "value": "Delhi"}`; ops: `equals`,
  `contains` (case-insensitive), `in` (`value` a list), `between` (`min` and/or `max`, numbers;
  an attribute that is not a number never matches), `date_between` (`min` and/or `max` as
  YYYY-MM-DD, inclusive; the attribute's first ten characters are its date).
- `{"kind": "subscribed", "value": true}`.
- `{"kind": "country", "value": ["IN", "AE"]}`: the number's E.164 country calling code (regions
  sharing a code, like US and CA under +1, match together).
- `{"kind": "engagement", "event": "read", "days": 30, "op": "did"}`; events `delivered`, `read`,
  `clicked`, `replied`; op `did` or `did_not`: whether any message to the contact's number had
  that event in the last `days` days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import phonenumbers
from django.db.models import Case, Exists, FloatField, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Replace, Substr
from django.db.models.lookups import Exact, GreaterThanOrEqual, IContains, In, LessThanOrEqual, Regex
from django.utils import timezone

from .models import Contact, Message, Segment

KINDS = ("attribute", "subscribed", "country", "engagement")
ATTRIBUTE_OPS = ("equals", "contains", "in", "between", "date_between")
EVENTS = {"delivered": "delivered_at", "read": "read_at", "clicked": "clicked_at", "replied": "replied_at"}
ENGAGEMENT_OPS = ("did", "did_not")
MAX_RULES = 20
MAX_IN_VALUES = 200
MAX_DAYS = 3650
# What counts as a number or a date in an attribute (anything else never matches a range).
NUMBER_RE = r"^-?[0-9]+(\.[0-9]+)?$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


class SegmentError(ValueError):
    """Rules that cannot be saved: `errors` maps a rule's position (or "rules") to its problem."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"rule {k}: {v}" if k.isdigit() else v for k, v in errors.items()))
        self.errors = errors


# -- checking -------------------------------------------------------------------------------------------


def clean_rules(rules) -> list[dict]:
    """The rules, normalised; or SegmentError naming each bad rule by its position."""
    if not isinstance(rules, list):
        raise SegmentError({"rules": "Give a list of rules."})
    if len(rules) > MAX_RULES:
        raise SegmentError({"rules": f"At most {MAX_RULES} rules."})
    cleaned, errors = [], {}
    for i, rule in enumerate(rules):
        try:
            cleaned.append(_clean(rule))
        except ValueError as exc:
            errors[str(i)] = str(exc)
    if errors:
        raise SegmentError(errors)
    return cleaned


def _clean(rule) -> dict:
    if not isinstance(rule, dict):
        raise ValueError("A rule is an object with a kind.")
    kind = rule.get("kind")
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; one of {', '.join(KINDS)}.")
    if kind == "subscribed":
        value = rule.get("value", True)
        if not isinstance(value, bool):
            raise ValueError("subscribed is true or false.")
        return {"kind": kind, "value": value}
    if kind == "country":
        value = rule.get("value")
        regions = [value] if isinstance(value, str) else value
        if not isinstance(regions, list) or not regions:
            raise ValueError("Give one or more countries (ISO codes such as IN).")
        regions = [str(r).strip().upper() for r in regions]
        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"Unknown country code {', '.join(unknown)}.")
        return {"kind": kind, "value": sorted(set(regions))}
    if kind == "engagement":
        event, op = rule.get("event"), rule.get("op", "did")
        if event not in EVENTS:
            raise ValueError(f"Engagement event is one of {', '.join(EVENTS)}.")
        if op not in ENGAGEMENT_OPS:
            raise ValueError("Engagement op is did or did_not.")
        days = _int(rule.get("days"), "days")
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"days is between 1 and {MAX_DAYS}.")
        return {"kind": kind, "event": event, "op": op, "days": days}
    return _clean_attribute(rule)


def _clean_attribute(rule: dict) -> dict:
    name, op = str(rule.get("name") or "").strip(), rule.get("op")
    if not name or len(name) > 100:
        raise ValueError("Name the attribute (up to 100 characters).")
    if op not in ATTRIBUTE_OPS:
        raise ValueError(f"Attribute op is one of {', '.join(ATTRIBUTE_OPS)}.")
    out = {"kind": "attribute", "name": name, "op": op}
    value = rule.get("value")
    if op in ("equals", "contains"):
        if not isinstance(value, str | int | float) or isinstance(value, bool) or str(value) == "":
            raise ValueError(f"Give the text the attribute {'equals' if op == 'equals' else 'contains'}.")
        out["value"] = str(value)[:1000]
    elif op == "in":
        values = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
        if not isinstance(values, list) or not [v for v in values if str(v).strip()]:
            raise ValueError("Give one or more values.")
        values = [str(v).strip()[:1000] for v in values if str(v).strip()]
        if len(values) > MAX_IN_VALUES:
            raise ValueError(f"At most {MAX_IN_VALUES} values.")
        out["value"] = values
    else:
        parse = _number if op == "between" else _date
        low, high = parse(rule.get("min"), "min"), parse(rule.get("max"), "max")
        if low is None and high is None:
            raise ValueError("Give a minimum, a maximum or both.")
        if low is not None and high is not None and low > high:
            raise ValueError("The minimum is above the maximum.")
        out["min"], out["max"] = low, high
    return out


def _int(value, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError(f"{name} is a whole number.") from None


def _number(value, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError(f"{name} is a number.") from None
    if number != number or abs(number) > 1e15:
        raise ValueError(f"{name} is out of range.")
    return int(number) if number.is_integer() else number


def _date(value, name: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        raise ValueError(f"{name} is a date, YYYY-MM-DD.") from None


def audience_problem(segment: Segment | None, audience_id: int | None) -> str | None:
    """Why `segment` cannot be the audience of a campaign for `audience_id` (None when it can)."""
    if segment is not None and audience_id is not None and segment.audience_id != audience_id:
        return f"Segment {segment} is a segment of {segment.audience}, not of the campaign's audience."
    return None


# -- evaluating -----------------------------------------------------------------------------------------


def contacts(segment: Segment, *, now: datetime | None = None) -> QuerySet[Contact]:
    """The segment's contacts (subscribed or not, unless a rule says), as one queryset."""
    return matching(segment.audience_id, segment.rules, segment.match, now=now)


def matching(audience_id: int, rules: list[dict], match: str = "all", *, now=None) -> QuerySet[Contact]:
    """Contacts of the audience matching `rules` (already cleaned) combined by `match`."""
    return Contact.objects.filter(audience_id=audience_id).filter(condition(rules, match, now=now))


def count(audience_id: int, rules: list[dict], match: str = "all") -> int:
    return matching(audience_id, rules, match).count()


def condition(rules: list[dict], match: str = "all", *, now: datetime | None = None) -> Q:
    """One Q over Contact for all the rules (no rules: every contact)."""
    now = now or timezone.now()
    parts = [_rule_q(rule, now) for rule in rules]
    if not parts:
        return Q()
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined | part) if match == Segment.Match.ANY else (combined & part)
    return combined


def _rule_q(rule: dict, now: datetime) -> Q:
    kind = rule["kind"]
    if kind == "subscribed":
        return Q(subscribed=rule["value"])
    if kind == "country":
        codes = sorted({phonenumbers.country_code_for_region(r) for r in rule["value"]})
        q = Q(pk__in=[])
        for code in codes:
            q |= Q(phone__startswith=f"+{code}")
        return q
    if kind == "engagement":
        since = now - timedelta(days=rule["days"])
        touched = Exists(
            Message.objects.filter(to=OuterRef("phone"), **{f"{EVENTS[rule['event']]}__gte": since})
        )
        return Q(touched) if rule["op"] == "did" else ~Q(touched)
    text = KeyTextTransform(rule["name"], "attributes")
    op = rule["op"]
    if op == "equals":
        return Q(Exact(text, rule["value"]))
    if op == "contains":
        return Q(IContains(text, rule["value"]))
    if op == "in":
        return Q(In(text, rule["value"]))
    if op == "between":
        value = Case(When(Regex(text, NUMBER_RE), then=Cast(text, FloatField())), output_field=FloatField())
        low, high = rule.get("min"), rule.get("max")
    else:
        digits = Cast(Replace(Substr(text, 1, 10), Value("-"), Value("")), IntegerField())
        value = Case(When(Regex(text, DATE_RE), then=digits), output_field=IntegerField())
        low, high = (_day(rule.get("min")), _day(rule.get("max")))
    q = Q()
    if low is not None:
        q &= Q(GreaterThanOrEqual(value, low))
    if high is not None:
        q &= Q(LessThanOrEqual(value, high))
    return q


def _day(iso: str | None) -> int | None:
    return None if iso is None else int(iso.replace("-", ""))


def describe(rule: dict) -> str:
    """A rule in words, for the dashboard and the admin."""
    kind = rule.get("kind")
    if kind == "subscribed":
        return "subscribed" if rule.get("value") else "unsubscribed"
    if kind == "country":
        return "country " + ", ".join(rule.get("value") or [])
    if kind == "engagement":
        verb = "was" if rule.get("op") == "did" else "was not"
        return f"{verb} {rule.get('event')} in the last {rule.get('days')} days"
    name, op = rule.get("name"), rule.get("op")
    if op in ("between", "date_between"):
        low, high = rule.get("min"), rule.get("max")
        if low is not None and high is not None:
            return f"{name} from {low} to {high}"
        return f"{name} ≥ {low}" if low is not None else f"{name} ≤ {high}"
    if op == "in":
        return f"{name} in {', '.join(rule.get('value') or [])}"
    return f"{name} {op} {rule.get('value')!r}"


def fan_out_filter(segment: Segment, lo: int, hi: int, *, now: datetime | None = None) -> tuple[str, list]:
    """SQL (and its parameters) for `c.id IN (...)`: the segment's contacts with ids in [lo, hi),
    for the fan-out's INSERT ... SELECT (campaigns.services)."""
    ids = contacts(segment, now=now).filter(id__gte=lo, id__lt=hi).order_by().values("id")
    sql, params = ids.query.sql_with_params()
    return sql, list(params)

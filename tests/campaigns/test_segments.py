"""Segments: the database's count equals a recount in Python, for every kind of rule and operator."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from campaigns import segments
from campaigns.models import Audience, Contact, Message, Segment

from .conftest import make_audience, make_campaign, make_provider

CITIES = ["Delhi", "Mumbai", "Pune", "New Delhi", "delhi", ""]
PREFIXES = ["+9198", "+1202", "+4477", "+97150"]
NOW = timezone.now()


def _generate(n: int = 400, seed: int = 7) -> tuple[Audience, list[Contact], dict[str, dict[str, list]]]:
    rng = random.Random(seed)
    audience = Audience.objects.create(name=f"Generated {seed}")
    rows = []
    for i in range(n):
        attributes = {}
        if rng.random() < 0.9:
            attributes["city"] = rng.choice(CITIES)
        if rng.random() < 0.85:
            attributes["age"] = rng.choice(
                [str(rng.randint(10, 80)), f"{rng.randint(10, 80)}.5", "n/a", "-3"]
            )
        if rng.random() < 0.8:
            day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 700))
            attributes["joined"] = rng.choice([day.isoformat(), f"{day.isoformat()}T10:00:00", "soon"])
        rows.append(
            Contact(
                audience=audience,
                phone=f"{rng.choice(PREFIXES)}{i:07d}",
                attributes=attributes,
                subscribed=rng.random() < 0.8,
            )
        )
    contacts = Contact.objects.bulk_create(rows)
    provider = make_provider()
    events: dict[str, dict[str, list]] = {name: {} for name in segments.EVENTS}
    messages = []
    for k, contact in enumerate(contacts):
        if rng.random() < 0.5:
            continue
        stamps = {}
        for name, field in segments.EVENTS.items():
            if rng.random() < 0.5:
                stamps[field] = NOW - timedelta(days=rng.randint(0, 60), hours=1)
                events[name].setdefault(contact.phone, []).append(stamps[field])
        messages.append(Message(provider=provider, to=contact.phone, msg_id=f"seg-{k}", **stamps))
    Message.objects.bulk_create(messages)
    return audience, contacts, events


def _number(value):
    return float(value) if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value) else None


def _day(value):
    if isinstance(value, str) and re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return value[:10]
    return None


def _matches(rule: dict, contact: Contact, events) -> bool:
    """The rule in plain Python, written apart from campaigns.segments."""
    kind = rule["kind"]
    if kind == "subscribed":
        return contact.subscribed == rule["value"]
    if kind == "country":
        import phonenumbers

        codes = {phonenumbers.country_code_for_region(r) for r in rule["value"]}
        return phonenumbers.parse(contact.phone).country_code in codes
    if kind == "engagement":
        since = NOW - timedelta(days=rule["days"])
        did = any(at >= since for at in events[rule["event"]].get(contact.phone, []))
        return did if rule["op"] == "did" else not did
    value = contact.attributes.get(rule["name"])
    op = rule["op"]
    if value is None:
        return False
    if op == "equals":
        return value == rule["value"]
    if op == "contains":
        return rule["value"].lower() in value.lower()
    if op == "in":
        return value in rule["value"]
    got = _number(value) if op == "between" else _day(value)
    if got is None:
        return False
    low, high = rule.get("min"), rule.get("max")
    return (low is None or got >= low) and (high is None or got <= high)


RULES = [
    {"kind": "attribute", "name": "city", "op": "equals", "value": "Delhi"},
    {"kind": "attribute", "name": "city", "op": "contains", "value": "DELHI"},
    {"kind": "attribute", "name": "city", "op": "in", "value": ["Pune", "Mumbai"]},
    {"kind": "attribute", "name": "age", "op": "between", "min": 18, "max": 40},
    {"kind": "attribute", "name": "age", "op": "between", "min": 30.5},
    {"kind": "attribute", "name": "age", "op": "between", "max": 0},
    {"kind": "attribute", "name": "joined", "op": "date_between", "min": "2024-03-01", "max": "2024-12-31"},
    {"kind": "attribute", "name": "joined", "op": "date_between", "max": "2024-06-15"},
    {"kind": "subscribed", "value": True},
    {"kind": "subscribed", "value": False},
    {"kind": "country", "value": ["IN"]},
    {"kind": "country", "value": ["US", "AE"]},
    *[
        {"kind": "engagement", "event": event, "days": days, "op": op}
        for event in segments.EVENTS
        for days, op in ((7, "did"), (30, "did_not"))
    ],
]


@pytest.mark.django_db
@pytest.mark.parametrize("rule", RULES, ids=segments.describe)
def test_each_rule_counts_what_python_counts(rule):
    audience, contacts, events = _generate()
    cleaned = segments.clean_rules([rule])
    expected = {c.pk for c in contacts if _matches(cleaned[0], c, events)}
    got = set(segments.matching(audience.pk, cleaned, now=NOW).values_list("pk", flat=True))
    assert got == expected
    assert 0 < len(expected) < len(contacts)  # the data exercises both sides of the rule
    assert segments.count(audience.pk, cleaned) == len(expected)


@pytest.mark.django_db
@pytest.mark.parametrize("match", ["all", "any"])
def test_combined_rules_count_what_python_counts(match):
    audience, contacts, events = _generate(seed=11)
    rules = segments.clean_rules([RULES[1], RULES[3], RULES[8], RULES[13]])
    check = all if match == "all" else any
    expected = {c.pk for c in contacts if check(_matches(r, c, events) for r in rules)}
    segment = Segment.objects.create(name="combined", audience=audience, rules=rules, match=match)
    assert set(segments.contacts(segment, now=NOW).values_list("pk", flat=True)) == expected
    assert expected


@pytest.mark.django_db
def test_other_audiences_never_match():
    audience, _, _ = _generate(n=50)
    other = make_audience(30)
    rules = segments.clean_rules([{"kind": "country", "value": "IN"}])
    assert not segments.matching(audience.pk, rules).filter(audience=other).exists()
    assert segments.count(other.pk, rules) == 30


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"kind": "nope"}, "Unknown kind"),
        ({"kind": "attribute", "name": "", "op": "equals", "value": "x"}, "Name the attribute"),
        ({"kind": "attribute", "name": "a", "op": "like", "value": "x"}, "op is one of"),
        ({"kind": "attribute", "name": "a", "op": "between"}, "minimum, a maximum"),
        ({"kind": "attribute", "name": "a", "op": "between", "min": "x"}, "min is a number"),
        ({"kind": "attribute", "name": "a", "op": "between", "min": 5, "max": 1}, "above the maximum"),
        ({"kind": "attribute", "name": "a", "op": "date_between", "min": "2024-13-01"}, "YYYY-MM-DD"),
        ({"kind": "attribute", "name": "a", "op": "in", "value": []}, "one or more values"),
        ({"kind": "country", "value": ["XX"]}, "Unknown country code XX"),
        ({"kind": "engagement", "event": "opened", "days": 3}, "event is one of"),
        ({"kind": "engagement", "event": "read", "days": 0}, "days is between"),
        ({"kind": "subscribed", "value": "yes"}, "true or false"),
    ],
)
def test_bad_rules_are_named_by_position(rule, problem):
    with pytest.raises(segments.SegmentError) as caught:
        segments.clean_rules([{"kind": "subscribed", "value": True}, rule])
    assert list(caught.value.errors) == ["1"]
    assert problem in caught.value.errors["1"]


@pytest.mark.django_db
def test_fan_out_writes_rows_for_the_segment_only(monkeypatch):
    from campaigns.services import campaign_estimate, campaign_start

    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)
    audience, contacts, events = _generate(n=120, seed=3)
    rules = segments.clean_rules([RULES[2], RULES[12]])
    segment = Segment.objects.create(name="pune or mumbai, read lately", audience=audience, rules=rules)
    campaign = make_campaign(
        audience=audience,
        segment=segment,
        placeholder_mapping=[{"source": "literal", "value": "you"}, {"source": "literal", "value": "42"}],
    )
    expected = {c.phone for c in contacts if c.subscribed and all(_matches(r, c, events) for r in rules)}
    assert campaign_estimate(campaign=campaign).recipients == len(expected)
    campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    sent_to = set(Message.objects.filter(campaign=campaign).values_list("to", flat=True))
    assert sent_to == expected and campaign.total_count == len(expected)

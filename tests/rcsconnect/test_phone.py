"""The one phone helper (rcsconnect.phone) and the one phone input (PhoneField)."""

from django import forms
from django.test import override_settings

from rcsconnect.phone import PhoneField, from_vendor, normalise, parse, to_e164


def test_normalise():
    assert normalise("+91 98123-45671", "") == ("+919812345671", "")
    assert normalise("09812345671", "IN") == ("+919812345671", "")
    assert normalise("9812345671", "")[1].startswith("Not a phone number (add the country code")
    assert normalise("", "")[1] == "No phone number."


def test_the_e164_fast_path_answers_exactly_what_the_full_parse_answers():
    # Every example number phonenumbers has, written in E.164 and in the forms the fast path must
    # leave to the full parse (a national prefix after the country code), plus random digit strings.
    import random

    import phonenumbers

    samples = ["+4402012345678", "+4420 1234 5678", "+12125550123", "+112125550123", "+78001234567"]
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                samples += [e164, e164[:3] + "0" + e164[3:], e164[:2] + "0" + e164[2:], e164 + "1"]
    rng = random.Random(1)
    samples += [
        "+" + str(rng.randrange(10 ** (size - 1), 10**size)) for size in range(7, 18) for _ in range(1500)
    ]
    mismatches = [s for s in samples if normalise(s, "") != parse(s, "")]
    assert not mismatches, mismatches[:10]
    assert sum(bool(normalise(s, "")[0]) for s in samples) > 1000  # the sample holds valid numbers


class PhoneForm(forms.Form):
    to = PhoneField()


def test_the_phone_input_takes_a_country_and_a_number_or_a_whole_e164_number():
    assert PhoneForm({"to_country": "IN", "to": "98123 45671"}).is_valid()
    form = PhoneForm({"to_country": "IN", "to": "98123 45671"})
    form.is_valid()
    assert form.cleaned_data["to"] == "+919812345671"
    form = PhoneForm({"to_country": "IN", "to": "+1 415 555 0123"})  # whole E.164 wins over the country
    assert form.is_valid() and form.cleaned_data["to"] == "+14155550123"
    form = PhoneForm({"to_country": "US", "to": "98123 45671"})
    assert not form.is_valid() and form.errors["to"] == ["Not a valid phone number for its country."]
    form = PhoneForm({"to_country": "XX", "to": "98123 45671"})
    assert form.errors["to"] == ["Pick a country from the list."]
    assert 'name="to_country"' in str(form["to"]) and 'name="to"' in str(form["to"])


@override_settings(RCS_PHONE_DEFAULT_COUNTRY="GB")
def test_the_default_country_comes_from_the_setting():
    assert to_e164("020 1234 5678") == "+442012345678"
    form = PhoneForm({"to": "020 1234 5678"})  # no country chosen: the setting's
    assert form.is_valid() and form.cleaned_data["to"] == "+442012345678"
    assert '<option value="GB" selected>' in str(PhoneForm()["to"])


def test_numbers_from_vendor_events_are_e164_when_they_can_be():
    assert from_vendor("919812345671") == "+919812345671"
    assert from_vendor("+91 98123-45671") == "+919812345671"
    assert from_vendor("short-code") == "shortcode"  # kept (cleaned) for the event to be recorded

"""Fields that do not apply are hidden (real Chromium): the provider form's SMS fallback settings
while fallback is off (its DLT ones while India is off), key/value rows with placeholders, and the
builder's SMS fallback text and DLT template ID for a provider without SMS fallback (or not India)."""

from __future__ import annotations

from tests.campaigns.conftest import make_audience, make_provider, make_template


def test_provider_form_shows_sms_settings_only_with_fallback_on(logged_in_page, live_server):
    page = logged_in_page
    provider = make_provider()
    page.goto(f"{live_server.url}/providers/{provider.pk}/edit/")
    sender, dlt = page.locator("#wrap-sms_sender_id"), page.locator("#wrap-dlt_template_ids")
    assert not sender.is_visible() and not dlt.is_visible()
    page.check("#id_sms_fallback")
    assert sender.is_visible() and not dlt.is_visible()
    page.check("#id_india")
    assert dlt.is_visible() and page.locator("#wrap-principal_entity_id").is_visible()
    page.uncheck("#id_sms_fallback")
    assert not sender.is_visible() and not dlt.is_visible()
    page.check("#id_sms_fallback")
    page.click("button[data-add-row=sms_params]")
    row = page.locator("#sms_params-rows .kv-row").last
    assert row.locator("input").nth(0).get_attribute("placeholder") == "Name"
    assert row.locator("input").nth(1).get_attribute("placeholder") == "Value"


def test_builder_shows_sms_fields_only_for_a_provider_they_apply_to(logged_in_page, live_server):
    page = logged_in_page
    plain = make_provider(nickname="Plain")
    sms = make_provider(nickname="With SMS", sms_fallback=True)
    india = make_provider(nickname="India", sms_fallback=True, india=True)
    for provider in (plain, sms, india):
        make_template(provider)
    make_audience(2)
    page.goto(f"{live_server.url}/campaigns/new/")
    text, dlt = page.locator("#wrap-sms-fallback-text"), page.locator("#wrap-dlt-template-id")
    page.select_option("#id_provider", str(plain.pk))
    assert not text.is_visible() and not dlt.is_visible()
    page.select_option("#id_provider", str(sms.pk))
    assert text.is_visible() and not dlt.is_visible()
    page.select_option("#id_provider", str(india.pk))
    assert text.is_visible() and dlt.is_visible()


def _visible_inputs(page) -> list[str]:
    """The ids of the form's visible inputs, in the page's order."""
    return page.eval_on_selector_all(
        "form input[id], form select[id], form textarea[id]",
        "els => els.filter(e => e.offsetParent !== null).map(e => e.id)",
    )


def test_each_secret_sits_beside_its_user_or_id_field(logged_in_page, live_server):
    page = logged_in_page
    page.goto(f"{live_server.url}/providers/new/generic_rcs/")
    page.select_option("#id_cfg_auth_type", "basic")
    ids = _visible_inputs(page)
    assert ids.index("id_secret_password") == ids.index("id_cfg_username") + 1, ids
    page.select_option("#id_cfg_auth_type", "oauth2")
    ids = _visible_inputs(page)
    assert "id_cfg_username" not in ids and "id_secret_password" not in ids
    assert ids.index("id_secret_client_secret") == ids.index("id_cfg_client_id") + 1, ids


def test_jiocx_click_domain_shows_only_for_custom_tracking(logged_in_page, live_server):
    page = logged_in_page
    page.goto(f"{live_server.url}/providers/new/jiocx/")
    domain = page.locator("#id_cfg_click_domain")
    assert page.input_value("#id_cfg_click_tracking") == "off"
    assert domain.is_hidden()
    page.select_option("#id_cfg_click_tracking", "custom")
    assert domain.is_visible()
    page.select_option("#id_cfg_click_tracking", "off")
    assert domain.is_hidden()

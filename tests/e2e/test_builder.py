"""Browser: the campaign builder lists only the chosen provider's templates and offers the chosen
audience's attributes for the placeholders (a literal text still allowed)."""

from __future__ import annotations

from playwright.sync_api import expect

from campaigns.models import Campaign, Contact
from tests.campaigns.conftest import make_audience, make_provider, make_template


def test_templates_follow_the_provider_and_placeholders_offer_attributes(logged_in_page, live_server):
    page = logged_in_page
    vendor_a, vendor_b = make_provider(nickname="Vendor A"), make_provider(nickname="Vendor B")
    make_template(vendor_a, name="a_hello", text="Hi {{1}}, code {{2}}")
    make_template(vendor_b, name="b_hello", text="Hello {{1}}")
    audience = make_audience(3)
    Contact.objects.filter(audience=audience).update(attributes={"name": "Asha", "order": "A-1"})

    page.goto(f"{live_server.url}/campaigns/new/")
    template = page.locator("#id_template")
    visible = "options => options.filter(o => !o.hidden && o.value).map(o => o.textContent)"
    page.select_option("#id_provider", label="Vendor A")
    assert template.locator("option").evaluate_all(visible) == [f"a_hello (en) · {vendor_a}"]
    page.select_option("#id_template", label=f"a_hello (en) · {vendor_a}")
    expect(page.locator(".mapping-row")).to_have_count(2)

    # Another provider: the other template list, and a pick that no longer fits is cleared.
    page.select_option("#id_provider", label="Vendor B")
    assert template.locator("option").evaluate_all(visible) == [f"b_hello (en) · {vendor_b}"]
    assert template.input_value() == ""
    expect(page.locator(".mapping-row")).to_have_count(0)

    page.select_option("#id_provider", label="Vendor A")
    page.select_option("#id_template", label=f"a_hello (en) · {vendor_a}")
    expect(page.locator(".mapping-row")).to_have_count(2)
    page.select_option("#id_audience", label=audience.name)
    expect(page.locator("#attribute-names")).to_contain_text("name")
    options = page.locator("#audience-attributes option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["name", "order"]
    assert page.locator("input[name=map_value_1]").get_attribute("list") == "audience-attributes"

    page.fill("input[name=name]", "Built in the browser")
    page.fill("input[name=map_value_1]", "name")
    page.select_option("select[name=map_source_2]", "literal")
    page.fill("input[name=map_value_2]", "SALE30")
    page.click("#campaign-form button[type=submit]")
    expect(page.locator("#estimate .recipients")).to_have_text("3")
    campaign = Campaign.objects.get(name="Built in the browser")
    assert campaign.template.provider_id == vendor_a.pk
    assert campaign.placeholder_mapping == [
        {"source": "attribute", "value": "name"},
        {"source": "literal", "value": "SALE30"},
    ]

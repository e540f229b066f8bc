"""Our click tracking: short links per recipient and URL, redirect, unique + total, bots, 404."""

from __future__ import annotations

import pytest

from campaigns.clicks import CODE_LENGTH, is_preview_bot, shorten_urls
from campaigns.models import Campaign, Message, ShortLink
from tests.api.factories import make_campaign, make_message, make_provider

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sync_tasks")]
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36"
)
BASE = "https://go.example"

CARD = {
    "title": "Sale https://shop.example/t",
    "description": "See https://shop.example/sale. Or https://shop.example/faq?x=1&y=2)",
    "media": {
        "url": "https://cdn.example/img.png",
        "height": "MEDIUM",
        "thumbnail_url": "",
        "content_type": "",
    },
    "suggestions": [
        {"type": "OPEN_URL", "text": "Shop", "postback_data": "shop", "url": "https://shop.example/sale"},
        {"type": "REPLY", "text": "Stop", "postback_data": "https://not-a-link.example"},
        {"type": "DIAL_PHONE", "text": "Call", "postback_data": "call", "phone_number": "+15550001"},
    ],
}


@pytest.fixture(autouse=True)
def click_base(settings):
    settings.CLICK_TRACKING_BASE_URL = BASE


@pytest.fixture
def message() -> Message:
    provider = make_provider()
    return make_message(provider, make_campaign(provider), to="+15550002000")


def codes(text: str) -> list[str]:
    import re

    return re.findall(rf"{BASE}/c/([A-Za-z0-9]+)", text)


def test_shorten_rewrites_open_urls_and_text_urls_but_not_media(message):
    content = {"type": "RICH_CARD", "orientation": "VERTICAL", "card": CARD}
    out = shorten_urls(content, message=message)
    card = out["card"]
    assert card["media"]["url"] == "https://cdn.example/img.png"
    assert card["suggestions"][0]["url"].startswith(f"{BASE}/c/")
    assert card["suggestions"][1]["postback_data"] == "https://not-a-link.example"
    assert card["description"].endswith(")") and ". Or " in card["description"]  # punctuation kept outside
    links = {link.url: link for link in ShortLink.objects.filter(message=message)}
    assert set(links) == {
        "https://shop.example/t",
        "https://shop.example/sale",
        "https://shop.example/faq?x=1&y=2",
    }
    # One link per recipient and URL: the sale URL in text and in the button share a code.
    sale = links["https://shop.example/sale"].code
    assert card["suggestions"][0]["url"] == f"{BASE}/c/{sale}" and sale in card["description"]
    assert all(len(link.code) == CODE_LENGTH for link in links.values())
    assert content["card"]["suggestions"][0]["url"] == "https://shop.example/sale"  # input untouched


def test_shorten_is_idempotent_and_per_recipient(message):
    content = {"type": "TEXT", "text": "Track https://shop.example/o/1", "suggestions": []}
    first = shorten_urls(content, message=message)
    assert shorten_urls(content, message=message) == first  # a retried send carries the same link
    assert shorten_urls(first, message=message) == first  # already short: left alone
    other = make_message(message.provider, message.campaign)
    assert codes(shorten_urls(content, message=other)["text"]) != codes(first["text"])
    assert ShortLink.objects.count() == 2


def test_shorten_carousel_cards(message):
    card = {
        "title": "t",
        "description": "d",
        "media": None,
        "suggestions": [
            {"type": "OPEN_URL", "text": "Go", "postback_data": "go", "url": "http://a.example/1"}
        ],
    }
    content = {"type": "CAROUSEL", "card_width": "MEDIUM", "cards": [card, {**card, "title": "u"}]}
    out = shorten_urls(content, message=message)
    assert out["cards"][0]["suggestions"][0]["url"] == out["cards"][1]["suggestions"][0]["url"]
    assert ShortLink.objects.get().url == "http://a.example/1"


def test_no_urls_no_links(message):
    content = {"type": "TEXT", "text": "Hello", "suggestions": []}
    assert shorten_urls(content, message=message) == content
    assert not ShortLink.objects.exists()


def follow(client, url, ua=PHONE_UA, method="get"):
    return getattr(client, method)(url.removeprefix(BASE), headers={"User-Agent": ua})


def test_follow_redirects_and_counts_unique_and_total(client, message):
    out = shorten_urls(
        {"type": "TEXT", "text": "https://shop.example/a https://shop.example/b"}, message=message
    )
    link_a, link_b = (f"{BASE}/c/{c}" for c in codes(out["text"]))
    response = follow(client, link_a)
    assert response.status_code == 302 and response["Location"] == "https://shop.example/a"
    follow(client, link_a)
    follow(client, link_b)
    a = ShortLink.objects.get(url="https://shop.example/a")
    b = ShortLink.objects.get(url="https://shop.example/b")
    assert (a.click_count, bool(a.first_clicked_at)) == (2, True)
    assert (b.click_count, bool(b.first_clicked_at)) == (1, True)
    message.refresh_from_db()
    assert message.clicked_at and message.status == "read"
    campaign = Campaign.objects.get(pk=message.campaign_id)
    assert campaign.clicked_count == 1  # one recipient clicked, however often


@pytest.mark.parametrize(
    "ua",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "WhatsApp/2.23.20.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "TelegramBot (like TwitterBot)",
        "Twitterbot/1.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (Macintosh) AppleWebKit/600 (KHTML, like Gecko) Version/8.0 Safari/600 (Applebot/0.1)",
        "LinkedInBot/1.0",
        "Discordbot/2.0",
        "Mozilla/5.0 (compatible; Google-RCS-LinkPreview)",
        "",
    ],
)
def test_preview_bots_are_redirected_but_not_counted(client, message, ua):
    out = shorten_urls({"type": "TEXT", "text": "https://shop.example/a"}, message=message)
    response = follow(client, f"{BASE}/c/{codes(out['text'])[0]}", ua=ua)
    assert response.status_code == 302
    link = ShortLink.objects.get()
    assert (link.click_count, link.first_clicked_at, link.bot_count) == (0, None, 1)
    message.refresh_from_db()
    assert message.clicked_at is None


def test_head_requests_are_not_counted(client, message):
    out = shorten_urls({"type": "TEXT", "text": "https://shop.example/a"}, message=message)
    assert follow(client, f"{BASE}/c/{codes(out['text'])[0]}", method="head").status_code == 302
    assert ShortLink.objects.get().click_count == 0


def test_phone_browsers_are_people():
    assert not is_preview_bot(PHONE_UA)
    assert not is_preview_bot(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile Safari"
    )
    assert not is_preview_bot("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/124.0 Safari/537.36")


@pytest.mark.parametrize(
    "path", ["/c/doesnotexist", "/c/", "/c/https:%2F%2Fevil.example", "/c/abc?url=https://evil.example"]
)
def test_unknown_code_is_404_never_a_redirect(client, message, path):
    response = client.get(path, headers={"User-Agent": PHONE_UA})
    assert response.status_code == 404
    assert "Location" not in response


def test_short_links_are_public_and_post_is_refused(client, message):
    out = shorten_urls({"type": "TEXT", "text": "https://shop.example/a"}, message=message)
    url = f"/c/{codes(out['text'])[0]}"
    assert client.get(url, headers={"User-Agent": PHONE_UA}).status_code == 302  # no login needed
    assert client.post(url).status_code == 405


def test_admin_lists_short_links_and_inbox_entries(admin_client, message):
    from campaigns.models import InboxMessage

    shorten_urls({"type": "TEXT", "text": "https://shop.example/a"}, message=message)
    InboxMessage.objects.create(provider=message.provider, phone=message.to, direction="in", text="hi")
    for name in ("shortlink", "inboxmessage"):
        response = admin_client.get(f"/admin/campaigns/{name}/")
        assert response.status_code == 200
    assert "shop.example/a" in admin_client.get("/admin/campaigns/shortlink/").content.decode()
    assert admin_client.get("/admin/campaigns/inboxmessage/?q=hi").status_code == 200


# -- only the template's URLs become short links (no open redirect through contact attributes) ------
def _built(content: dict, name: str):
    from campaigns.engine.build import CampaignContext, outbound
    from campaigns.models import Contact
    from tests.api.factories import make_template

    provider = make_provider()
    campaign = make_campaign(
        provider,
        template=make_template(provider, content=content),
        placeholder_mapping=[{"source": "attribute", "value": "name"}],
        click_tracking=Campaign.ClickTracking.OURS,
    )
    contact = Contact.objects.create(
        audience=campaign.audience, phone="+15550009999", attributes={"name": name}
    )
    message = make_message(provider, campaign, contact=contact)
    return message, outbound(message, CampaignContext.load(campaign), provider).content


def test_url_in_a_contact_attribute_is_not_shortened(message):
    built, content = _built(
        {"type": "TEXT", "text": "Hi {{1}}", "suggestions": []}, "https://evil.example/phish"
    )
    assert content["text"] == "Hi https://evil.example/phish"
    assert not ShortLink.objects.filter(message=built).exists()


def test_template_url_with_a_dynamic_suffix_is_shortened(message):
    content = {
        "type": "TEXT",
        "text": "Hi {{1}} see https://shop.example/offer",
        "suggestions": [
            {"type": "OPEN_URL", "text": "Go", "postback_data": "go", "url": "https://shop.example/u/{{1}}"}
        ],
    }
    built, out = _built(content, "asha")
    assert out["suggestions"][0]["url"].startswith(f"{BASE}/c/") and f"{BASE}/c/" in out["text"]
    assert sorted(ShortLink.objects.filter(message=built).values_list("url", flat=True)) == [
        "https://shop.example/offer",
        "https://shop.example/u/asha",
    ]


@pytest.mark.parametrize("value", ["@evil.com", ".evil.com", "\\evil.com", ":1@evil.com", "%40evil.com"])
def test_a_dynamic_url_suffix_cannot_change_the_host(value):
    from templates_app.rendering import RenderError, render_string

    with pytest.raises(RenderError):
        render_string("https://shop.example{{1}}", [value], url=True)
    assert (
        render_string("https://shop.example{{1}}", ["/p?q=a@b"], url=True) == "https://shop.example/p?q=a%40b"
    )

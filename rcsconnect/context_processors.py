from django.http import HttpRequest

NAVIGATION = (
    ("Providers", "providers:list"),
    ("Templates", "templates_app:list"),
    ("Audiences", "campaigns:audience_list"),
    ("Campaigns", "campaigns:list"),
    ("Inbox", "campaigns:inbox"),
    ("Stats", "campaigns:stats"),
)


def navigation(request: HttpRequest) -> dict:
    return {"NAVIGATION": NAVIGATION}

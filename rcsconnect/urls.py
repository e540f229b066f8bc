from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from campaigns.home_views import home
from campaigns.link_views import follow_short_link
from providers.callbacks import CallbackView

from . import contract, views
from .login import LoginView

urlpatterns = [
    # Vendor callbacks and short links first: every pattern listed before a URL is tried on each
    # request for it, and these two take most of the traffic.
    path("callbacks/<str:token>/", CallbackView.as_view(), name="callback"),
    path("c/<str:code>", follow_short_link, name="short_link"),
    path("", home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Pages outside base.html (the admin's, a browser's own guess) ask for /favicon.ico.
    path("favicon.ico", views.favicon, name="favicon"),
    path("audit/", views.audit_log, name="audit_log"),
    path("profile/", views.profile, name="profile"),
    path("profile/timezone/", views.profile_timezone, name="profile_timezone"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("rcsconnect.api_urls")),
    path("contract/", contract.index, name="contract_index"),
    path("contract/<slug:name>.schema.json", contract.schema, name="contract_schema"),
    path("providers/", include("providers.urls")),
    path("templates/", include("templates_app.urls")),
    path("webhooks/", include("rcsconnect.webhooks.urls")),
    path("", include("campaigns.urls")),
]

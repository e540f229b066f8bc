from django.urls import path

from . import views

app_name = "campaigns"
urlpatterns = [
    path("campaigns/", views.CampaignListView.as_view(), name="list"),
    path("campaigns/<int:pk>/", views.CampaignDetailView.as_view(), name="detail"),
    path("audiences/", views.AudienceListView.as_view(), name="audience_list"),
    path("audiences/<int:pk>/", views.AudienceDetailView.as_view(), name="audience_detail"),
    path("inbox/", views.InboxView.as_view(), name="inbox"),
    path("stats/", views.StatsView.as_view(), name="stats"),
]

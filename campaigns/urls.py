from django.urls import path

from . import audience_views, campaign_views, segment_views, views_inbox, views_stats

app_name = "campaigns"
urlpatterns = [
    path("campaigns/", campaign_views.campaign_list, name="list"),
    path("campaigns/new/", campaign_views.campaign_edit, name="create"),
    path("campaigns/builder/mapping/", campaign_views.campaign_mapping, name="mapping"),
    path("campaigns/builder/segments/", campaign_views.campaign_segments, name="segments"),
    path("campaigns/builder/live/", campaign_views.campaign_live, name="builder_live"),
    path("campaigns/<int:pk>/", campaign_views.campaign_detail, name="detail"),
    path("campaigns/<int:pk>/edit/", campaign_views.campaign_edit, name="edit"),
    path("campaigns/<int:pk>/variants/", campaign_views.campaign_variants, name="variants"),
    path("campaigns/<int:pk>/progress/", campaign_views.campaign_progress, name="progress"),
    path("campaigns/<int:pk>/<slug:action>/", campaign_views.campaign_action, name="action"),
    path("audiences/", audience_views.audience_list, name="audience_list"),
    path("audiences/<int:pk>/", audience_views.audience_detail, name="audience_detail"),
    path("audiences/imports/<int:pk>/progress/", audience_views.import_progress, name="import_progress"),
    path("audiences/imports/<int:pk>/report/", audience_views.import_report, name="import_report"),
    path("segments/", segment_views.segment_list, name="segment_list"),
    path("segments/new/", segment_views.segment_edit, name="segment_create"),
    path("segments/count/", segment_views.segment_count, name="segment_count"),
    path("segments/<int:pk>/", segment_views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete/", segment_views.segment_delete, name="segment_delete"),
    path("inbox/", views_inbox.inbox_list, name="inbox"),
    path("inbox/<int:provider_id>/<str:phone>/", views_inbox.inbox_thread, name="inbox_thread"),
    path("inbox/<int:provider_id>/<str:phone>/reply/", views_inbox.inbox_reply, name="inbox_reply"),
    path("stats/", views_stats.stats_overview, name="stats"),
    path("stats/campaigns/<int:pk>/", views_stats.stats_campaign, name="stats_campaign"),
    path("stats/providers/<int:pk>/", views_stats.stats_provider, name="stats_provider"),
]

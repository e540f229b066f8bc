from django.views.generic import DetailView, ListView, TemplateView

from .models import Audience, Campaign


class CampaignListView(ListView):
    model = Campaign
    template_name = "campaigns/campaign_list.html"


class CampaignDetailView(DetailView):
    model = Campaign
    template_name = "campaigns/campaign_detail.html"


class AudienceListView(ListView):
    model = Audience
    template_name = "campaigns/audience_list.html"


class AudienceDetailView(DetailView):
    model = Audience
    template_name = "campaigns/audience_detail.html"


class InboxView(TemplateView):
    template_name = "campaigns/inbox.html"


class StatsView(TemplateView):
    template_name = "campaigns/stats.html"

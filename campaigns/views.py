from django.views.generic import TemplateView

# Audience and campaign pages live in audience_views.py and campaign_views.py.


class InboxView(TemplateView):
    template_name = "campaigns/inbox.html"

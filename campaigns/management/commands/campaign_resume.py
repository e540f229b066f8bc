from campaigns.management.lifecycle import LifecycleCommand
from campaigns.services import campaign_resume


class Command(LifecycleCommand):
    help = "Resume a campaign (the same function as the campaign page's button)."
    action = staticmethod(campaign_resume)

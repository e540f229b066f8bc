from campaigns.management.lifecycle import LifecycleCommand
from campaigns.services import campaign_launch


class Command(LifecycleCommand):
    help = "Launch a campaign (the same function as the campaign page's button)."
    action = staticmethod(campaign_launch)

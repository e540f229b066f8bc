from campaigns.management.lifecycle import LifecycleCommand
from campaigns.services import campaign_cancel


class Command(LifecycleCommand):
    help = "Cancel a campaign (the same function as the campaign page's button)."
    action = staticmethod(campaign_cancel)

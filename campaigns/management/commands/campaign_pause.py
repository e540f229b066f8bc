from campaigns.management.lifecycle import LifecycleCommand
from campaigns.services import campaign_pause


class Command(LifecycleCommand):
    help = "Pause a campaign (the same function as the campaign page's button)."
    action = staticmethod(campaign_pause)

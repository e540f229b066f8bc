from .audience import Audience, Contact
from .audience_import import AudienceImport
from .campaign import Campaign
from .clicks import ShortLink
from .conversion import Conversion
from .inbox import InboxMessage
from .message import FrequencyRecord, Message, MessageStatus
from .segment import Segment
from .stats import ErrorBucket, StatBucket
from .throttle import ProviderThrottle, SendSlot
from .variant import Variant

__all__ = [
    "Audience",
    "AudienceImport",
    "Campaign",
    "Contact",
    "Conversion",
    "ErrorBucket",
    "FrequencyRecord",
    "InboxMessage",
    "Message",
    "MessageStatus",
    "ProviderThrottle",
    "Segment",
    "SendSlot",
    "ShortLink",
    "StatBucket",
    "Variant",
]

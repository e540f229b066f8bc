from .audience import Audience, Contact
from .campaign import Campaign
from .clicks import ShortLink
from .inbox import InboxMessage
from .message import Message, MessageStatus
from .stats import ErrorBucket, StatBucket

__all__ = [
    "Audience",
    "Campaign",
    "Contact",
    "ErrorBucket",
    "InboxMessage",
    "Message",
    "MessageStatus",
    "ShortLink",
    "StatBucket",
]

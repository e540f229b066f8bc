from .audience import Audience, Contact
from .campaign import Campaign
from .message import Message, MessageStatus
from .stats import ErrorBucket, StatBucket

__all__ = ["Audience", "Campaign", "Contact", "ErrorBucket", "Message", "MessageStatus", "StatBucket"]

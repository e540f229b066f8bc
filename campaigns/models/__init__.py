from .audience import Audience, Contact
from .campaign import Campaign
from .message import Message, MessageStatus

__all__ = ["Audience", "Campaign", "Contact", "Message", "MessageStatus"]

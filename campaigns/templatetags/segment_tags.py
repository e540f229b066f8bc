from django import template

from campaigns.segments import describe

register = template.Library()


@register.filter
def describe_rule(rule: dict) -> str:
    """A segment rule in words (campaigns.segments.describe)."""
    return describe(rule)

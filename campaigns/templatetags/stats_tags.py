from django import template

register = template.Library()


@register.simple_tag
def percent(part, whole) -> str:
    """Bar width in percent (0..100) for a funnel step."""
    if not whole or not part:
        return "0"
    return f"{min(100.0, 100.0 * part / whole):.1f}"


@register.filter
def rate(value) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


@register.filter
def metric_name(value: str) -> str:
    """The name of a rate an A/B test compares (campaigns.stats.METRICS)."""
    from campaigns.stats import METRIC_NAMES

    return METRIC_NAMES.get(value, value)

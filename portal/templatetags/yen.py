"""Money as users read it (docs/domain.md §10): thousands separators and 円 — 200,000円."""

from django import template

register = template.Library()


def format_yen(amount: int) -> str:
    return f"{int(amount):,}円"


@register.filter(name="yen")
def yen_filter(value):
    """{{ amount|yen }} → 200,000円; empty for None or "" (an amount not known yet), so a page
    never prints "None円"."""
    if value in (None, ""):
        return ""
    try:
        return format_yen(int(value))
    except (TypeError, ValueError):
        return value

from datetime import date, datetime

from django import template
from django.utils import timezone

from portal.wareki import to_wareki

register = template.Library()


@register.filter(name="wareki")
def wareki_filter(value):
    """{{ some_date|wareki }} → 令和7年5月1日 (2025-05-01); empty for None."""
    if value in (None, ""):
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return f"{to_wareki(value)}"
    return value

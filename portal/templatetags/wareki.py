from datetime import date, datetime

from django import template
from django.template.defaultfilters import time as time_filter
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


@register.filter(name="wareki_datetime")
def wareki_datetime_filter(value):
    """{{ some_datetime|wareki_datetime }} → 令和7年5月1日 9:05 (local time); empty for None."""
    if value in (None, ""):
        return ""
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{to_wareki(local.date())} {local.hour}:{local.minute:02d}"
    return wareki_filter(value)


@register.filter(name="wareki_time")
def wareki_time_filter(value):
    """{{ some_datetime|wareki_time }} → 令和7年5月1日 09:05 (local time, zero-padded): what
    `{{ value|wareki }} {{ value|time:"H:i" }}` gives, with one conversion to local time
    (for a row of a long list)."""
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{to_wareki(local.date())} {local.hour:02d}:{local.minute:02d}"
    return f"{wareki_filter(value)} {time_filter(value, 'H:i')}"

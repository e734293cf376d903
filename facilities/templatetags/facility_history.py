from django import template

from facilities.activity import facility_summary

register = template.Library()


@register.filter(name="facility_summary")
def facility_summary_filter(activity) -> str:
    """{{ activity|facility_summary }}: the entry in the facility's own words."""
    return facility_summary(activity)

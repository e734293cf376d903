"""Words that must stay whole on a phone (docs/decisions.md D1.7)."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter(name="email")
def email_filter(value):
    """{{ address|email }} → the address in a span that may break only after the @ and
    before a dot of the domain (never letter by letter); empty for None or ""."""
    if value in (None, ""):
        return ""
    local, at, domain = str(value).partition("@")
    if not at:
        return format_html('<span class="email">{}</span>', value)
    first, *rest = domain.split(".")
    domain_html = format_html("{}", first)
    for part in rest:
        domain_html = format_html("{}<wbr>.{}", domain_html, part)
    return format_html('<span class="email">{}@<wbr>{}</span>', local, domain_html)

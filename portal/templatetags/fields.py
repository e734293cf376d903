"""A field's input tied to what is said about it: `{{ field|described }}` renders the widget
with `aria-describedby` naming its help text and its error, and `aria-invalid` while it is in
error, so a screen reader reads the error when the input is reached."""

from django import template

register = template.Library()


@register.filter(name="described")
def described(bound_field):
    ids = []
    if bound_field.help_text:
        ids.append(f"{bound_field.auto_id}_helptext")
    attrs = {}
    if bound_field.errors:
        ids.append(f"{bound_field.auto_id}_error")
        attrs["aria-invalid"] = "true"
    if ids:
        attrs["aria-describedby"] = " ".join(ids)
    return bound_field.as_widget(attrs=attrs)

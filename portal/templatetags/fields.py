"""A field's input tied to what is said about it: `{{ field|described }}` renders the widget
with `aria-describedby` naming its help text and its error, and `aria-invalid` while it is in
error, so a screen reader reads the error when the input is reached."""

from django import template
from django.forms.renderers import DjangoTemplates
from django.forms.widgets import Input
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData, mark_safe

register = template.Library()

# Django's templates of these inputs are only `{% include "django/forms/widgets/input.html" %}`
# (one <input> and its attributes): `_plain_input` writes the same text without the three
# templates each one costs (tests/portal/test_fields_tag.py compares the two).
PLAIN_INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in ("checkbox", "color", "date", "datetime", "email", "file", "hidden", "number",
                 "password", "search", "tel", "text", "time", "url")
)


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
    widget = bound_field.field.widget
    if (isinstance(widget, Input) and widget.template_name in PLAIN_INPUT_TEMPLATES
            and type(bound_field.form.renderer) is DjangoTemplates):
        return _plain_input(bound_field, attrs)
    return bound_field.as_widget(attrs=attrs)


def _text(value) -> str:
    """`{{ value|stringformat:'s' }}` with autoescaping, as attrs.html prints a value."""
    text = "%s" % (str(value) if isinstance(value, tuple) else value)
    return text if isinstance(value, SafeData) else escape(text)


def _plain_input(bound_field, attrs: dict) -> str:
    """What `bound_field.as_widget(attrs=attrs)` renders through input.html and attrs.html."""
    widget = bound_field.field.widget
    if bound_field.field.localize:
        widget.is_localized = True
    attrs = bound_field.build_widget_attrs(attrs, widget)
    if bound_field.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", bound_field.auto_id)
    context = widget.get_context(bound_field.html_name, bound_field.value(), attrs)["widget"]
    parts = [f'<input type="{conditional_escape(context["type"])}" '
             f'name="{conditional_escape(context["name"])}"']
    if context["value"] != None:  # noqa: E711 (the template's own test)
        parts.append(f' value="{_text(context["value"])}"')
    for name, value in context["attrs"].items():
        if value is not False:
            parts.append(f" {conditional_escape(name)}" if value is True
                         else f' {conditional_escape(name)}="{_text(value)}"')
    parts.append(">")
    return mark_safe("".join(parts))  # noqa: S308 (every piece above is escaped)

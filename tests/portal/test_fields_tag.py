"""`{{ field|described }}` writes the plain inputs itself instead of through Django's three
widget templates: the text must stay exactly what the templates give (the accessibility
tests and every form page depend on it)."""

import pytest
from django import forms
from django.utils.functional import lazy
from django.utils.safestring import mark_safe

from facilities.forms import GoLiveForm
from incentives.forms import ActivityReportForm
from payouts.forms import BankAccountForm
from portal.templatetags import fields

lazy_text = lazy(lambda: "例: <みずほ> & \"0001\"", str)


class EveryInputForm(forms.Form):
    name = forms.CharField(max_length=40, help_text="例: 東京営業部")
    email = forms.EmailField(required=False)
    count = forms.IntegerField(min_value=0, max_value=10_000)
    amount = forms.DecimalField(localize=True, required=False)
    secret = forms.CharField(widget=forms.PasswordInput, required=False)
    shown = forms.CharField(widget=forms.PasswordInput(render_value=True), required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)
    agree = forms.BooleanField(required=False)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    fixed = forms.CharField(disabled=True, required=False)
    odd = forms.CharField(required=False, widget=forms.TextInput(attrs={
        "placeholder": lazy_text(), "data-safe": mark_safe("<b>"), "autofocus": True,
        "spellcheck": False, "data-none": None, "size": 20, "data-tuple": (1, 2),
        "id": "own-id", "inputmode": "numeric"}))
    url = forms.URLField(required=False)
    when = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    upload = forms.FileField(required=False, widget=forms.FileInput)


def _through_templates(bound_field, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(fields, "PLAIN_INPUT_TEMPLATES", frozenset())
        return fields.described(bound_field)


FORMS = [
    lambda: EveryInputForm(),
    lambda: EveryInputForm(initial={"name": "<a href=\"x\">&'</a>", "count": 1200,
                                    "amount": "1234.5", "secret": "pw", "shown": "pw",
                                    "hidden": "h\"v", "agree": True, "fixed": "固定"}),
    lambda: EveryInputForm(data={"name": "", "count": "x", "email": "bad", "shown": "s<>",
                                 "agree": "on", "url": "nope", "when": "25:00"}),
    lambda: EveryInputForm(data={}, prefix="p"),
    lambda: EveryInputForm(auto_id=False),
    lambda: EveryInputForm(auto_id="f_%s", data={"name": "名前", "count": "3"}),
    lambda: BankAccountForm(),
    lambda: BankAccountForm(data={"method": "bank", "bank": "０００１", "holder_name": ""}),
    lambda: ActivityReportForm(),
    lambda: ActivityReportForm(data={"activity_from": "令和7年6月1日", "activity_to": "x"}),
    lambda: GoLiveForm(data={"date": "2099-99-99"}),
]


@pytest.mark.parametrize("make_form", FORMS)
def test_described_writes_what_the_widget_templates_write(make_form, monkeypatch):
    form = make_form()
    form.is_bound and form.is_valid()
    for bound_field in form:
        assert fields.described(bound_field) == _through_templates(bound_field, monkeypatch), (
            bound_field.name)


def test_the_plain_inputs_are_written_directly(monkeypatch):
    """The fast path is taken for a text input (not only the template path tested above)."""
    calls = []
    monkeypatch.setattr(forms.BoundField, "as_widget", lambda *a, **k: calls.append(a))
    fields.described(EveryInputForm()["name"])
    assert calls == []

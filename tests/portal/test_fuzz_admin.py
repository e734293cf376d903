"""Generated fuzz tests of the administrators' forms: every admin add form (every model the
superuser may add), the claim review form and the changelist filters, fed by hypothesis with
dates from 0001 to 9999 in several notations, very long text, control characters and huge or
negative numbers. Never a 500; a refused form writes nothing."""

import pytest
from django import forms
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

FUZZED = {"inputs": 0}
FUZZ = settings(max_examples=8, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

_CONTROL = st.sampled_from(["\x01", "\x07", "\x1b", "\u200b", "\ufeff", "\u202e", "\r\n"])
_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=300, max_size=3_000),
    st.just("長" * 10_000),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=10), _CONTROL, st.text(max_size=10)),
    st.sampled_from(["", " ", "=HYPERLINK(\"http://x\")", "<script>alert(1)</script>",
                     "'; DROP TABLE x; --", "１２３４", "令和0年1月1日", "😀" * 50]),
)
_DATES = st.dates().flatmap(lambda d: st.sampled_from([
    d.isoformat(), d.strftime("%Y/%m/%d"), f"{d.year}-{d.month}-{d.day}",
    d.isoformat().translate(str.maketrans("0123456789-", "０１２３４５６７８９－")),
    f"R{d.year % 100}.{d.month}.{d.day}"]))
_NUMBERS = st.one_of(st.integers(min_value=-10**20, max_value=10**20).map(str),
                     st.sampled_from(["", "1e9", "NaN", "-0", "１０", "0x10", "3.5"]))


def _value_for(field: forms.Field, pks: list[int]):
    if isinstance(field, forms.SplitDateTimeField):
        return st.tuples(_DATES, _TEXT)
    if isinstance(field, forms.DateTimeField | forms.DateField):
        return st.one_of(_DATES, _TEXT)
    if isinstance(field, forms.ModelMultipleChoiceField):
        return st.lists(st.one_of(st.sampled_from(pks or [1]), _NUMBERS), max_size=3)
    if isinstance(field, forms.ModelChoiceField):
        return st.one_of(st.sampled_from(pks or [1]), _NUMBERS, _TEXT)
    if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
        return _NUMBERS
    if isinstance(field, forms.BooleanField):
        return st.sampled_from(["on", "", "false"])
    if isinstance(field, forms.ChoiceField):
        choices = [str(value) for value, _label in field.choices if not isinstance(_label, list)]
        return st.one_of(st.sampled_from(choices or [""]), _TEXT)
    return _TEXT


def _post_data(form_class, values: dict) -> dict:
    data = {}
    for name, value in values.items():
        field = form_class.base_fields[name]
        if isinstance(field, forms.SplitDateTimeField):
            data[f"{name}_0"], data[f"{name}_1"] = value
        else:
            data[name] = value
    return data


def _addable_models(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return sorted(
        ((model, model_admin) for model, model_admin in admin.site._registry.items()
         if model_admin.has_add_permission(request)),
        key=lambda pair: pair[0]._meta.label)


def _form_class(model_admin, superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return model_admin.get_form(request, None, change=False)


def _fuzz_add_form(admin_client, model, form_class, strategy):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")

    @FUZZ
    @given(values=strategy)
    def post(values):
        FUZZED["inputs"] += 1
        before = model._default_manager.count()
        response = admin_client.post(url, _post_data(form_class, values))
        assert response.status_code in (200, 302, 400), (model, response.status_code)
        if response.status_code != 302:
            assert model._default_manager.count() == before, model

    post()


def test_every_admin_add_form_survives_fuzzing(admin_client, admin_user):
    from tests.factories import FacilityFactory

    pks = [FacilityFactory().pk, admin_user.pk]
    checked = []
    for model, model_admin in _addable_models(admin_user):
        form_class = _form_class(model_admin, admin_user)
        strategy = st.fixed_dictionaries(
            {name: _value_for(field, pks) for name, field in form_class.base_fields.items()})
        _fuzz_add_form(admin_client, model, form_class, strategy)
        checked.append(model._meta.label)
    assert "facilities.UsageApplication" in checked and "eligibility.ParameterVersion" in checked


@FUZZ
@given(decision=st.one_of(st.sampled_from(["approve", "return", "reject"]), _TEXT),
       amount=_NUMBERS, reason=_TEXT, note=_TEXT)
def test_the_claim_review_form_survives_fuzzing(client, decision, amount, reason, note):
    from portal import roles
    from subsidies.models import Claim
    from tests.factories import claim_under_review, login_admin, make_admin

    FUZZED["inputs"] += 1
    claim = claim_under_review()
    item = claim.items.get()
    login_admin(client, make_admin(roles.REVIEWER, roles.APPROVER))
    response = client.post(reverse("admin:subsidies_claim_review", args=[claim.pk]),
                           {"decision": decision, "amount": amount, "reason": reason,
                            f"note_{item.pk}": note})
    assert response.status_code in (200, 302, 400, 403)
    after = Claim.objects.get(pk=claim.pk)
    if response.status_code != 302:
        assert after.state == "under_review"


@FUZZ
@given(key=st.sampled_from(["state__exact", "q", "o", "p", "submitted_at__gte",
                            "facility__kind__exact", "e", "_changelist_filters"]),
       value=st.one_of(_TEXT.filter(lambda v: "\x00" not in v), _DATES, _NUMBERS))
def test_changelist_filters_survive_fuzzing(admin_client, key, value):
    FUZZED["inputs"] += 1
    for url in ("admin:facilities_usageapplication_changelist",
                "admin:subsidies_claim_changelist", "admin:facilities_facility_changelist"):
        response = admin_client.get(reverse(url), {key: value})
        assert response.status_code in (200, 302, 400)


# ---- what the fuzzing found, kept as plain regression tests


def test_an_autocomplete_field_with_a_malformed_or_huge_key_shows_the_form_again(admin_client):
    for value in ("1e9", str(2**63), "-1", "abc"):
        response = admin_client.post(reverse("admin:subsidies_freereadergrant_add"),
                                     {"facility": value, "free_readers": "1"})
        assert response.status_code == 200


@pytest.mark.parametrize("value", [str(2**63), str(2**70), "-" + str(2**63), "1e9"])
def test_a_choice_of_a_key_no_row_can_have_is_an_error_on_the_form(admin_client, value):
    """SQLite cannot bind an integer beyond 64 bits; the lookup used to fail the page."""
    response = admin_client.post(reverse("admin:auth_group_add"),
                                 {"name": "g", "permissions": [value]})
    assert response.status_code == 200
    response = admin_client.post(reverse("admin:eligibility_parameterversion_add"), {
        "program": value, "version": "1", "effective_from": "2024-01-01", "notice": "x",
        "params": "{}"})
    assert response.status_code == 200
    response = admin_client.post(reverse("admin:account_emailaddress_add"),
                                 {"user": value, "email": "x@example.jp"})
    assert response.status_code == 200


def test_a_periodic_task_with_an_overlong_task_name_shows_the_form_again(admin_client):
    from django_celery_beat.models import PeriodicTask

    response = admin_client.post(reverse("admin:django_celery_beat_periodictask_add"),
                                 {"name": "x", "task": "0" * 300, "enabled": "on"})
    assert response.status_code == 200
    assert not PeriodicTask.objects.filter(name="x").exists()


def test_admin_fuzzing_ran(capsys):
    """Runs last in this file (pytest keeps file order): reports how many inputs were tried."""
    print(f"admin fuzz inputs: {FUZZED['inputs']}")
    assert FUZZED["inputs"] > 0 or pytest.skip("run with the file's other tests")

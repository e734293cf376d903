"""併設 changes only through its workflows (docs/decisions.md D2.5): the facility's admin page
must not let システム管理 set `main_facility` to a chain, a hospital or the facility itself (it
used to, and ended in a 500). The admin shows it read-only; the pairing's confirmation and
dissolution, the master import and the demo data write it through
`facilities.services.set_main_facility`, which refuses a kind other than 施術所, the facility itself
and chains."""

import pytest
from django import forms
from django.db import connection
from django.urls import reverse

from eligibility.models import PendingDetermination
from facilities import services
from facilities.models import Facility
from obligation import services as annex
from obligation.models import AnnexPairing
from portal.errors import ServiceError
from portal.imports import import_kind, run_import
from tests.concurrency import run_in_parallel
from tests.conftest import services_required
from tests.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db

MASTER_HEADER = "code,kind,name,prefecture,account_last4,main_facility_code\n"


def _change_form_data(client, url: str) -> dict:
    """The change form's fields and inline rows as the page shows them, ready to post."""
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
        for row in formset.forms:
            for name in row.fields:
                value = row.initial.get(name)
                data[f"{row.prefix}-{name}"] = getattr(value, "pk", value) or ""
    return data


def _pair():
    main = FacilityFactory(kind="judo", name="主たる接骨院")
    return main, FacilityFactory(kind="judo", name="従たる接骨院", main_facility=main)


# ---------------------------------------------------------------- the admin page


def test_the_admin_shows_the_main_facility_read_only_with_a_link_to_its_pairings(admin_client):
    main, subordinate = _pair()
    other = FacilityFactory(kind="judo")
    url = reverse("admin:facilities_facility_change", args=[subordinate.pk])
    data = _change_form_data(admin_client, url)
    assert "main_facility" not in data
    response = admin_client.post(url, {**data, "main_facility": other.pk, "name": "改称接骨院"})
    assert response.status_code == 302
    subordinate.refresh_from_db()
    assert subordinate.name == "改称接骨院" and subordinate.main_facility_id == main.pk
    page = admin_client.get(url).content.decode()
    assert "主たる接骨院" in page
    assert f'{reverse("admin:obligation_annexpairing_changelist")}?q=' in page


@pytest.mark.parametrize("target", ["itself", "hospital", "subordinate"])
def test_a_main_facility_posted_to_the_admin_changes_nothing_and_is_no_500(admin_client, target):
    main, subordinate = _pair()
    facility = FacilityFactory(kind="judo")
    chosen = {"itself": facility, "hospital": FacilityFactory(kind="hospital"),
              "subordinate": subordinate}[target]
    url = reverse("admin:facilities_facility_change", args=[facility.pk])
    response = admin_client.post(url, {**_change_form_data(admin_client, url),
                                       "main_facility": chosen.pk})
    assert response.status_code in (200, 302)
    assert Facility.objects.get(pk=facility.pk).main_facility_id is None


@pytest.mark.parametrize("side", ["main", "subordinate"])
def test_a_facility_in_an_annex_keeps_a_sejutsu_kind_until_the_annex_ends(admin_client, side):
    main, subordinate = _pair()
    facility = {"main": main, "subordinate": subordinate}[side]
    url = reverse("admin:facilities_facility_change", args=[facility.pk])
    response = admin_client.post(url, {**_change_form_data(admin_client, url),
                                       "kind": "hospital"})
    assert response.status_code == 200
    assert "先に併設申告を解除してください" in " ".join(
        response.context["adminform"].form.errors["kind"])
    assert Facility.objects.get(pk=facility.pk).kind == "judo"
    alone = FacilityFactory(kind="judo")
    url = reverse("admin:facilities_facility_change", args=[alone.pk])
    response = admin_client.post(url, {**_change_form_data(admin_client, url), "kind": "ama"})
    assert response.status_code == 302 and Facility.objects.get(pk=alone.pk).kind == "ama"


# ---------------------------------------------------------------- the one writer


@pytest.mark.parametrize(("case", "message"), [
    ("itself", "自分自身"),
    ("hospital_main", "施術所どうし"),
    ("hospital_subordinate", "施術所どうし"),
    ("main_is_a_subordinate", "主たる施術所にはなれません"),
    ("subordinate_is_a_main", "従たる施術所にはなれません"),
])
def test_set_main_facility_refuses_what_no_annex_may_be(case, message):
    main, subordinate = _pair()
    judo = FacilityFactory(kind="judo")
    facility, chosen = {
        "itself": (judo, judo),
        "hospital_main": (judo, FacilityFactory(kind="hospital")),
        "hospital_subordinate": (FacilityFactory(kind="clinic"), judo),
        "main_is_a_subordinate": (judo, subordinate),
        "subordinate_is_a_main": (main, judo),
    }[case]
    before = dict(Facility.objects.values_list("pk", "main_facility_id"))
    with pytest.raises(ServiceError) as refused:
        services.set_main_facility(facility=facility, main=chosen)
    assert message in refused.value.message
    assert dict(Facility.objects.values_list("pk", "main_facility_id")) == before


def test_set_main_facility_sets_and_ends_an_annex_with_history_and_marks_both_results(
        django_capture_on_commit_callbacks):
    main, subordinate = FacilityFactory(kind="judo"), FacilityFactory(kind="ama")
    with django_capture_on_commit_callbacks():
        services.set_main_facility(facility=subordinate, main=main)
    assert Facility.objects.get(pk=subordinate.pk).main_facility_id == main.pk
    assert set(PendingDetermination.objects.values_list("facility_id", flat=True)) == {
        main.pk, subordinate.pk}
    PendingDetermination.objects.all().delete()
    with django_capture_on_commit_callbacks():
        services.set_main_facility(facility=subordinate, main=None)
    assert Facility.objects.get(pk=subordinate.pk).main_facility_id is None
    assert set(PendingDetermination.objects.values_list("facility_id", flat=True)) == {
        main.pk, subordinate.pk}
    assert [h.main_facility_id for h in subordinate.history.order_by("history_id")] == [
        None, main.pk, None]


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_annexes_never_make_a_chain():
    """A ← B and B ← C at the same moment: both lock B, so the second sees the first."""
    if connection.vendor != "postgresql":
        if services_required():
            pytest.fail("needs PostgreSQL in CI")
        pytest.skip("row locks are tested on PostgreSQL")
    a, b, c = (FacilityFactory(kind="judo") for _ in range(3))
    outcomes = run_in_parallel([
        lambda: services.set_main_facility(facility=Facility.objects.get(pk=b.pk),
                                           main=Facility.objects.get(pk=a.pk)),
        lambda: services.set_main_facility(facility=Facility.objects.get(pk=c.pk),
                                           main=Facility.objects.get(pk=b.pk)),
    ])
    assert sum(isinstance(outcome, ServiceError) for outcome in outcomes) == 1
    assert sum(isinstance(outcome, Facility) for outcome in outcomes) == 1
    mains = dict(Facility.objects.values_list("pk", "main_facility_id"))
    assert not (mains[b.pk] == a.pk and mains[c.pk] == b.pk)


# ---------------------------------------------------------------- the pairing workflow


def test_a_pairing_is_refused_for_a_subordinate_that_the_master_made_a_main():
    main, subordinate = _pair()  # set by the master import, without a pairing
    other = FacilityFactory(kind="judo")
    with pytest.raises(ServiceError) as refused:
        annex.propose_annex(user=make_staff(main), facility=main, partner=other,
                            facility_is_main=False)
    assert "従たる施術所にはなれません" in refused.value.message
    assert not AnnexPairing.objects.exists()


def test_a_pairing_whose_confirmation_would_make_a_chain_is_refused_and_stays_proposed():
    main, subordinate = FacilityFactory(kind="judo"), FacilityFactory(kind="judo")
    pairing = annex.propose_annex(user=make_staff(main), facility=main, partner=subordinate,
                                  facility_is_main=True)
    third = FacilityFactory(kind="judo")
    services.set_main_facility(facility=third, main=subordinate)  # e.g. the master import
    with pytest.raises(ServiceError) as refused:
        annex.confirm_annex(pairing=pairing, actor=make_staff(subordinate))
    assert "従たる施術所にはなれません" in refused.value.message
    assert AnnexPairing.objects.get(pk=pairing.pk).state == "proposed"
    assert Facility.objects.get(pk=subordinate.pk).main_facility_id is None


def test_a_confirmed_and_dissolved_pairing_writes_through_the_one_writer():
    main, subordinate = FacilityFactory(kind="judo"), FacilityFactory(kind="acupuncture")
    pairing = annex.propose_annex(user=make_staff(main), facility=main, partner=subordinate,
                                  facility_is_main=True)
    staff = make_staff(subordinate)
    annex.confirm_annex(pairing=pairing, actor=staff)
    assert Facility.objects.get(pk=subordinate.pk).main_facility_id == main.pk
    annex.dissolve_annex(pairing=AnnexPairing.objects.get(pk=pairing.pk), actor=staff)
    assert Facility.objects.get(pk=subordinate.pk).main_facility_id is None


# ---------------------------------------------------------------- the master import


def _import(tmp_path, text: str, *, dry_run: bool):
    path = tmp_path / "master.csv"
    path.write_text(MASTER_HEADER + text, encoding="utf-8")
    return run_import(path, import_kind("facility_master"), dry_run=dry_run)


def test_the_master_import_refuses_chains_and_hospitals_on_their_lines(tmp_path):
    main = FacilityFactory(kind="judo", code="契1000")
    FacilityFactory(kind="judo", code="契1001", main_facility=main)
    FacilityFactory(kind="hospital", code="0110113719")
    lines = (
        "契1002,judo,連なる院,13,1234,契1001\n"       # 2: its main is a subordinate
        "契1000,judo,主たる院,13,1234,契1003\n"       # 3: a main cannot become a subordinate
        "契1003,judo,新しい主たる院,13,1234,\n"        # 4: new, no 併設
        "契1004,judo,病院に併設,13,1234,0110113719\n"  # 5: a hospital as main
        "契1001,ama,種別の変更,13,1234,契1000\n"      # 6: fine (its 併設 stays)
        "契1005,judo,よい従たる院,13,1234,契1003\n"    # 7: fine
        "契1006,judo,孫の院,13,1234,契1005\n"          # 8: a chain within the file
    )
    checked = _import(tmp_path, lines, dry_run=True)
    errors = {error["line"]: error["message"] for error in checked.errors}
    assert set(errors) == {2, 3, 5, 8}
    assert all(message.startswith("main_facility_code: ") for message in errors.values())
    assert "主たる施術所にはなれません" in errors[2] and "従たる施術所にはなれません" in errors[3]
    assert "施術所どうし" in errors[5] and "病院" in errors[5]
    assert "主たる施術所にはなれません" in errors[8]
    assert not Facility.objects.filter(code="契1003").exists()
    done = _import(tmp_path, lines, dry_run=False)
    assert {error["line"]: error["message"] for error in done.errors} == errors
    mains = {f.code: (f.main_facility.code if f.main_facility else "")
             for f in Facility.objects.select_related("main_facility")}
    assert mains == {"契1000": "", "契1001": "契1000", "0110113719": "", "契1003": "",
                     "契1005": "契1003"}
    assert Facility.objects.get(code="契1001").kind == "ama"
    assert (done.new, done.updated, done.error_lines) == (2, 1, 4)


def test_the_master_import_moves_and_ends_annexes_through_the_one_writer(tmp_path):
    main = FacilityFactory(kind="judo", code="契1000")
    subordinate = FacilityFactory(kind="judo", code="契1001", main_facility=main)
    done = _import(tmp_path, (
        "契1001,ama,独立した院,13,1234,\n"      # the 併設 ends and the kind changes
        "契1000,judo,主たる院,13,1234,契1002\n"  # the former main is now a subordinate
        "契1002,ama,新しい主たる院,13,1234,\n"
    ), dry_run=False)
    assert done.errors == []
    subordinate.refresh_from_db()
    assert subordinate.kind == "ama" and subordinate.main_facility_id is None
    assert Facility.objects.get(code="契1000").main_facility.code == "契1002"
    # One history row per line: the fields and the 併設 are saved together.
    assert [(h.name, h.main_facility_id) for h in subordinate.history.order_by("history_id")
            ][-1] == ("独立した院", None)
    assert Facility.objects.get(code="契1000").history.count() == 2

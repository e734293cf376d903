"""The admin fuzz of every CSV import (docs/architecture.md#other-batches): a NUL byte, then another
control character, in each column in turn, uploaded and confirmed through the admin pages as an
administrator would. Never a 500; the job ends (an error on the line, or 「取り込めませんでした」 with why) and
the refused line writes nothing. Every import the kernel's registry names (portal/imports.py
KINDS) is found through its admin page, so a new kind without a sample line here fails; the
insured-person registry, which reads its files with the same kernel, is fuzzed the same way."""

import csv
import io

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal import imports, roles
from portal.admin_imports import CsvImportExportAdmin
from portal.models import ImportJob
from tests.factories import FacilityFactory, login_admin, make_admin

pytestmark = pytest.mark.django_db

CONTROL = ["\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9f", "\t", "\n",
           "\r"]


def _samples(code: str) -> dict[str, dict[str, str]]:
    """A line each kind takes as it is (checked below), by column."""
    return {
        "facility_master": {
            "code": "契9001", "kind": "judo", "name": "試験接骨院", "prefecture": "13",
            "postcode": "105-0011",
            "address": "港区1-1", "founder_name": "開設者", "phone": "03-1111-2222",
            "account_last4": "1234", "paper_claims": "0", "main_facility_code": ""},
        "monthly_statistics": {
            "facility_code": code, "year_month": "2024-05", "receipts": "100",
            "card_users": "10", "usage_count": "12"},
    }


def _csv(row: dict[str, str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(row))
    writer.writerow(list(row.values()))
    return buffer.getvalue().encode("utf-8")


def _with(value: str, character: str) -> str:
    return value[:1] + character + value[1:]  # inside the value, also where it is blank


def _characters(index: int) -> list[str]:
    """NUL in every column, another control character in each in turn, every one in the first."""
    return ["\x00", *(CONTROL if index == 0 else [CONTROL[index % len(CONTROL)]])]


def _line(character: str) -> int:
    """The line a refused record is reported on: the kernel counts the file's lines, and a
    line break inside a quoted cell starts one."""
    return 3 if character in "\n\r" else 2


def _import_pages() -> dict[str, tuple[str, object]]:
    """Registry name → (admin URL prefix, model) of the admin page that imports it."""
    pages = {}
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, CsvImportExportAdmin):
            pages[model_admin.import_kind_name] = (
                f"admin:{model._meta.app_label}_{model._meta.model_name}", model)
    return pages


def _count(model) -> int:
    return model._default_manager.count()


def test_every_registered_import_has_a_page_and_a_sample_line():
    assert set(_import_pages()) == set(imports.KINDS) == set(_samples("x"))


@pytest.mark.parametrize("name", sorted(imports.KINDS))
def test_control_characters_in_every_column_of_every_import(client, django_capture_on_commit_callbacks,
                                                             name):
    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    facility = FacilityFactory(kind="clinic")
    prefix, model = _import_pages()[name]
    sample = _samples(facility.code)[name]
    assert list(sample) == imports.import_kind(name).column_names

    def run(row: dict[str, str]) -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse(f"{prefix}_import"), {
                "file": SimpleUploadedFile("fuzz.csv", _csv(row), "text/csv")})
        assert response.status_code == 302, (name, row)
        job = ImportJob.objects.latest("pk")
        assert job.state in ("checked", "failed"), (name, row, job.state)
        if job.state == "checked":
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(reverse(f"{prefix}_import_confirm", args=[job.pk]))
            assert response.status_code == 302
            job.refresh_from_db()
            assert job.state in ("done", "failed"), (name, row, job.state)
        if job.state == "failed":
            assert job.failure.strip()
        page = client.get(reverse(f"{prefix}_import_job", args=[job.pk]))
        assert page.status_code == 200
        return job

    # The sample itself is taken (so that a refusal below is the character's doing).
    kept = set(model._default_manager.values_list("pk", flat=True))
    job = run(sample)
    assert (job.state, job.error_count, job.new_count) == ("done", 0, 1)
    assert _count(model) == len(kept) + 1
    model._default_manager.exclude(pk__in=kept).delete()
    before = _count(model)
    for index, column in enumerate(sample):
        for character in _characters(index):
            job = run({**sample, column: _with(sample[column], character)})
            assert job.error_count == 1, (name, column, repr(character), job.errors)
            assert job.errors[0]["line"] == _line(character)
            assert job.errors[0]["message"].startswith(f"{column}: 使用できない文字")
            assert _count(model) == before, (name, column, repr(character))


def test_control_characters_in_every_column_of_the_insured_person_registry(client):
    from cardreader.imports import COLUMNS
    from cardreader.models import InsuredPerson

    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    names = [column[0] if isinstance(column, tuple) else column for column in COLUMNS]
    sample = dict.fromkeys(names, "1")
    sample.update({"issuer": "CN=JPKI,C=JP", "serial": "1001", "insurer_number": "06132013",
                   "name": "山田 太郎", "name_kana": "ヤマダ タロウ", "birth_date": "1980-04-01",
                   "copay_ratio": "30", "valid_from": "2020-04-01", "valid_to": "",
                   "lost_on": ""})
    for index, column in enumerate(names):
        for character in _characters(index):
            for button in ("_check", "_import"):
                response = client.post(reverse("admin:cardreader_insuredperson_import"), {
                    "file": SimpleUploadedFile("daicho.csv", _csv({
                        **sample, column: _with(sample[column], character)})), button: "1"})
                assert response.status_code == 200, (column, repr(character))
                outcome = response.context["outcome"]
                assert outcome is not None and not outcome.saved
                assert outcome.result.errors[0]["line"] == _line(character)
                assert outcome.result.errors[0]["message"].startswith(f"{column}: 使用できない文字")
                assert not InsuredPerson.objects.exists()

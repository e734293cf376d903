"""The insured-person registry: its CSV import through the import kernel (a dry run writes
nothing, errors by line, a file with any error saves nothing, an absent optional column
keeps the registry's value), the cells normalised as the admin form does, no 12-digit number
ever admitted, a row marked lost (資格喪失) with its date, and the trusted CAs in the admin."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cardreader import imports, services
from cardreader.models import InsuredPerson, TrustedIssuer
from portal import roles
from portal.errors import NotPermitted, ServiceError
from tests.cardreader.pki import authority, card_certificate
from tests.cardreader.test_api import register
from tests.factories import login_admin, make_admin

pytestmark = pytest.mark.django_db

ISSUER = authority().certificate.subject.rfc4514_string()
HEADER = ("issuer,serial,insurer_number,symbol,number,branch,name,name_kana,birth_date,"
          "copay_ratio,valid_from,valid_to,lost_on")


def line(serial="5001", insurer="06132013", symbol="東京", number="1234", branch="01",
         name="山田 太郎", kana="ヤマダ タロウ", birth="1980-04-01", copay="30",
         valid_from="2020-04-01", valid_to="", lost_on="") -> str:
    return ",".join([f'"{ISSUER}"', serial, insurer, symbol, number, branch, name, kana, birth,
                     copay, valid_from, valid_to, lost_on])


def upload(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile("registry.csv", "\n".join([header, *lines]).encode(encoding))


@pytest.fixture
def system_admin():
    return make_admin(roles.SYSTEM_ADMIN)


def run(actor, *lines, dry_run=False, **options):
    return imports.import_registry(actor=actor, upload=upload(*lines, **options), dry_run=dry_run)


# ---------------------------------------------------------------- the import


def test_a_dry_run_writes_nothing_and_says_what_would_happen(system_admin):
    outcome = run(system_admin, line("5001"), line("5002"), dry_run=True)
    assert (outcome.result.lines, outcome.result.new, outcome.saved) == (2, 2, False)
    assert not InsuredPerson.objects.exists()


def test_an_import_writes_then_updates_then_finds_nothing_changed(system_admin):
    outcome = run(system_admin, line("5001"), line("5002"))
    assert (outcome.result.new, outcome.saved) == (2, True)
    person = InsuredPerson.objects.get(serial="5001")
    assert (person.issuer, person.insurer_number, person.copay_ratio, person.valid_to) == (
        ISSUER, "06132013", 30, None)
    outcome = run(system_admin, line("5001", copay="20"), line("5002"))
    assert (outcome.result.updated, outcome.result.unchanged) == (1, 1)
    assert InsuredPerson.objects.get(serial="5001").copay_ratio == 20


def test_errors_are_listed_by_line_and_a_file_with_any_error_saves_nothing(system_admin):
    lines = [line("5001"), line("5002", insurer="1234567"), line("5003"),
             line("5004", birth="2020-02-30"), line("5005", kana="Yamada")]
    checked = run(system_admin, *lines, dry_run=True)
    assert [error["line"] for error in checked.result.errors] == [3, 5, 6]
    assert "保険者番号は数字8桁" in checked.result.errors[0]["message"]
    assert "2月に30日はありません" in checked.result.errors[1]["message"]
    assert "カタカナ" in checked.result.errors[2]["message"]
    imported = run(system_admin, *lines)
    assert (imported.saved, imported.result.error_lines) == (False, 3)
    assert not InsuredPerson.objects.exists()  # not even lines 2 and 4


def test_the_same_certificate_twice_in_a_file_is_an_error(system_admin):
    outcome = run(system_admin, line("5001"), line("05001"), dry_run=True)
    assert outcome.result.errors == [{"line": 3, "message": "2行目と同じ対象の行です。1行にまとめてください。"}]


def test_a_missing_required_column_refuses_the_whole_file(system_admin):
    with pytest.raises(ServiceError) as refused:
        run(system_admin, line(), header=HEADER.replace("insurer_number", "hokensha"))
    assert "insurer_number" in refused.value.message


def test_an_absent_optional_column_keeps_the_registrys_value(system_admin):
    run(system_admin, line("5001", lost_on="2024-10-01"))
    header = HEADER.removesuffix(",valid_to,lost_on")
    row = line("5001", name="山田 花子").rsplit(",", 2)[0]
    outcome = run(system_admin, row, header=header)
    assert outcome.result.updated == 1
    person = InsuredPerson.objects.get(serial="5001")
    assert (person.name, person.lost_on) == ("山田 花子", date(2024, 10, 1))
    # A present but empty cell clears it.
    run(system_admin, line("5001", lost_on=""))
    assert InsuredPerson.objects.get(serial="5001").lost_on is None


def test_dates_are_checked_with_the_registrys_values_when_a_column_is_absent(system_admin):
    run(system_admin, line("5001", lost_on="2022-01-01"))
    header = HEADER.removesuffix(",valid_to,lost_on")
    outcome = run(system_admin, line("5001", valid_from="2023-01-01").rsplit(",", 2)[0],
                  header=header)
    assert outcome.saved is False
    assert "資格喪失日が資格の有効開始日より前" in outcome.result.errors[0]["message"]


def test_cells_are_normalised(system_admin):
    outcome = run(system_admin, line("０００５００１", insurer="０６１３２０１３", branch="1",
                                     kana="やまだ　ﾀﾛｳ", copay="3割", birth="昭和55年4月1日",
                                     valid_from="R2.4.1", valid_to="2026/3/31"))
    assert outcome.saved, outcome.result.errors
    person = InsuredPerson.objects.get()
    assert (person.serial, person.insurer_number, person.branch, person.name_kana) == (
        "5001", "06132013", "01", "ヤマダ タロウ")
    assert (person.copay_ratio, person.birth_date, person.valid_from, person.valid_to) == (
        30, date(1980, 4, 1), date(2020, 4, 1), date(2026, 3, 31))


def test_a_shift_jis_file_is_read(system_admin):
    outcome = run(system_admin, line("5001"), encoding="cp932")
    assert outcome.saved and InsuredPerson.objects.get().name == "山田 太郎"


@pytest.mark.parametrize("cells", [
    {"serial": "123456789012"}, {"number": "123456789012"}, {"symbol": "A123456789012"},
    {"name": "山田 123456789012"}, {"number": "1234-5678-9012"}, {"symbol": "1234 5678 9012"},
    {"name": "１２３４５６７８９０１２"},
])
def test_a_twelve_digit_number_is_never_admitted_nor_echoed(system_admin, cells):
    from tests.conftest import TWELVE_DIGITS

    outcome = run(system_admin, line("5001" if "serial" not in cells else cells.pop("serial"),
                                     **cells))
    assert outcome.result.error_lines == 1
    message = outcome.result.errors[0]["message"]
    assert "12桁の数字" in message and not TWELVE_DIGITS.search(message)
    assert not InsuredPerson.objects.exists()


def test_an_issuer_is_stored_as_the_certificate_writes_it(system_admin):
    assert imports.clean_issuer(f"  {ISSUER}  ") == ISSUER
    with pytest.raises(ValueError, match="RFC 4514"):
        imports.clean_issuer("CN=JPKI Test User Authentication CA, O=JPKI Test, C=JP")
    card = card_certificate(5009, not_after=date(2030, 1, 1))
    assert imports.clean_issuer(card.issuer) == card.issuer


def test_importing_needs_its_permission():
    viewer = make_admin(roles.VIEWER)
    with pytest.raises(NotPermitted):
        run(viewer, line(), dry_run=True)


# ---------------------------------------------------------------- 資格喪失


def test_a_record_is_marked_lost_with_a_date(system_admin):
    person = register(card_certificate(5010, not_after=date(2030, 1, 1)))
    services.mark_lost(person=person, lost_on=date(2025, 4, 1), actor=system_admin)
    person.refresh_from_db()
    assert person.lost_on == date(2025, 4, 1)
    assert person.history.first().history_user == system_admin


def test_a_loss_before_the_qualification_began_is_refused(system_admin):
    person = register(card_certificate(5011, not_after=date(2030, 1, 1)))
    with pytest.raises(ServiceError, match="有効開始日"):
        services.mark_lost(person=person, lost_on=date(2019, 1, 1), actor=system_admin)


def test_marking_lost_needs_the_change_permission():
    person = register(card_certificate(5012, not_after=date(2030, 1, 1)))
    with pytest.raises(NotPermitted):
        services.mark_lost(person=person, lost_on=date(2025, 4, 1),
                           actor=make_admin(roles.VIEWER))


# ---------------------------------------------------------------- the admin pages


@pytest.fixture
def admin_client_s(client, system_admin):
    return login_admin(client, system_admin)


def test_the_import_page_checks_then_imports(admin_client_s):
    url = reverse("admin:cardreader_insuredperson_import")
    page = admin_client_s.get(url)
    assert page.status_code == 200 and "insurer_number" in page.content.decode()
    checked = admin_client_s.post(url, {"file": upload(line("5001")), "_check": "1"})
    assert "確認の結果（まだ何も書き込んでいません）" in checked.content.decode()
    assert not InsuredPerson.objects.exists()
    imported = admin_client_s.post(url, {"file": upload(line("5001")), "_import": "1"})
    assert "取り込みました" in imported.content.decode()
    assert InsuredPerson.objects.count() == 1


def test_the_import_page_lists_the_errors_and_saves_nothing(admin_client_s):
    url = reverse("admin:cardreader_insuredperson_import")
    response = admin_client_s.post(url, {"file": upload(line("5001"), line("5002", branch="x")),
                                         "_import": "1"})
    text = response.content.decode()
    assert "取り込めませんでした（何も変更していません）" in text and "3行目" in text
    assert not InsuredPerson.objects.exists()


def test_a_file_that_is_no_csv_is_refused_on_the_page(admin_client_s):
    url = reverse("admin:cardreader_insuredperson_import")
    response = admin_client_s.post(url, {"file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00\x81"),
                                         "_import": "1"})
    assert response.status_code == 200
    assert "文字コード" in response.content.decode()


def test_the_lose_page_records_the_date(admin_client_s):
    person = register(card_certificate(5013, not_after=date(2030, 1, 1)))
    url = reverse("admin:cardreader_insuredperson_lose", args=[person.pk])
    assert admin_client_s.get(url).status_code == 200
    response = admin_client_s.post(url, {"lost_on": "令和7年4月1日"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.lost_on == date(2025, 4, 1)
    response = admin_client_s.post(url, {"lost_on": "2019-01-01"})
    assert response.status_code == 200 and "有効開始日" in response.content.decode()


def test_a_row_typed_in_the_admin_obeys_the_import_rules(admin_client_s):
    url = reverse("admin:cardreader_insuredperson_add")
    values = {"issuer": ISSUER, "serial": "123456789012", "insurer_number": "06132013",
              "symbol": "", "number": "1", "branch": "1", "name": "山田 太郎",
              "name_kana": "やまだ たろう", "birth_date": "1980-04-01", "copay_ratio": "30",
              "valid_from": "2020-04-01", "valid_to": "", "lost_on": ""}
    response = admin_client_s.post(url, values)
    assert response.status_code == 200 and "12桁の数字" in response.content.decode()
    response = admin_client_s.post(url, {**values, "serial": "5014"})
    assert response.status_code == 302
    person = InsuredPerson.objects.get()
    assert (person.branch, person.name_kana) == ("01", "ヤマダ タロウ")


def test_a_trusted_issuer_is_added_from_its_pem_and_its_subject_is_read(admin_client_s):
    url = reverse("admin:cardreader_trustedissuer_add")
    response = admin_client_s.post(url, {"name": "JPKI", "certificate_pem": authority().pem,
                                         "is_active": "on"})
    assert response.status_code == 302
    issuer = TrustedIssuer.objects.get()
    assert issuer.subject == ISSUER
    page = admin_client_s.get(reverse("admin:cardreader_trustedissuer_change", args=[issuer.pk]))
    assert ISSUER in page.content.decode()
    again = admin_client_s.post(url, {"name": "again", "certificate_pem": authority().pem})
    assert again.status_code == 200 and "すでに登録" in again.content.decode()


@pytest.mark.parametrize("pem", ["", "garbage", "card"])
def test_a_pem_that_is_no_ca_certificate_is_refused_next_to_the_field(admin_client_s, pem):
    from cryptography.hazmat.primitives import serialization

    if pem == "card":
        pem = card_certificate(5015, not_after=date(2030, 1, 1)).certificate.public_bytes(
            serialization.Encoding.PEM).decode()
    response = admin_client_s.post(reverse("admin:cardreader_trustedissuer_add"),
                                   {"name": "x", "certificate_pem": pem})
    assert response.status_code == 200
    assert not TrustedIssuer.objects.exists()

"""`manage.py parameters`: show, draft and apply a program's parameter versions through the
same services as the admin. `apply` authenticates the officer `--by` names with password and
authenticator code (portal.officers, as `manage.py payout`), computes and prints the preview,
then applies; the drafter is refused (four-eyes)."""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from eligibility import engine, services
from eligibility.models import Determination, ParameterPreview, ParameterVersion, Program
from portal import roles
from portal.officers import WRONG
from tests.eligibility.test_batch import sejutsu
from tests.factories import PASSWORD, make_admin
from tests.payouts.helpers import totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _code_of_the_last_30_seconds_too(settings):
    settings.MFA_TOTP_TOLERANCE = 1


def cooperation() -> Program:
    return Program.objects.get(code="cooperation-2025")


def parameters(*args, typing: StringIO | None = None) -> list[str]:
    out = StringIO()
    call_command("parameters", *[str(a) for a in args], stdout=out,
                 stdin=typing or StringIO(""))
    return out.getvalue().splitlines()


def typed(user, code: str | None = None) -> StringIO:
    return StringIO(f"{PASSWORD}\n{totp_code(user) if code is None else code}\n")


def params_file(tmp_path, **changes) -> str:
    path = tmp_path / "params.json"
    params = {**engine.parameters_in_force(cooperation()).params, **changes}
    path.write_text(json.dumps(params, ensure_ascii=False), encoding="utf-8")
    return str(path)


def draft(tmp_path, drafter, **changes) -> int:
    lines = parameters("draft", "--program", "cooperation-2025", "--file",
                       params_file(tmp_path, **changes), "--effective-from", "2025-05-01",
                       "--notice", "協力金の増額（試験）", "--by", drafter.email)
    return int(lines[-1])


def test_show_prints_the_parameters_in_force_as_stored():
    lines = parameters("show", "--program", "lump-sum-2024")
    assert json.loads(lines[-1]) == engine.parameters_in_force(
        Program.objects.get(code="lump-sum-2024")).params


def test_draft_then_apply_by_a_second_officer(tmp_path):
    drafter, second = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.SYSTEM_ADMIN)
    paid, unpaid = sejutsu(), sejutsu()
    services.run_eligibility(program=cooperation())
    Determination.objects.filter(facility=paid).update(payout_locked=True)
    assert Determination.objects.get(facility=unpaid).amount == 50000

    number = draft(tmp_path, drafter, amount=70000)
    version = ParameterVersion.objects.get(program=cooperation(), version=number)
    assert (number, version.status, version.created_by, version.params["amount"]) == (
        2, ParameterVersion.Status.DRAFT, drafter, 70000)

    lines = parameters("apply", "--program", "cooperation-2025", "--version", number,
                       "--by", second.email, typing=typed(second))
    output = "\n".join(lines)
    assert "結果が変わる施設: 1" in output and "支給額の増減の合計: +20,000円" in output
    assert "増額 1件 +20,000円" in output and "減額 0件 +0円" in output
    assert "を適用しました" in lines[-1]
    version.refresh_from_db()
    assert version.status == ParameterVersion.Status.ACTIVE
    preview = ParameterPreview.objects.get(version=version)  # kept, as in the admin
    assert (preview.state, preview.paid_up_yen, preview.created_by) == ("done", 20000, second)
    assert engine.parameters_in_force(cooperation()) == version
    assert Determination.objects.get(facility=paid).amount == 50000  # paid: frozen


def test_the_drafter_is_refused_and_nothing_changes(tmp_path):
    drafter = make_admin(roles.SYSTEM_ADMIN)
    number = draft(tmp_path, drafter, amount=70000)
    with pytest.raises(CommandError, match="二者確認"):
        parameters("apply", "--program", "cooperation-2025", "--version", number,
                   "--by", drafter.email, typing=typed(drafter))
    version = ParameterVersion.objects.get(program=cooperation(), version=number)
    assert version.status == ParameterVersion.Status.DRAFT
    assert not ParameterPreview.objects.filter(version=version).exists()


def test_an_officer_without_the_apply_permission_is_refused(tmp_path):
    drafter, payout_officer = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.PAYOUT_OFFICER)
    number = draft(tmp_path, drafter)
    with pytest.raises(CommandError, match="権限がありません"):
        parameters("apply", "--program", "cooperation-2025", "--version", number,
                   "--by", payout_officer.email, typing=typed(payout_officer))
    with pytest.raises(CommandError, match="権限がありません"):
        draft(tmp_path, payout_officer)


def test_a_wrong_code_or_password_is_refused(tmp_path):
    drafter, second = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.SYSTEM_ADMIN)
    number = draft(tmp_path, drafter)
    for typing in (typed(second, code="000000"), StringIO(f"wrong\n{totp_code(second)}\n")):
        with pytest.raises(CommandError, match=WRONG):
            parameters("apply", "--program", "cooperation-2025", "--version", number,
                       "--by", second.email, typing=typing)
    assert ParameterVersion.objects.get(program=cooperation(),
                                        version=number).status == ParameterVersion.Status.DRAFT


@pytest.mark.parametrize(("content", "message"), [
    (None, "ファイルが見つかりません"),
    ("{not json", "JSONとして読めません"),
    ("[1, 2]", "JSONのオブジェクト"),
    ('{"amount": 1}', "パラメータの形式が正しくありません"),
    ('{"amount": -5, "period_start": "2025-05-01", "period_end": "2025-07-31", "kinds": []}',
     "パラメータの形式が正しくありません"),
])
def test_a_bad_file_is_refused_and_nothing_is_created(tmp_path, content, message):
    drafter = make_admin(roles.SYSTEM_ADMIN)
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        parameters("draft", "--program", "cooperation-2025", "--file", path,
                   "--effective-from", "2025-05-01", "--notice", "試験", "--by", drafter.email)
    assert ParameterVersion.objects.filter(program=cooperation()).count() == 1


@pytest.mark.parametrize(("day", "notice", "message"), [
    ("2025-02-30", "試験", "適用開始日"), ("tomorrow", "試験", "適用開始日"),
    ("2025-05-01", "  ", "根拠となる通知"), ("2025-05-01", "通" * 301, "300文字以内"),
])
def test_a_bad_date_or_notice_is_refused(tmp_path, day, notice, message):
    drafter = make_admin(roles.SYSTEM_ADMIN)
    with pytest.raises(CommandError, match=message):
        parameters("draft", "--program", "cooperation-2025", "--file", params_file(tmp_path),
                   "--effective-from", day, "--notice", notice, "--by", drafter.email)
    assert ParameterVersion.objects.filter(program=cooperation()).count() == 1


def test_an_unknown_program_or_version_is_refused(tmp_path):
    officer = make_admin(roles.SYSTEM_ADMIN)
    for args in (("show", "--program", "nothing"),
                 ("draft", "--program", "nothing", "--file", params_file(tmp_path),
                  "--effective-from", "2025-05-01", "--notice", "試験", "--by", officer.email),
                 ("apply", "--program", "nothing", "--version", 2, "--by", officer.email)):
        with pytest.raises(CommandError, match="プログラム nothing はありません"):
            parameters(*args)
    with pytest.raises(CommandError, match="第7版はありません"):
        parameters("apply", "--program", "cooperation-2025", "--version", 7,
                   "--by", officer.email, typing=typed(officer))
    with pytest.raises(CommandError, match="下書きではない"):
        parameters("apply", "--program", "cooperation-2025", "--version", 1,
                   "--by", officer.email, typing=typed(officer))


def test_show_says_when_no_version_is_in_force(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *args: date(2024, 1, 1))
    with pytest.raises(CommandError, match="パラメータの版がありません"):
        parameters("show", "--program", "cooperation-2025")


def test_a_claim_program_is_applied_without_a_preview(tmp_path):
    drafter, second = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.SYSTEM_ADMIN)
    program = Program.objects.get(code="obligation")
    path = tmp_path / "obligation.json"
    path.write_text(json.dumps({**engine.parameters_in_force(program).params,
                                "deadline": "2026-03-31"}), encoding="utf-8")
    number = int(parameters("draft", "--program", "obligation", "--file", path,
                            "--effective-from", "2025-12-01", "--notice", "期限の延長（試験）",
                            "--by", drafter.email)[-1])
    lines = parameters("apply", "--program", "obligation", "--version", number,
                       "--by", second.email, typing=typed(second))
    assert "を適用しました" in lines[-1] and "適用前の確認" not in "\n".join(lines)
    assert engine.parameters_in_force(program).params["deadline"] == "2026-03-31"

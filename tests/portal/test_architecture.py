"""The architecture's two rules, checked in the suite (docs/architecture.md#layers and
#who-owns-which-table): imports run one way (import-linter's contract in pyproject.toml), and
each app writes only its own tables (tests/portal/ownership.py reads every app's source)."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.portal.ownership import (
    APPS,
    ModelIndex,
    app_modules,
    check_source,
    cross_app_writes,
    main_facility_writes,
)

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", "pyproject.toml"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


# ---------------------------------------------------------------- layers


def test_imports_follow_the_layers():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Apps depend one way KEPT" in result.stdout


def test_the_contract_breaks_on_an_import_against_the_layers(tmp_path):
    """The project's own contract (its pyproject.toml, copied) on nine empty apps, one of
    them importing upwards: the kernel importing payouts, and eligibility importing incentives
    (a lower app naming an upper one), each reported."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for app in APPS:
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
    (tmp_path / "portal" / "bad.py").write_text("import payouts\n")
    (tmp_path / "eligibility" / "bad.py").write_text("from incentives import payables\n")
    (tmp_path / "incentives" / "payables.py").write_text("")
    # Allowed: an upper app importing a lower one.
    (tmp_path / "payouts" / "fine.py").write_text("import eligibility\nimport portal\n")
    result = _lint_imports(tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "portal is not allowed to import payouts" in result.stdout
    assert "eligibility is not allowed to import incentives" in result.stdout
    assert "payouts is not allowed" not in result.stdout


# ---------------------------------------------------------------- table ownership


def test_each_app_writes_only_its_own_tables():
    writes = cross_app_writes(ROOT)
    assert writes == [], "writes of another app's table:\n" + "\n".join(map(str, writes))


def test_every_app_module_is_read():
    modules = {str(path) for _app, path, _module in app_modules(ROOT)}
    assert "incentives/payables.py" in modules
    assert "eligibility/management/commands/simulate.py" in modules
    assert not any("/migrations/" in module for module in modules)
    assert {app for app, _path, _module in app_modules(ROOT)} == set(APPS)


# The cross-app writes incentives, payouts and the dataset made before they went through
# their owners' services, as they were written.
CROSS_APP_SOURCE = '''
from django.contrib.auth import get_user_model
from eligibility.models import ActivityReport, Attestation, Determination, Adjustment
from eligibility import models as eligibility_models
from facilities.models import Activity
from portal.bulk_copy import copy_rows
from portal.workflow import perform


def submit(facility, program, data):
    report = ActivityReport.objects.filter(facility=facility, program=program).first()
    report = report or ActivityReport(facility=facility, program=program)
    report.voice = data.voice
    report.save()


def attest(facility, program):
    attestation, created = Attestation.objects.get_or_create(facility=facility,
                                                             program=program)
    attestation.save()


def take(ids):
    Determination.objects.filter(pk__in=ids, payout_locked=False).update(payout_locked=True)


def give_back(ids):
    eligibility_models.Determination.objects.filter(pk__in=ids).update(payout_locked=False)


def move(ids, actor):
    for adjustment in Adjustment.objects.filter(pk__in=ids).order_by("pk"):
        perform(adjustment, "enter_payout", actor=actor, summary="")


def record(lines, actor):
    batch = []
    for line in lines:
        batch.append(Activity(facility_id=line.facility_id, actor=actor, verb="x"))
    manager = Activity._default_manager
    manager.bulk_create(batch)


def accounts(rows):
    copy_rows(Activity, ["facility_id"], rows)
    User = get_user_model()
    User.objects.create_user(email="a@example.jp")


def reads_only(facility):
    Determination.objects.filter(facility=facility).count()
    rows = {}
    rows.update(a=1)
    ActivityReport(facility=facility).full_clean()
'''


def test_the_check_finds_each_cross_app_write_with_its_line():
    index = ModelIndex.from_django()
    found = check_source(CROSS_APP_SOURCE, app="incentives", path="incentives/x.py",
                         module_name="incentives.x", index=index)
    lines = CROSS_APP_SOURCE.splitlines()
    seen = {(w.line, w.model) for w in found}
    expected = {
        ("report.save()", "eligibility.ActivityReport"),
        ("attestation, created = Attestation", "eligibility.Attestation"),
        ("    attestation.save()", "eligibility.Attestation"),
        ("update(payout_locked=True)", "eligibility.Determination"),
        ("update(payout_locked=False)", "eligibility.Determination"),
        ("perform(adjustment", "eligibility.Adjustment"),
        ("manager.bulk_create(batch)", "facilities.Activity"),
        ("copy_rows(Activity", "facilities.Activity"),
        ("User.objects.create_user", "portal.User"),
    }
    for text, model in expected:
        line = next(n for n, row in enumerate(lines, start=1) if text in row)
        assert (line, model) in seen, (text, model, found)
    # Reading, a dict's update and an unsaved instance's validation are not writes.
    assert len(found) == len(expected), found
    assert all(str(w).startswith("incentives/x.py:") for w in found)


def test_the_owner_may_write_its_own_tables():
    index = ModelIndex.from_django()
    source = CROSS_APP_SOURCE.replace("from facilities.models import Activity\n", "").replace(
        "from django.contrib.auth import get_user_model\n", "")
    source = source[:source.index("def record(")]
    assert check_source(source, app="eligibility", module_name="eligibility.x",
                        index=index) == []
    # Relative imports resolve to the module's own app.
    own = "from .models import Activity\n\ndef f():\n    Activity.objects.create(verb='x')\n"
    assert check_source(own, app="facilities", module_name="facilities.activity",
                        index=index) == []
    wrong = own.replace("from .models", "from facilities.models")
    assert [w.model for w in check_source(wrong, app="payouts", module_name="payouts.x",
                                          index=index)] == ["facilities.Activity"]


# ---------------------------------------------------------------- Facility.main_facility


def test_main_facility_has_one_writer():
    found = []
    for _app, path, _module in app_modules(ROOT):
        found += main_facility_writes((ROOT / path).read_text(encoding="utf-8"), str(path))
    assert found == [], "\n".join(found)


def test_the_main_facility_check_sees_a_write():
    source = ("def f(facility, main):\n"
              "    facility.main_facility = main\n"
              "    Facility.objects.filter(pk=1).update(main_facility_id=None)\n"
              "    Facility.objects.filter(main_facility=main).count()\n")
    assert main_facility_writes(source, "obligation/x.py") == [
        "obligation/x.py:2: assigns .main_facility",
        "obligation/x.py:3: update(main_facility=…)",
    ]
    assert main_facility_writes(source, "facilities/services.py") == []

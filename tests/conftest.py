import itertools
import os
import re

import pytest
from django.conf import settings

from tests import fast_flush, template_db

# Parallel runs (pytest-xdist): each worker's own broker database, the tests that share one
# resource kept on one worker, the `browser` and `fault` marks (tests/parallel.py).
from tests.parallel import (  # noqa: F401 - hooks of this conftest
    broker_of_this_worker,
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_configure_node,
    pytest_xdist_make_scheduler,
)

broker_of_this_worker(settings)
fast_flush.install()  # a transactional test's tables emptied without post_migrate's second run


def pytest_configure(config):
    """The workers' databases copied from one migrated in the background (tests/template_db.py)."""
    template_db.start(config)
    template_db.install(config)


@pytest.fixture(scope="session")
def _private_storage_root(tmp_path_factory):
    return tmp_path_factory.mktemp("private")


_private_storage_numbers = itertools.count()


@pytest.fixture(autouse=True)
def _private_storage(_private_storage_root, settings):
    """Each test's private files in a folder of its own, made when a file is first saved
    (pytest's tmp_path for every test cost a few milliseconds each, listing all the others)."""
    settings.PRIVATE_STORAGE_ROOT = _private_storage_root / str(next(_private_storage_numbers))


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits count in the cache: every test starts with none spent."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def staff_client(client):
    """A client logged in as a fresh staff user (no facility yet)."""
    from tests.factories import UserFactory

    user = UserFactory()
    client.force_login(user)
    client.user = user
    return client


def services_required() -> bool:
    """In CI every service must be there: a missing one fails instead of skipping."""
    return bool(getattr(settings, "SERVICES_REQUIRED", False) or os.environ.get("CI"))


@pytest.fixture
def migration_data(transactional_db):
    """The rows the data migrations make (programs and their parameters), put back for a
    transactional test: flushing after an earlier transactional test removes them."""
    import importlib

    from django.apps import apps

    for name in ("0002_programs", "0004_subsidy_programs", "0013_obligation_program"):
        importlib.import_module(f"eligibility.migrations.{name}").create(apps, None)


@pytest.fixture
def admin_user(db):
    """A superuser with two-factor set up (the admin requires it of every staff account)."""
    from tests.factories import make_admin

    return make_admin(superuser=True, email="admin@example.jp")


@pytest.fixture
def admin_client(client, admin_user):
    from tests.factories import login_admin

    return login_admin(client, admin_user)


# ---------------------------------------------------------------- log hygiene (every test)
# Secrets a test makes (bank account numbers saved, device passwords and activation codes
# issued, the test password) must never reach a log record; neither may any 12-digit number
# (a 個人番号 has 12 digits). Checked on the records captured during every test.
TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
ACTIVATION_CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b")
_secrets_seen: set[str] = set()


def leaked_secrets(messages: list[str], secrets: set[str]) -> list[str]:
    def leaks(message: str) -> bool:
        return bool(TWELVE_DIGITS.search(message) or ACTIVATION_CODE.search(message)
                    or any(secret and secret in message for secret in secrets))

    return [message for message in messages if leaks(message)]


def _remember_account_number(sender, instance, **kwargs):
    number = getattr(instance, "account_number", "")
    if number and len(number) >= 7:
        _secrets_seen.add(number)


@pytest.fixture(autouse=True)
def _no_secret_in_logs(request, caplog, monkeypatch):
    import logging

    from django.db.models.signals import post_save

    from facilities import services as facility_services
    from tests.factories import PASSWORD

    caplog.set_level(logging.INFO)
    _secrets_seen.clear()
    _secrets_seen.add(PASSWORD)
    original_random = facility_services._random

    def remembering_random(alphabet, length):
        value = original_random(alphabet, length)
        _secrets_seen.add(value)
        return value

    monkeypatch.setattr(facility_services, "_random", remembering_random)
    post_save.connect(_remember_account_number, dispatch_uid="test-log-hygiene")
    yield
    post_save.disconnect(dispatch_uid="test-log-hygiene")
    if request.node.get_closest_marker("leaks_on_purpose"):
        return
    messages = []
    for when in ("setup", "call", "teardown"):
        for record in caplog.get_records(when):
            try:
                messages.append(record.getMessage())
            except Exception:  # noqa: BLE001 - a record that cannot format is not a leak
                messages.append(str(record.msg))
    leaks = leaked_secrets(messages, {s for s in _secrets_seen if len(s) >= 6})
    assert not leaks, f"a secret reached the logs: {leaks[:3]}"


@pytest.fixture
def postgres():
    """Races are tested on PostgreSQL (row locks); in CI a missing one fails the test."""
    from django.db import connection

    if connection.vendor != "postgresql":
        if services_required():
            pytest.fail("the race tests need PostgreSQL: set DATABASE_URL in CI")
        pytest.skip("races are tested on PostgreSQL (set DATABASE_URL)")


# Generated inputs: random on a developer's machine (to find new cases), the same every run
# in CI (a run's verdict does not depend on the draw; what development finds is kept as a
# plain regression test).
from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if services_required():
    hypothesis_settings.load_profile("ci")

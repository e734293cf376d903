import os

import pytest
from django.conf import settings


@pytest.fixture(autouse=True)
def _private_storage(tmp_path, settings):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


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

    for name in ("0002_programs", "0004_subsidy_programs"):
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

"""The read-replica router (portal/db_routers.py), through Django's own router and querysets.

A replica is made "configured" by adding it to settings.DATABASES; no query is sent, so no
second server is needed. That the environment variable really configures the alias is
proved by loading the settings in a fresh interpreter.
"""

import json
import os
import subprocess
import sys

import pytest
from django.db import router, transaction

from facilities.models import Facility, PublicListBuild, PublicListEntry
from obligation.models import ComplianceStatus
from portal.db_routers import ReplicaRouter, replica_reads
from portal.models import User

WARNING = "ignore:Overriding setting DATABASES can lead to unexpected behavior"


@pytest.fixture
def with_replica(settings):
    settings.DATABASES = {**settings.DATABASES,
                          "replica": {**settings.DATABASES["default"]}}


@pytest.fixture
def without_replica(settings):
    settings.DATABASES = {"default": settings.DATABASES["default"]}


@pytest.mark.filterwarnings(WARNING)
def test_without_a_replica_everything_uses_default(without_replica):
    for model in (PublicListEntry, PublicListBuild, Facility, User):
        assert router.db_for_read(model) == "default"
        assert router.db_for_write(model) == "default"
    with replica_reads():
        assert router.db_for_read(ComplianceStatus) == "default"
    assert PublicListEntry.objects.all().db == "default"


@pytest.mark.filterwarnings(WARNING)
def test_the_public_list_is_read_from_the_replica(with_replica):
    assert router.db_for_read(PublicListEntry) == "replica"
    assert router.db_for_read(PublicListBuild) == "replica"
    assert PublicListEntry.objects.filter(prefecture="13").db == "replica"
    assert PublicListBuild.objects.all().db == "replica"
    # Everything else is read from the primary.
    for model in (Facility, User, ComplianceStatus):
        assert router.db_for_read(model) == "default"
        assert model.objects.all().db == "default"


@pytest.mark.filterwarnings(WARNING)
def test_every_write_goes_to_default(with_replica):
    for model in (PublicListEntry, PublicListBuild, Facility, ComplianceStatus):
        assert router.db_for_write(model) == "default"
    # Locking reads and deletes are writes: the weekly rebuild never touches the replica.
    assert PublicListEntry.objects.select_for_update().db == "default"
    delete_query = PublicListEntry.objects.all()
    delete_query._for_write = True
    assert delete_query.db == "default"


@pytest.mark.filterwarnings(WARNING)
def test_count_pages_read_everything_from_the_replica_inside_replica_reads(with_replica):
    with replica_reads():
        assert router.db_for_read(ComplianceStatus) == "replica"
        assert ComplianceStatus.objects.values("state").db == "replica"
        assert router.db_for_write(ComplianceStatus) == "default"
        with replica_reads():
            assert router.db_for_read(Facility) == "replica"
        assert router.db_for_read(Facility) == "replica"  # the outer block still holds
    assert router.db_for_read(ComplianceStatus) == "default"


@pytest.mark.filterwarnings(WARNING)
def test_related_objects_are_read_where_their_owner_came_from(with_replica):
    facility = Facility(code="0112345678")
    facility._state.db = "default"
    assert router.db_for_read(PublicListEntry, instance=facility) == "default"
    entry = PublicListEntry(code="0112345678")
    entry._state.db = "replica"
    assert router.db_for_read(Facility, instance=entry) == "replica"


@pytest.mark.filterwarnings(WARNING)
@pytest.mark.django_db(transaction=True)
def test_a_transaction_reads_its_own_writes_from_default(with_replica):
    assert PublicListEntry.objects.all().db == "replica"
    with transaction.atomic():
        assert PublicListEntry.objects.all().db == "default"
        with replica_reads():
            assert ComplianceStatus.objects.all().db == "default"
    assert PublicListEntry.objects.all().db == "replica"


def test_migrations_run_on_default_only():
    for model in (PublicListEntry, Facility, User):
        assert router.allow_migrate_model("default", model)
        assert not router.allow_migrate_model("replica", model)
    assert ReplicaRouter().allow_migrate("replica", "facilities") is False
    assert ReplicaRouter().allow_relation(Facility(), PublicListEntry()) is True


def _settings_in_a_fresh_interpreter(module: str = "portal.settings.test", **environ) -> dict:
    code = ("import json; from django.conf import settings; "
            "print(json.dumps({'routers': settings.DATABASE_ROUTERS, 'databases': "
            "{alias: {k: v[k] for k in ('ENGINE', 'NAME', 'HOST', 'TEST', 'CONN_MAX_AGE', "
            "'CONN_HEALTH_CHECKS') if k in v} for alias, v in settings.DATABASES.items()}}))")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_REPLICA_URL"}
    env.update(environ, DJANGO_SETTINGS_MODULE=module)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_database_replica_url_configures_the_replica_as_a_test_mirror():
    found = _settings_in_a_fresh_interpreter(
        DATABASE_URL="postgres://portal@primary.internal:5432/portal",
        DATABASE_REPLICA_URL="postgres://portal@replica.internal:5432/portal")
    assert found["routers"] == ["portal.db_routers.ReplicaRouter"]
    replica = found["databases"]["replica"]
    assert replica["HOST"] == "replica.internal"
    assert replica["ENGINE"] == "django.db.backends.postgresql"
    assert replica["TEST"] == {"MIRROR": "default"}
    assert found["databases"]["default"]["HOST"] == "primary.internal"

    without = _settings_in_a_fresh_interpreter(DATABASE_URL="sqlite:///portal.sqlite3")
    assert set(without["databases"]) == {"default"}


def test_production_keeps_the_replica_connection_as_it_keeps_the_primary():
    found = _settings_in_a_fresh_interpreter(
        "portal.settings.production",
        DATABASE_URL="postgres://portal@primary.internal:5432/portal",
        DATABASE_REPLICA_URL="postgres://portal@replica.internal:5432/portal",
        DJANGO_SECRET_KEY="test-only-" + "x" * 50, DJANGO_ALLOWED_HOSTS="portal.example.jp",
        DJANGO_CONN_MAX_AGE="45", CELERY_BROKER_URL="redis://redis:6379/0",
        CACHE_URL="redis://redis:6379/1")
    for alias in ("default", "replica"):
        assert found["databases"][alias]["CONN_MAX_AGE"] == 45, alias
        assert found["databases"][alias]["CONN_HEALTH_CHECKS"] is True, alias

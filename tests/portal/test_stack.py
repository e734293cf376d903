"""The production-like stack: PostgreSQL, Redis with a real Celery worker, beat schedules,
deploy settings. In CI (CI=true) a missing service fails these tests instead of skipping."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app
from tests.conftest import services_required


def _need(variable: str):
    if not os.environ.get(variable):
        if services_required():
            pytest.fail(f"{variable} is not set: CI must run against the real service")
        pytest.skip(f"{variable} not set: runs in CI against the real service")


@pytest.mark.django_db
def test_database_is_postgresql_when_configured():
    _need("DATABASE_URL")
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_public_list_rebuilds_on_a_real_worker_over_redis():
    """A task sent through Redis is run by a Celery worker and its result comes back."""
    _need("CELERY_BROKER_URL")
    from celery.contrib.testing.worker import start_worker

    from facilities.models import PublicListBuild
    from facilities.tasks import rebuild_public_list

    broker = os.environ["CELERY_BROKER_URL"]
    celery_app.conf.update(
        task_always_eager=False, broker_url=broker, result_backend=broker,
    )
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False,
                          shutdown_timeout=10):
            result = rebuild_public_list.delay()
            assert result.get(timeout=30) == 0
    finally:
        celery_app.conf.update(task_always_eager=True)
    assert PublicListBuild.objects.count() == 1


@pytest.mark.django_db
def test_beat_installs_the_weekly_public_list_and_nightly_eligibility_schedules():
    """The entries beat's DatabaseScheduler installs from settings (ModelEntry.from_entry is
    what its update_from_dict calls; the scheduler itself would close the test's connection)."""
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import ModelEntry

    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        ModelEntry.from_entry(name, app=celery_app, **entry)
    task = PeriodicTask.objects.get(name="rebuild-public-list-weekly")
    assert task.task == "facilities.tasks.rebuild_public_list"
    assert task.crontab.day_of_week == "mon"
    nightly = PeriodicTask.objects.get(name="run-eligibility-nightly")
    assert nightly.task == "eligibility.tasks.run_eligibility"
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"


def test_tasks_run_in_process_without_a_broker():
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings.dev"
    code = "import django; django.setup(); from django.conf import settings as s; " \
           "print(s.CELERY_TASK_ALWAYS_EAGER, s.DATABASES['default']['ENGINE'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=settings.BASE_DIR, check=True).stdout
    assert out.split() == ["True", "django.db.backends.sqlite3"]


def test_check_deploy_is_clean_with_production_settings():
    # The browser tests allow async-unsafe calls for their own process only.
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DJANGO_SECRET_KEY": "x" * 30 + "-a-long-random-production-secret-value",
        "DJANGO_ALLOWED_HOSTS": "portal.example.jp",
        "CACHE_URL": "redis://redis:6379/1",  # production refuses a process-local cache
        "CELERY_BROKER_URL": "redis://redis:6379/0",  # and a missing broker
        "PORTAL_BASE_URL": "https://portal.example.jp",  # printed on letters (portal.W021)
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, cwd=settings.BASE_DIR,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    # Without it, the address guessed from the allowed hosts is reported.
    del env["PORTAL_BASE_URL"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, cwd=settings.BASE_DIR,
    )
    assert result.returncode == 1 and "portal.W021" in result.stdout + result.stderr


@pytest.mark.parametrize(("missing", "named"), [
    ("CELERY_BROKER_URL", "CELERY_BROKER_URL is not set"),
    ("CACHE_URL", "CACHE_URL is not set to a shared cache"),
])
def test_production_refuses_to_start_without_a_broker_or_a_shared_cache(missing, named):
    env = {
        **{k: v for k, v in os.environ.items()
           if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "CELERY_BROKER_URL", "CACHE_URL")},
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DJANGO_SECRET_KEY": "x" * 30 + "-a-long-random-production-secret-value",
        "DJANGO_ALLOWED_HOSTS": "portal.example.jp",
        "CACHE_URL": "redis://redis:6379/1",
        "CELERY_BROKER_URL": "redis://redis:6379/0",
    }
    del env[missing]
    for command in (["manage.py", "check"], ["-m", "celery", "-A", "portal", "inspect", "ping"]):
        result = subprocess.run([sys.executable, *command], env=env, capture_output=True,
                                text=True, cwd=settings.BASE_DIR, timeout=120)
        assert result.returncode != 0, command
        assert "ImproperlyConfigured" in result.stderr and named in result.stderr, (
            command, result.stderr[-2000:])

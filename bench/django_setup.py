"""What every benchmark's child process does first: Django on the benchmark's database,
tasks in-process, no per-query logging, mails kept in memory."""

import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(database_url: str, broker: str | None = None) -> None:
    """`broker`: tasks go through it (a worker runs them) instead of running in-process."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.dev")
    if broker:
        os.environ["CELERY_BROKER_URL"] = broker
    else:
        os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # dev settings log every query; production does not
    # The fixtures' notification mails would be printed amid the figures.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def fresh_database(url: str) -> None:
    """Drop and create the database named at the end of `url` (PostgreSQL)."""
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def rss_mb() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

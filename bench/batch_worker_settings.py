"""The Celery worker of bench/eligibility_batch.py --workers: the development settings
without per-query logging (as the in-process batch runs: bench/django_setup.py)."""

from portal.settings.dev import *  # noqa: F403

DEBUG = False

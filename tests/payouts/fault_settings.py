"""Settings of the Celery workers the fault tests start (tests/payouts/test_faults.py): the
test settings, except that tasks go through a real Redis broker, the worker works on the
test's database, and a message of a killed worker is delivered again within seconds (in
production the visibility timeout is Kombu's hour).

Read from the environment the test gives each worker: FAULT_BROKER_URL, FAULT_KEY_PREFIX
(every broker key of one test session carries it, so that the short visibility timeout
never touches the messages of anyone else on the same Redis), FAULT_QUEUE and
FAULT_DATABASE_NAME (pytest-django's `test_<name>` database)."""

import os

from portal.settings.test import *  # noqa: F403
from portal.settings.test import DATABASES
from tests.payouts.fault_processes import broker_transport_options

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = os.environ["FAULT_BROKER_URL"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = os.environ["FAULT_QUEUE"]
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(
    os.environ["FAULT_KEY_PREFIX"], int(os.environ.get("FAULT_VISIBILITY_TIMEOUT", "2")))
DATABASES["default"]["NAME"] = os.environ["FAULT_DATABASE_NAME"]

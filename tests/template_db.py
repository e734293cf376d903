"""The workers' test databases, cloned from one migrated in the background (PostgreSQL, xdist).

Each pytest-xdist worker would otherwise run every migration itself (about 15 seconds of
CPU each, most of it Django rendering model states), after collecting the tests. Here the
controller starts one `migrate` of a template database (`test_<name>_template`) in a process
of its own as the run begins, while the workers start and collect; each worker then waits
for it and makes its database with `CREATE DATABASE … TEMPLATE`, a copy of the files.
The database is the same as the worker's own `migrate` would make it (the same migrations,
post_migrate's content types, permissions and roles). The template is dropped at the end.

Only on PostgreSQL, with more than one worker, without --reuse-db or --nomigrations: any
other run makes its databases as pytest-django does.

    python -m tests.template_db NAME STATUS   the background migrate (what the controller runs)
"""

import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

TEMPLATE_INPUT = "portal_test_template"  # workerinput: (template name, status file)
MIGRATE_WITHIN = 600  # seconds, on a loaded machine


def _wanted(config) -> bool:
    from django.conf import settings

    engine = settings.DATABASES.get("default", {}).get("ENGINE", "")
    workers = getattr(config.option, "numprocesses", None)
    return ("postgresql" in engine and bool(workers) and workers != 1
            and getattr(config.option, "dist", "no") != "no"
            and not config.option.reuse_db and not config.option.nomigrations)


def start(config) -> None:
    """The controller, before the workers start: the template's migrate, in the background."""
    if hasattr(config, "workerinput") or not _wanted(config):
        return
    from django.db import connection

    name = f"{connection.creation._get_test_db_name()}_template"
    directory = Path(tempfile.mkdtemp(prefix="portal-test-template-"))
    status = directory / "status"
    log = open(directory / "migrate.log", "wb")  # noqa: SIM115 - closed at the end
    process = subprocess.Popen([sys.executable, "-m", "tests.template_db", name, str(status)],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               cwd=Path(__file__).resolve().parent.parent)
    config._portal_template = (name, str(status))

    def finish():
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()
        _drop(name)

    config.add_cleanup(finish)


def to_worker(node) -> None:
    """pytest_configure_node: the template's name and status file, for the worker."""
    template = getattr(node.config, "_portal_template", None)
    if template:
        node.workerinput[TEMPLATE_INPUT] = list(template)


def install(config) -> None:
    """A worker: its test database is cloned from the template instead of migrated."""
    template = getattr(config, "workerinput", {}).get(TEMPLATE_INPUT)
    if not template:
        return
    from django.db.backends.postgresql.creation import DatabaseCreation

    name, status = template
    original = DatabaseCreation.create_test_db

    def create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        if keepdb or self.connection.alias != "default":
            return original(self, verbosity, autoclobber, serialize, keepdb)
        return _clone(self, name, Path(status), serialize)

    DatabaseCreation.create_test_db = create_test_db


def _clone(creation, template: str, status: Path, serialize: bool) -> str:
    from django.conf import settings
    from django.core.management import call_command
    from django.db.utils import OperationalError

    _wait(status)
    connection = creation.connection
    target = creation._get_test_db_name()
    quote = connection.ops.quote_name
    deadline = time.monotonic() + 60
    while True:
        try:
            with creation._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {quote(target)}")
                cursor.execute(f"CREATE DATABASE {quote(target)} TEMPLATE {quote(template)}")
            break
        except OperationalError as error:
            # "source database … is being accessed by other users": another worker's copy
            # is being made at this moment.
            if "being accessed" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = target
    connection.settings_dict["NAME"] = target
    if serialize:
        connection._test_serialized_contents = creation.serialize_db_to_string()
    call_command("createcachetable", database=connection.alias)
    connection.ensure_connection()
    return target


def _wait(status: Path) -> None:
    deadline = time.monotonic() + MIGRATE_WITHIN
    while not status.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the template database's migrate did not end within "
                               f"{MIGRATE_WITHIN} s")
        time.sleep(0.05)
    text = status.read_text()
    if text != "ok":
        raise RuntimeError(f"the template database's migrate failed:\n{text}")


def _drop(name: str) -> None:
    from django.db import connection

    try:
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)}")
    finally:
        connection.close()


def _migrate(name: str, status: Path) -> None:
    """The background process: `test_<name>_template` created and migrated as a test database."""
    try:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
        django.setup()
        from django.db import connection

        connection.settings_dict["TEST"]["NAME"] = name
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        connection.close()
        result = "ok"
    except BaseException:  # noqa: BLE001 - told to the workers, which fail with it
        result = traceback.format_exc()
    staging = status.with_suffix(".staging")
    staging.write_text(result)
    staging.rename(status)  # whole, or not there


if __name__ == "__main__":
    _migrate(sys.argv[1], Path(sys.argv[2]))

"""The suite on several pytest-xdist workers (`scripts/test`: one per core, at most 4).

Each worker has a database of its own (pytest-django's test_<name>_gw<N>), copied from one
migrated once in the background while the workers start (tests/template_db.py). What the workers
would otherwise share is taken care of here, through the hooks tests/conftest.py imports:

- the Celery broker: each worker uses a Redis database of its own, the base number plus the
  worker's (redis://…/0 → /0 for gw0, /1 for gw1), so a Celery worker a test starts never
  takes another xdist worker's tasks, and a test that counts a queue counts only its own;
- the virtual card reader (one pcscd, two slots): the tests of the modules that use `pcscd`
  are the group `cardreader`, run one after another on one worker; card_slot also holds a
  lock on the reader for the whole test (tests/cardreader/conftest.py), so a card test of
  another process waits instead of meeting another card;
- the payout fault tests (worker processes killed, a Redis of their own restarted, heavy on
  the CPU, 30-second waits for the workers' events): the group `faults`, one after another on
  one worker (the module's last test sums up the trials of the others, in the same process).

A group is given to the whole module that uses its fixture, so a new test is placed with its
neighbours. Modules are also marked `browser` (they drive Chromium) and `fault`, which
`scripts/test --quick` leaves out.

Order: pytest-django runs the tests as Django does, the transactional ones after the others
(their flush empties the tables, the migrations' rows included), and every worker must keep
that order. Here the tests that use no database come before both (they run while the
template database is migrated), and the fault group first among the transactional ones. So
the scheduler sends the tests in their collected order (xdist would send the largest groups
first), and a group whose tests fall in two places of that order (the reader's
database-free tests, its transactional ones) is two runs, each sent in its place.

Why not xdist's own `--dist loadgroup` alone: it moves a test to its group by appending
`@group` to the test's node id, which pytest 9.2's structured node ids no longer take
(pytest-xdist's bug report #1386: the mark is silently ignored). Here each worker writes the groups
of the tests it collected to a file the controller names (`workerinput`), and the controller's
scheduler, xdist's LoadGroupScheduling, reads them instead of the node ids.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import template_db

RESOURCES = {  # fixture: (mark, xdist group)
    "pcscd": (None, "cardreader"),
    "browser": ("browser", None),
    "faults": ("fault", "faults"),
}
GROUPS_INPUT = "portal_test_groups"  # the directory the workers write their groups to


def broker_of_this_worker(settings) -> None:
    """Under xdist: CELERY_BROKER_URL (the environment the tests read, and the settings) on a
    Redis database of this worker's own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not worker.startswith("gw") or not url.startswith("redis"):
        return
    parts = urlsplit(url)
    number = (int(parts.path.strip("/") or 0) + int(worker[2:])) % 16  # Redis has 16
    own = parts._replace(path=f"/{number}").geturl()
    os.environ["CELERY_BROKER_URL"] = own
    if getattr(settings, "CELERY_RESULT_BACKEND", None) == settings.CELERY_BROKER_URL:
        settings.CELERY_RESULT_BACKEND = own
    settings.CELERY_BROKER_URL = own


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    # Before every other hook (-m deselects by the marks given here) ...
    used: dict[object, set[str]] = {}
    for item in items:
        used.setdefault(item.path, set()).update(
            set(getattr(item, "fixturenames", ())) & RESOURCES.keys())
    for item in items:
        for fixture in sorted(used[item.path]):
            mark, group = RESOURCES[fixture]
            if mark:
                item.add_marker(getattr(pytest.mark, mark))
            if group:
                item.add_marker(pytest.mark.xdist_group(group))
    result = yield
    # ... and after them (pytest-django has put the transactional tests after the others).
    _without_the_database_first(items)
    _longest_group_first(items)
    return result


def _uses_the_database(item) -> bool:
    """pytest-django's own reading (its django_db mark, or a fixture needing the database)."""
    fixtures = getattr(item, "fixturenames", ())
    return bool(item.get_closest_marker("django_db")
                or {"db", "transactional_db", "live_server"} & set(fixtures))


def _without_the_database_first(items) -> None:
    """The tests that never touch the database run first: meanwhile the template database
    the workers copy theirs from is being migrated (tests/template_db.py), instead of every
    worker waiting for it (pytest-django would run them last)."""
    items[:] = ([item for item in items if not _uses_the_database(item)]
                + [item for item in items if _uses_the_database(item)])


def _transactional(item) -> bool:
    """pytest-django's own reading: the test flushes the database at its end."""
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    return bool((marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")))
                or "transactional_db" in fixtures or "live_server" in fixtures)


def _longest_group_first(items) -> None:
    """The fault tests (one group, a minute and a half on one worker, mostly waiting for
    worker processes) come first among the transactional tests, so that the other workers
    share the rest meanwhile, instead of one worker running them alone at the end."""
    faults = [item for item in items if _group(item) == "faults"]
    if not faults:
        return
    rest = [item for item in items if _group(item) != "faults"]
    first = next((index for index, item in enumerate(rest) if _transactional(item)), len(rest))
    items[:] = rest[:first] + faults + rest[first:]


def _group(item) -> str | None:
    names = sorted({mark.args[0] if mark.args else mark.kwargs.get("name", "default")
                    for mark in item.iter_markers("xdist_group")})
    return "_".join(names) or None


@pytest.hookimpl(tryfirst=True)  # before xdist sends the collection to the controller
def pytest_collection_finish(session):
    """A worker writes the scope of each grouped test for the controller's scheduler: its
    group, numbered by the run of consecutive tests it falls in. The tests are in
    pytest-django's order by now (as Django orders them: a transactional test's flush
    removes the migrations' rows, so those tests come after the others) and the scheduler
    keeps it, so a group that falls in two places is two scopes, each run in its place."""
    directory = getattr(session.config, "workerinput", {}).get(GROUPS_INPUT)
    if not directory:
        return
    scopes, runs, previous = {}, {}, None
    for item in session.items:
        group = _group(item)
        if group and group != previous:
            runs[group] = runs.get(group, 0) + 1
        if group:
            scopes[item.nodeid] = f"{group}#{runs[group]}"
        previous = group
    path = Path(directory) / f"{session.config.workerinput['workerid']}.json"
    staging = path.with_suffix(".staging")
    staging.write_text(json.dumps(scopes))
    staging.rename(path)  # whole, or not there


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """The controller: where the worker writes the groups of its tests, and the template its
    database is copied from (tests/template_db.py)."""
    config = node.config
    if not hasattr(config, "_portal_test_groups"):
        config._portal_test_groups = tempfile.mkdtemp(prefix="portal-test-groups-")
        config.add_cleanup(lambda: shutil.rmtree(config._portal_test_groups, True))
    node.workerinput[GROUPS_INPUT] = config._portal_test_groups
    template_db.to_worker(node)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    # The tests' order (pytest-django's, see pytest_collection_finish) is kept: xdist would
    # otherwise send the largest scopes first.
    config.option.loadscopereorder = False

    class FileGroupScheduling(LoadGroupScheduling):
        """xdist's loadgroup with the groups read from the workers' files."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # read once all workers collected (schedule())
                self.groups = {}
                directory = getattr(config, "_portal_test_groups", None)
                for path in Path(directory).glob("*.json") if directory else ():
                    self.groups.update(json.loads(path.read_text()))
            return self.groups.get(nodeid) or super()._split_scope(nodeid)

    return FileGroupScheduling(config, log)

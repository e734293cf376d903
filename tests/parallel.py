"""The suite on several pytest-xdist workers (`scripts/test`: one per core, at most 4).

Each worker has a database of its own (pytest-django's test_<name>_gw<N>). What the workers
would otherwise share is taken care of here, through the hooks tests/conftest.py imports:

- the Celery broker: each worker uses a Redis database of its own, the base number plus the
  worker's (redis://…/0 → /0 for gw0, /1 for gw1), so a Celery worker a test starts never
  takes another xdist worker's tasks, and a test that counts a queue counts only its own;
- the virtual card reader (one pcscd, two slots): every test module that uses `pcscd` runs on
  one worker, its tests one after another (the group `cardreader`); card_slot also locks the
  reader per test (tests/cardreader/conftest.py), should two processes use it anyway;
- the payout fault tests (worker processes killed, a Redis of their own restarted, heavy on
  the CPU, 30-second waits for the workers' events): the group `faults`, one after another on
  one worker (the module's last test sums up the trials of the others, in the same process).

A group is given to the whole module that uses its fixture, so a new test is placed with its
neighbours. Modules are also marked `browser` (they drive Chromium) and `fault`, which
`scripts/test --quick` leaves out.

Why not xdist's own `--dist loadgroup`: it moves a test to its group by appending `@group` to
the test's node id, which pytest 9.2's structured node ids no longer take (pytest-xdist
issue 1386: the mark is silently ignored). Here each worker writes the groups of the tests
it collected to a file the controller names (`workerinput`), and the controller's scheduler,
xdist's LoadGroupScheduling, reads them instead of the node ids.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

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


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config, items):
    used: dict[object, set[str]] = {}
    for item in items:
        used.setdefault(item.path, set()).update(
            set(getattr(item, "fixturenames", ())) & RESOURCES.keys())
    groups = {}
    for item in items:
        for fixture in sorted(used[item.path]):
            mark, group = RESOURCES[fixture]
            if mark:
                item.add_marker(getattr(pytest.mark, mark))
            if group:
                item.add_marker(pytest.mark.xdist_group(group))
                groups[item.nodeid] = group
    directory = getattr(config, "workerinput", {}).get(GROUPS_INPUT)
    if directory:  # a worker: tell the controller's scheduler
        path = Path(directory) / f"{config.workerinput['workerid']}.json"
        staging = path.with_suffix(".staging")
        staging.write_text(json.dumps(groups))
        staging.rename(path)  # whole, or not there


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """The controller: where the worker writes the groups of its tests."""
    config = node.config
    if not hasattr(config, "_portal_test_groups"):
        config._portal_test_groups = tempfile.mkdtemp(prefix="portal-test-groups-")
        config.add_cleanup(lambda: shutil.rmtree(config._portal_test_groups, True))
    node.workerinput[GROUPS_INPUT] = config._portal_test_groups


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

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

"""Exactly once, under faults (docs/architecture.md#a-payout-run): real Celery worker processes on a
real Redis broker build payout runs on PostgreSQL while the test kills them (kill -9), starts two
creations of the same program at once, drops their database connection and restarts Redis. After
each fault the run completes — by the message delivered again (acks_late) or by a retry, as an
administrator or the schedule's job would make it — and every payable is paid exactly once,
in one run whose count, total and transfer file's trailer match its lines.

Each scenario runs several trials; a trial prints nothing unless it fails, and the last test
prints the trials per scenario. The workers stop at fault points armed per task
(tests/payouts/fault_app.py); nothing sleeps to wait: the test waits for the workers' events.

Needs PostgreSQL (DATABASE_URL), Redis (CELERY_BROKER_URL) and, to restart Redis, the
`redis-server` program (a server of the test's own on a free port: the shared one is never
restarted). Without them the tests skip, in CI (CI=true) they fail.
"""

import json
import os
import shutil
import signal
import uuid
from collections import Counter
from contextlib import contextmanager

import pytest
from celery import Celery
from django.db import connection

from payouts.models import PayoutRun
from tests.conftest import services_required
from tests.payouts.fault_checks import check_paid_once, last_run_pk, payables, scheduled_day
from tests.payouts.fault_processes import (
    Events,
    FaultError,
    RedisServer,
    Worker,
    broker_transport_options,
    forget_keys,
    session_names,
)
from tests.payouts.helpers import lump_sum, officers, set_consignor

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

TRIALS: Counter[str] = Counter()
EMPTY_RUNS: Counter[str] = Counter()  # runs a message delivered again made, paying nobody
SCENARIOS = ("a: kill -9", "b: two at once", "c: connection dropped", "d: Redis restarted")
PAYABLES = 23
CHUNK = 5  # 23 payables: chunks of 5, 5, 5, 5, 3


def _need(ok: bool, why: str) -> None:
    if not ok:
        if services_required():
            pytest.fail(f"{why}: CI must run the fault tests against the real services")
        pytest.skip(why)


class Faults:
    """The workers of one test, the broker they share with the test, and its events."""

    def __init__(self, broker_url: str, directory):
        self.directory = directory
        (directory / "plans").mkdir()
        self.events = Events()
        self.key_prefix, self.queue = session_names()
        self.database_name = connection.settings_dict["NAME"]
        self.workers: list[Worker] = []
        self.redis: RedisServer | None = None
        self._names = iter(range(1, 1000))
        self.broker_url = broker_url
        self.client = Celery("payout-faults", set_as_current=False)
        self.client.conf.update(broker_transport_options=broker_transport_options(
            self.key_prefix), task_default_queue=self.queue)

    def private_redis(self) -> RedisServer:
        self.redis = RedisServer(self.directory)
        self.redis.start()
        forget_keys(self.broker_url, self.key_prefix)
        self.broker_url = self.redis.url
        return self.redis

    def start_worker(self, **options) -> Worker:
        worker = Worker(f"w{next(self._names)}", broker_url=self.broker_url,
                        key_prefix=self.key_prefix, queue=self.queue,
                        database_name=self.database_name, events=self.events,
                        directory=self.directory, **options)
        self.workers.append(worker)
        return worker

    def started(self, count: int, **options) -> list[Worker]:
        workers = [self.start_worker(**options) for _ in range(count)]
        for worker in workers:
            worker.wait_ready()
        return workers

    def worker(self, name: str) -> Worker:
        return next(worker for worker in self.workers if worker.name == name)

    # ---- tasks

    def send(self, name: str, args=(), *, plan: dict | None = None) -> str:
        """Send a task; `plan` arms a fault point for its first delivery."""
        task_id = str(uuid.uuid4())
        if plan is not None:
            path = self.directory / "plans" / f"plan-{task_id}.json"
            staging = path.with_suffix(".staging")
            staging.write_text(json.dumps(plan))
            staging.rename(path)  # whole, or not there
        # CELERY_BROKER_URL in the environment would win over the app's own broker.
        with self.client.connection_for_write(self.broker_url) as broker:
            self.client.send_task(name, args=list(args), task_id=task_id, queue=self.queue,
                                  connection=broker)
        return task_id

    def create(self, program, day, officer, *, plan: dict | None = None) -> str:
        """What the admin's or the command line's 作成 does (fault_app.create_run_as)."""
        return self.send("tests.payouts.fault_app.create_run_as",
                         [program.code, day.isoformat(), officer.pk], plan=plan)

    def schedule(self, *, plan: dict | None = None) -> str:
        """What beat does."""
        return self.send("payouts.tasks.create_scheduled_runs", plan=plan)

    def paused(self) -> dict:
        return self.events.wait(lambda e: e["event"] == "paused", "paused")

    def done(self, task_id: str) -> dict:
        """The task's end, once its message is acknowledged (acks_late: after the task)."""
        end = self.events.wait(lambda e: e["event"] == "task_end" and e["id"] == task_id,
                               f"task_end of {task_id}")
        self.events.wait(lambda e: e["event"] in ("acked", "rejected") and e["id"] == task_id
                         and e["worker"] == end["worker"], f"ack of {task_id}")
        return end

    def new_queue(self) -> None:
        """Workers started from now on consume a queue of their own: what the broker still
        holds for the earlier ones never reaches them."""
        self.queue = f"{self.queue.split('.')[0]}.{next(self._names)}"

    def drop_connection(self, backend: int) -> None:
        """What a network failure or a database restart does to the worker's session."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
            assert cursor.fetchone()[0], f"no backend {backend} to terminate"

    # ---- trials

    @contextmanager
    def trial(self, scenario: str, label: str):
        self.events.drain()
        try:
            yield
        except Exception as error:
            logs = "\n".join(worker.log() for worker in self.workers[-4:])
            raise AssertionError(f"[{scenario}] trial «{label}» failed: {error}\n"
                                 f"--- events ---\n{self.events.tail()}\n{logs}") from error
        TRIALS[scenario] += 1

    def close(self) -> None:
        """Every worker killed (one that cannot be does not spare the others), the private
        Redis stopped, the session's keys gone from the shared one."""
        errors = []
        for worker in self.workers:
            try:
                worker.kill()
            except Exception as error:  # noqa: BLE001 - raised once the rest is done
                errors.append(error)
        self.client.close()
        self.events.close()
        if self.redis is not None:
            self.redis.stop()
        else:
            forget_keys(self.broker_url, self.key_prefix)
        if errors:
            raise errors[0]


@pytest.fixture
def broker_url(postgres) -> str:
    url = os.environ.get("CELERY_BROKER_URL", "")
    _need(url.startswith("redis"), "the fault tests need a Redis broker (CELERY_BROKER_URL)")
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as error:
        _need(False, f"Redis at CELERY_BROKER_URL does not answer ({error})")
    return url


@pytest.fixture
def faults(broker_url, migration_data, tmp_path):
    stack = Faults(broker_url, tmp_path)
    try:
        yield stack
    finally:
        stack.close()  # every worker killed, even when the test failed


@pytest.fixture
def people(migration_data):
    set_consignor()
    creator, other_creator = officers()
    _, releaser = officers()  # releases every run: never its creator
    return creator, other_creator, releaser


def _succeeded(end: dict) -> None:
    assert end["state"] == "SUCCESS", f"{end['worker']}: {end['result']}"


# --------------------------------------------------------------------------- a: kill -9

KILL_POINTS = [("start", None), ("after_building_run", None), ("in_chunk", 1),
               ("after_chunk", 1), ("in_chunk", 3), ("after_chunk", 3),
               ("before_finish", None), ("after_finish", None)]


def test_a_worker_killed_at_any_point_of_a_run_leaves_it_to_be_finished_once(faults, people):
    """kill -9 while the run is built; a new worker takes the worker's place, the message
    comes again (acks_late) and finishes the run — alone, or with an administrator's retry
    sent at once."""
    creator, _, releaser = people
    program, day = lump_sum(), scheduled_day()
    faults.started(2)
    for retried in (False, True):
        for at, n in KILL_POINTS:
            label = f"killed at {at} {n or ''}, {'retried' if retried else 'delivered again'}"
            with faults.trial(SCENARIOS[0], label):
                expected, since = payables(PAYABLES, program), last_run_pk()
                task = faults.create(program, day, creator,
                                     plan={"at": at, "n": n, "chunk": CHUNK})
                victim = faults.worker(faults.paused()["worker"])
                victim.kill()
                faults.start_worker()  # in its place (its start is not waited for)
                tasks = [task, faults.create(program, day, creator)] if retried else [task]
                for end in [faults.done(task_id) for task_id in tasks]:
                    _succeeded(end)
                    assert end["worker"] != victim.name
                EMPTY_RUNS[SCENARIOS[0]] += check_paid_once(program, expected, since=since,
                                                            releaser=releaser)


def test_a_hung_worker_killed_after_another_took_its_message_over_leaves_nobody_out(
        faults, people):
    """A worker hangs inside a chunk (its payables locked, not committed); its message comes
    again to another worker, which builds the rest and waits to finish; then the hung one is
    killed. The run still holds every payable: the finish looks again, under the run's lock,
    for payables a chunk skipped while the dead worker held them."""
    creator, _, releaser = people
    program, day = lump_sum(), scheduled_day()
    faults.started(2)
    for n in (1, 3):
        with faults.trial(SCENARIOS[0], f"hung in chunk {n}, then killed"):
            expected, since = payables(PAYABLES, program), last_run_pk()
            task = faults.create(program, day, creator,
                                 plan={"at": "in_chunk", "n": n, "chunk": CHUNK})
            hung = faults.worker(faults.paused()["worker"])
            faults.events.wait(lambda e, hung=hung: e["event"] == "point"
                               and e["at"] == "before_finish" and e["worker"] != hung.name,
                               "the other worker finishing")
            hung.kill()
            faults.start_worker()  # in its place, for the next trial
            _succeeded(faults.done(task))
            check_paid_once(program, expected, since=since, releaser=releaser)


def test_a_pool_process_killed_mid_run_has_its_message_delivered_again(faults, people):
    """The production worker's pool is prefork: the OOM killer kills a pool process, not the
    worker. Its message comes again (reject_on_worker_lost), as when the whole worker dies."""
    creator, _, releaser = people
    program, day = lump_sum(), scheduled_day()
    # A visibility timeout longer than the trial: the message may come again only because
    # the worker gave it back, not because its acknowledgement is late.
    faults.started(1, pool="prefork", visibility_timeout=600)
    with faults.trial(SCENARIOS[0], "prefork pool process killed in chunk 2"):
        expected, since = payables(PAYABLES, program), last_run_pk()
        task = faults.create(program, day, creator,
                             plan={"at": "in_chunk", "n": 2, "chunk": CHUNK})
        faults.events.wait(lambda e: e["event"] == "received" and e["id"] == task, "receipt")
        os.kill(faults.paused()["pid"], signal.SIGKILL)
        faults.events.wait(lambda e: e["event"] in ("acked", "rejected") and e["id"] == task,
                           "the worker's word on the message")
        try:  # given back (rejected and requeued) or retried: it comes to the worker again
            faults.events.wait(lambda e: e["event"] == "received" and e["id"] == task,
                               "the message again", within=10)
        except FaultError:
            raise AssertionError("the message of the killed pool process was acknowledged "
                                 "and nothing delivers it again: the run stays 作成中") from None
        _succeeded(faults.done(task))
        check_paid_once(program, expected, since=since, releaser=releaser)


# -------------------------------------------------------------------- b: two at once

# (chunk, where both wait for each other, what the second creation is)
AT_ONCE = [(1, "start", "officer"), (2, "after_building_run", "officer"),
           (3, "start", "schedule"), (5, "after_building_run", "officer"),
           (7, "start", "officer"), (4, "start", "schedule"),
           (6, "after_building_run", "officer"), (11, "start", "schedule")]


def test_two_creations_of_the_same_program_at_once_build_one_run(faults, people):
    """Two officers (or an officer and the schedule's job) create the same program's run at
    the same moment, on two workers: they build one run together, everyone paid once."""
    creator, other_creator, releaser = people
    program, day = lump_sum(), scheduled_day()
    first, second = faults.started(2)
    for chunk, gate, other in AT_ONCE:
        with faults.trial(SCENARIOS[1], f"chunk {chunk}, together from {gate}, with {other}"):
            expected, since = payables(29, program), last_run_pk()
            plan = {"at": gate, "chunk": chunk}
            tasks = [faults.create(program, day, creator, plan=plan),
                     faults.schedule(plan=plan) if other == "schedule"
                     else faults.create(program, day, other_creator, plan=plan)]
            waiting = {faults.paused()["worker"], faults.paused()["worker"]}
            assert waiting == {first.name, second.name}
            first.go()
            second.go()
            for task in tasks:
                _succeeded(faults.done(task))
            EMPTY_RUNS[SCENARIOS[1]] += check_paid_once(program, expected, since=since,
                                                        releaser=releaser)


# ------------------------------------------------------------ c: connection dropped

# (where the worker's database session is terminated, who retries)
DROP_POINTS = [("after_building_run", None, "officer"), ("in_chunk", 1, "schedule"),
               ("after_chunk", 2, "officer"), ("in_chunk", 3, "schedule"),
               ("before_finish", None, "officer"), ("after_finish", None, "schedule")]


def test_a_run_whose_database_connection_dropped_is_finished_once_on_retry(faults, people):
    """The worker's PostgreSQL session is terminated mid-run (pg_terminate_backend, as a
    failover or a restart would): the task fails, and the retry — the officer's, or the
    schedule's job resuming runs left 作成中 — finishes the run once."""
    creator, _, releaser = people
    program, day = lump_sum(), scheduled_day()
    [worker] = faults.started(1)
    for at, n, retry in DROP_POINTS:
        with faults.trial(SCENARIOS[2], f"dropped at {at} {n or ''}, retried by {retry}"):
            expected, since = payables(PAYABLES, program), last_run_pk()
            task = faults.create(program, day, creator,
                                 plan={"at": at, "n": n, "chunk": CHUNK})
            faults.drop_connection(faults.paused()["backend"])
            worker.go()
            end = faults.done(task)
            if at == "after_finish":  # everything was committed: nothing to retry
                _succeeded(end)
            else:
                assert end["state"] == "FAILURE", "the dropped connection went unnoticed"
                assert PayoutRun.objects.filter(state=PayoutRun.State.BUILDING).exists()
                again = (faults.schedule() if retry == "schedule"
                         else faults.create(program, day, creator))
                _succeeded(faults.done(again))
            EMPTY_RUNS[SCENARIOS[2]] += check_paid_once(program, expected, since=since,
                                                        releaser=releaser)


# --------------------------------------------------------------- d: Redis restarted

# (where, whether Redis keeps its data over the restart, whether the worker dies too)
RESTARTS = [("after_chunk", 1, True, False), ("in_chunk", 2, False, False),
            ("in_chunk", 1, True, True), ("after_chunk", 2, False, True),
            ("after_building_run", None, True, False), ("before_finish", None, False, False),
            ("in_chunk", 3, True, True), ("after_chunk", 3, False, True)]


def test_a_run_survives_a_redis_restart(faults, people):
    """Redis restarts while a worker builds a run — keeping its data (SHUTDOWN SAVE, as a
    persistent Redis does) or losing it (no persistence) — and sometimes the worker dies in
    the outage too: the run completes, by the worker itself, by the message delivered again,
    or by the officer's retry when Redis lost the message."""
    _need(shutil.which("redis-server") is not None,
          "restarting Redis needs the redis-server program")
    creator, _, releaser = people
    program, day = lump_sum(), scheduled_day()
    redis_server = faults.private_redis()
    for at, n, keep, dies in RESTARTS:
        label = (f"restarted at {at} {n or ''}, data {'kept' if keep else 'lost'}"
                 f"{', worker killed' if dies else ''}")
        with faults.trial(SCENARIOS[3], label):
            # A queue per trial: the worker is killed once the run is built, and a message
            # whose acknowledgement had not reached Redis yet must not come to the next
            # trial's worker.
            faults.new_queue()
            worker = faults.start_worker()
            expected, since = payables(PAYABLES, program), last_run_pk()
            task = faults.create(program, day, creator,
                                 plan={"at": at, "n": n, "chunk": CHUNK})
            faults.paused()
            redis_server.restart(keep_data=keep)
            if not dies:
                worker.go()
            else:
                worker.kill()
                worker = faults.start_worker()
                if not keep:  # the message went with Redis's data: the officer retries
                    task = faults.create(program, day, creator)
            _succeeded(faults.done(task))
            worker.kill()
            EMPTY_RUNS[SCENARIOS[3]] += check_paid_once(program, expected, since=since,
                                                        releaser=releaser)


# ---------------------------------------------------------------- adjustment runs

# Chunk 1 is the program's own source (nothing payable in these trials); the adjustments
# fill chunks 2 and 3.
ADJUSTMENT_POINTS = [("in_chunk", 2, False), ("after_chunk", 3, True),
                     ("before_finish", None, False), ("in_netting", None, False),
                     ("in_netting", None, True), ("after_finish", None, True)]


def test_adjustment_runs_pay_and_net_exactly_once_when_a_worker_dies_or_a_run_is_built_twice(
        faults, people):
    """A run that pays approved positive adjustments and nets or claims back negative ones
    (docs/domain.md §5.4), its worker killed (kill -9) at any point — inside the netting too, before
    its transaction commits — and its message delivered again, sometimes with an officer's
    second creation at once (a run built twice): every adjustment is paid once, every
    netting and recovery made once; released twice, the run is released once; the bank's
    results imported twice pay each adjustment once."""
    from tests.payouts.fault_checks import adjustments, check_adjustments_once

    creator, _, releaser = people
    program, day = lump_sum(), scheduled_day()
    faults.started(2)
    for at, n, twice in ADJUSTMENT_POINTS:
        label = f"adjustments, killed at {at} {n or ''}{', built twice' if twice else ''}"
        with faults.trial(SCENARIOS[0], label):
            expected = adjustments(program)  # with the settled run that paid the results
            since = last_run_pk()
            task = faults.create(program, day, creator,
                                 plan={"at": at, "n": n, "chunk": CHUNK})
            victim = faults.worker(faults.paused()["worker"])
            victim.kill()
            faults.start_worker()
            tasks = [task, faults.create(program, day, creator)] if twice else [task]
            for end in [faults.done(task_id) for task_id in tasks]:
                _succeeded(end)
            check_adjustments_once(program, expected, releaser=releaser, since=since)


def test_fault_trials_ran(capsys):
    """Runs last in this file: how many trials each scenario passed."""
    if not TRIALS:
        pytest.skip("run with the file's other tests")
    counts = ", ".join(f"{scenario} {TRIALS[scenario]}" for scenario in SCENARIOS)
    empty = ", ".join(f"{scenario[:1]} {count}" for scenario, count in EMPTY_RUNS.items())
    with capsys.disabled():
        print(f"\npayout fault trials: {counts} ({sum(TRIALS[s] for s in SCENARIOS)} in all); "
              f"empty runs made by a message delivered again: {empty or 'none'}")
    if all(TRIALS[scenario] for scenario in SCENARIOS):
        assert sum(TRIALS[scenario] for scenario in SCENARIOS) >= 30

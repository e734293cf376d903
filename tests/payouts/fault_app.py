"""The Celery app of the workers the fault tests start (`celery -A tests.payouts.fault_app
worker`): the portal's own app and tasks, with fault points in the building of a payout run.

The test arms a point of one task by leaving a plan in FAULT_PLAN_DIR (`plan-<task id>.json`,
e.g. `{"at": "in_chunk", "n": 2, "chunk": 5}`); the task takes it when it starts (an atomic
rename: its first delivery only), fills the run `chunk` payables at a time and, at the point,
writes a `paused` event and waits for a line on its FIFO (FAULT_GO_FIFO) — meanwhile the test
kills the worker, drops its database connection or restarts Redis. A message delivered again
finds no plan and runs to the end.

Every point reached, every message received, every task's start and end and every
acknowledgement (as sent: Kombu's Redis transport applies it a moment later) is written as a
JSON line to the file descriptor FAULT_EVENTS_FD.

Points: start (before the task's body), after_building_run, in_chunk n (chunk n's lines
written and its payables taken, not committed), after_chunk n (committed), before_finish,
after_finish (committed, before the message is acknowledged).
"""

import json
import os
from pathlib import Path

import django

django.setup()

from celery.signals import task_postrun, task_prerun, task_received, worker_ready  # noqa: E402
from celery.worker.request import Request  # noqa: E402
from django.db import connection  # noqa: E402

from payouts import services  # noqa: E402
from payouts.sources import SOURCES  # noqa: E402
from portal.celery import app  # noqa: E402

__all__ = ["app", "create_run_as"]

WORKER = os.environ.get("FAULT_WORKER", "worker")
EVENTS_FD = int(os.environ["FAULT_EVENTS_FD"])
PLAN_DIR = Path(os.environ["FAULT_PLAN_DIR"])
GO_FIFO = os.environ["FAULT_GO_FIFO"]
DEFAULT_CHUNK = services.FILL_CHUNK

_task: dict = {"plan": None, "chunk": 0}


def emit(event: str, **fields) -> None:
    """One line, written at once (a pipe shared by the workers keeps lines whole)."""
    backend = connection.connection.info.backend_pid if connection.connection else None
    line = json.dumps({"event": event, "worker": WORKER, "pid": os.getpid(),
                       "backend": backend, **fields}, default=str)
    os.write(EVENTS_FD, line.encode() + b"\n")


def _pause(at: str, n: int | None) -> None:
    """Tell the test, then wait until it writes a line to this worker's FIFO. The FIFO is
    opened (read-write: it never blocks) before telling, so the test's write always finds
    a reader."""
    fd = os.open(GO_FIFO, os.O_RDWR)
    try:
        emit("paused", at=at, n=n)
        received = b""
        while not received.endswith(b"\n"):
            received += os.read(fd, 64)
    finally:
        os.close(fd)
    emit("resumed", at=at, n=n)


def point(at: str, n: int | None = None) -> None:
    emit("point", at=at, n=n)
    plan = _task["plan"]
    if plan and plan["at"] == at and plan.get("n") == n and not plan.get("fired"):
        plan["fired"] = True
        _pause(at, n)


def _take_plan(task_id: str) -> dict | None:
    """The task's plan, the first time the task runs (a message delivered again has none)."""
    path = PLAN_DIR / f"plan-{task_id}.json"
    taken = path.with_name(f"{path.name}.taken-{os.getpid()}")
    try:
        path.rename(taken)
    except FileNotFoundError:
        return None
    return json.loads(taken.read_text())


@worker_ready.connect
def _ready(**kwargs) -> None:
    emit("ready")


@task_received.connect
def _received(request=None, **kwargs) -> None:
    emit("received", id=request.id, name=request.name, eta=request.eta)


@task_prerun.connect
def _task_starts(task_id=None, task=None, **kwargs) -> None:
    plan = _take_plan(task_id)
    _task.update(plan=plan, chunk=0)
    services.FILL_CHUNK = (plan or {}).get("chunk", DEFAULT_CHUNK)
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    emit("task_start", id=task_id, name=task.name, plan=plan, redelivered=redelivered)
    point("start")


@task_postrun.connect
def _task_ends(task_id=None, task=None, retval=None, state=None, **kwargs) -> None:
    emit("task_end", id=task_id, name=task.name, state=state,
         result=retval if isinstance(retval, dict | list) else repr(retval))
    _task.update(plan=None, chunk=0)
    services.FILL_CHUNK = DEFAULT_CHUNK


# The message's fate, after the task (acks_late): acknowledged, or rejected (requeued or not).
_acknowledge, _reject = Request.acknowledge, Request.reject


def acknowledge(self):
    first = not self.acknowledged
    _acknowledge(self)
    if first:
        emit("acked", id=self.id)


def reject(self, requeue=False):
    first = not self.acknowledged
    _reject(self, requeue=requeue)
    if first:
        emit("rejected", id=self.id, requeue=requeue)


Request.acknowledge, Request.reject = acknowledge, reject


# ------------------------------------------------------------------ an officer's creation


@app.task(name="tests.payouts.fault_app.create_run_as", acks_late=True,
          reject_on_worker_lost=True)
def create_run_as(program_code: str, transfer_date: str, by_user_id: int) -> dict:
    """What an officer's 作成 does (the admin's page, `manage.py payout create`: the
    services in the officer's name), in a worker beside the schedule's job, with the portal's
    task's options. The portal's own create_run task builds runs of the schedule only (a
    task cannot tell who sent it)."""
    from datetime import date

    from django.contrib.auth import get_user_model

    from eligibility.models import Program

    run = services.create_run(program=Program.objects.get(code=program_code),
                              transfer_date=date.fromisoformat(transfer_date),
                              actor=get_user_model().objects.get(pk=by_user_id))
    return {"run": run.pk, "state": run.state, "lines": run.line_count,
            "total": run.total_amount}


# ---------------------------------------------------------------- the points, in the services

_building_run, _fill_chunk, _finish = (services._building_run, services._fill_chunk,
                                       services._finish)


def building_run(*args, **kwargs):
    run = _building_run(*args, **kwargs)
    point("after_building_run")
    return run


def fill_chunk(*args, **kwargs):
    _task["chunk"] += 1
    claimed = _fill_chunk(*args, **kwargs)
    if claimed:
        point("after_chunk", _task["chunk"])
    return claimed


def finish(*args, **kwargs):
    point("before_finish")
    run = _finish(*args, **kwargs)
    point("after_finish")
    return run


def _taking(take):
    def taking(ids, *, actor):
        take(ids, actor=actor)
        point("in_chunk", _task["chunk"])

    return taking


services._building_run, services._fill_chunk, services._finish = building_run, fill_chunk, finish
for source in SOURCES.values():
    source.take = _taking(source.take)


# The netting of a run (docs/domain.md §5.4), inside the transaction that finishes it: a point after
# every netting and recovery is written, before the commit.
from payouts import netting as _netting_module  # noqa: E402

_net_and_claim_back = _netting_module.net_and_claim_back


def net_and_claim_back(*args, **kwargs):
    _net_and_claim_back(*args, **kwargs)
    point("in_netting")


_netting_module.net_and_claim_back = net_and_claim_back

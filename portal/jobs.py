"""The background-job kernel: one way for the portal's jobs (CSV imports, 適用前の確認 of a
parameter change, 文書の一括作成) to keep their state, progress, times, error and history
(docs/architecture.md#background-jobs).

A job model subclasses `BackgroundJob` (abstract: each kind keeps its own table and its own
fields, the shared ones come from here), declares its state with `job_state_field` and its
moves with `job_moves(Phase(queued, running, done), ..., failed=...)`: 「開始」 (queued →
running), 「完了」 (running → done) and 「失敗」 (running → failed), one set per phase (an
import has two: its dry run, then its confirmed import). The moves are workflow moves
(portal/workflow.py) that only the portal's worker makes (`system=True`; no person may): each
is logged in django-fsm-log's StateLog, so a job has a history.

The worker uses three functions and nothing else:

- `step(Model, pk, "start", source=...)` makes a move under the job's row lock, only if the
  job is where the move starts (and in `source`, when given): a task delivered twice finds
  its job running or finished and does nothing (False); a stale worker cannot move a job that
  another delivery finished or failed;
- `progress(Model, pk, done, message=...)` writes the progress with a conditional UPDATE (only
  while the job is running), capped at its total (unless the total is not known yet:
  `OPEN_ENDED`);
- `fail(Model, pk, text)` ends a running job as failed, the text kept on the row and in the
  history.
"""

from typing import NamedTuple

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django_fsm import can_proceed

from .workflow import WorkflowModel, move, perform, state_field, state_label


class Phase(NamedTuple):
    """One run of a job: waiting for the worker, running, done (the next phase's start, or
    the end)."""

    queued: str
    running: str
    done: str


def nobody(obj, user) -> bool:
    """The permission of the worker's moves: no person makes them by hand."""
    return False


def job_state_field(choices, *, default):
    return state_field("状態", choices=choices, default=default)


def job_moves(*phases: Phase, failed: str):
    """The moves of a job model, for its class body: `start, finish, fail = job_moves(...)`.
    Made anew for each model (django-fsm keeps a move's transitions on its function)."""

    @move(routes={phase.queued: phase.running for phase in phases}, permission=nobody,
          label="処理を開始する", system=True, visible_to_facility=False)
    def start(self, *, actor, **values):
        self.started_at, self.finished_at = timezone.now(), None
        self.done, self.message, self.failure = 0, "", ""
        for name, value in values.items():
            setattr(self, name, value)

    @move(routes={phase.running: phase.done for phase in phases}, permission=nobody,
          label="処理を完了する", system=True, visible_to_facility=False)
    def finish(self, *, actor, **values):
        self.finished_at = timezone.now()
        self.message = ""
        for name, value in values.items():
            setattr(self, name, value)

    @move(source=[phase.running for phase in phases], target=failed, permission=nobody,
          label="処理を失敗として終える", system=True, visible_to_facility=False)
    def fail(self, *, actor, failure: str):
        self.failure, self.finished_at, self.message = failure, timezone.now(), ""

    return start, finish, fail


class BackgroundJob(WorkflowModel, models.Model):
    """What every background job has. A subclass sets PHASES and FAILED (its states) and
    declares `state = job_state_field(...)` and `start, finish, fail = job_moves(...)`."""

    PHASES: tuple[Phase, ...] = ()
    FAILED: str = "failed"
    # A job whose total is not known while it runs (an import's dry run reads a file of
    # unknown length): its progress is not capped while its total is 0. Otherwise `done`
    # never passes `total`.
    OPEN_ENDED = False

    total = models.PositiveIntegerField("対象の件数", default=0)
    done = models.PositiveIntegerField("処理済みの件数", default=0)
    message = models.CharField("進み具合", max_length=200, blank=True)
    failure = models.TextField("エラーの内容", blank=True)
    # Who asked for the job: the acting user of its first step (the worker's moves are logged
    # with no actor, as the portal's own).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="依頼した人",
                                   on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField("依頼日時", auto_now_add=True)
    started_at = models.DateTimeField("開始日時", null=True, blank=True)
    finished_at = models.DateTimeField("完了日時", null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    @classmethod
    def queued_states(cls) -> tuple[str, ...]:
        return tuple(phase.queued for phase in cls.PHASES)

    @classmethod
    def running_states(cls) -> tuple[str, ...]:
        return tuple(phase.running for phase in cls.PHASES)

    @property
    def in_progress(self) -> bool:
        """Waiting for the worker or running: its page refreshes itself."""
        return self.state in self.queued_states() + self.running_states()

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)

    def state_history(self) -> list[dict]:
        """Every move of the job, oldest first (StateLog), with the states' labels."""
        from django_fsm_log.models import StateLog

        return [{"at": log.timestamp, "by": log.by,
                 "source": state_label(self, log.source_state),
                 "target": state_label(self, log.state),
                 "description": log.description or ""}
                for log in StateLog.objects.for_(self).select_related("by")
                .order_by("timestamp", "pk")]


def step(model: type[BackgroundJob], pk: int, name: str, *, source: str | None = None,
         summary: str | None = None, **values) -> bool:
    """Make the worker's move `name` on job `pk` (with the fields `values`), logged; False,
    changing nothing, when the job is gone or no longer where the move starts (or not in
    `source`): a second delivery of the same task, or a worker whose job was finished or
    failed meanwhile."""
    with transaction.atomic():
        job = model._default_manager.select_for_update().filter(pk=pk).first()
        if job is None or (source is not None and job.state != source):
            return False
        if not can_proceed(getattr(job, name)):
            return False
        perform(job, name, actor=None, summary=summary, **values)
    return True


def progress(model: type[BackgroundJob], pk: int, done: int, *, message: str | None = None,
             **values) -> bool:
    """How far a running job is (`done`, capped at its total when it has one, and a line of
    text): one conditional UPDATE, which writes nothing once the job is no longer running."""
    capped = Q(total__lt=done) & (Q(total__gt=0) if model.OPEN_ENDED else Q())
    fields = {"done": Case(When(capped, then=F("total")), default=Value(done)), **values}
    if message is not None:
        fields["message"] = storable(message)[:200]
    return bool(model._default_manager.filter(
        pk=pk, state__in=model.running_states()).update(**fields))


def storable(text: str) -> str:
    """A text as PostgreSQL can keep it (text and jsonb hold no NUL)."""
    return text.replace("\x00", "\\x00")


def fail(model: type[BackgroundJob], pk: int, failure: str) -> bool:
    """End a running job as failed, saying why (on the row and in its history)."""
    failure = storable(failure)
    return step(model, pk, "fail", summary=failure, failure=failure)

"""One workflow mechanism for every state machine of the portal (usage applications, subsidy
claims, parameter versions; payout runs and exemption declarations next), on django-fsm-2.

A model declares its state field with `state_field(...)` (protected: only a transition may
change it) and each move with `@move(...)`: source, target, the permission it needs (a
permission code, or a callable `(obj, user) -> bool` such as "is this facility's staff"), the
label shown on its button, and whether its actor must differ from the actor of an earlier
move (four-eyes). Every state has its internal name (the value), the administrators' label
(the choice label) and the facility's label (`facility_state_labels` on the model).

`perform()` is the only way a move is made: it locks the row, checks the state, the
permission and the four-eyes rule, applies the move, saves, logs it (django-fsm-log's
StateLog, with the actor) and hands it to the model's `after_move()` for its effects (the
facility's history, e-mail). One transaction: a refusal changes nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.db import models, transaction
from django_fsm import FSMField, FSMModelMixin, can_proceed, has_transition_perm, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from django_fsm_log.models import StateLog

from .errors import IllegalTransition, NotPermitted, ServiceError


class WorkflowModel(FSMModelMixin):
    """Base of a model with a workflow: refresh_from_db works on its protected state."""


class StateField(FSMField):
    """A workflow's state: django-fsm's protected field, recorded in migrations as the
    CharField it is in the database. (django-fsm connects a `class_prepared` receiver for
    every instance of its field; the migrations' model states clone each field thousands of
    times, and with FSMField in them `migrate` spent half its time in those receivers.)"""

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        kwargs.pop("protected", None)
        return name, "django.db.models.CharField", args, kwargs


def state_field(verbose_name: str, *, choices, default, max_length: int = 20) -> StateField:
    return StateField(verbose_name, max_length=max_length, choices=choices, default=default,
                    protected=True, db_index=True)


def move(
    *,
    source=None,
    target=None,
    permission: str | Callable[[Any, Any], bool],
    label: str,
    field: str = "state",
    four_eyes: tuple[str, ...] = (),
    visible_to_facility: bool = True,
    email: str | None = None,
    system: bool = False,
    routes: dict | None = None,
):
    """Declare a transition with the portal's metadata. The method is called as
    `method(self, actor=..., **values)` and may set the fields that go with the move.
    `system`: the portal's own jobs (a scheduled payout run) may make it with no actor
    (actor=None); a person still needs the permission. `routes` ({source: target}, instead
    of `source` and `target`): one move whose target depends on where it starts (a
    background job's 「開始」 of its dry run or of its import, portal/jobs.py)."""

    def decorate(method):
        @wraps(method)
        def body(instance, *, by=None, description=None, **values):
            return method(instance, actor=by, **values)

        moved = body
        for start, end in (list(routes.items()) if routes else [(source, target)]):
            moved = transition(
                field=field, source=start, target=end, permission=permission,
                custom={"label": label, "four_eyes": four_eyes,
                        "visible_to_facility": visible_to_facility, "email": email,
                        "system": system},
            )(moved)
        # Outside the transition, so that the actor is known when the move is logged.
        return fsm_log_by(fsm_log_description(moved))

    return decorate


@dataclass(frozen=True)
class MoveInfo:
    name: str
    label: str
    source: str
    target: str
    four_eyes: tuple[str, ...]
    visible_to_facility: bool
    email: str | None
    system: bool = False


def _state_field_name(model) -> str:
    for field in model._meta.concrete_fields:
        if isinstance(field, FSMField):
            return field.name
    raise TypeError(f"{model.__name__} has no state field")


def current_state(obj) -> str:
    return getattr(obj, _state_field_name(type(obj)))


def state_label(obj, state: str | None = None) -> str:
    field = obj._meta.get_field(_state_field_name(type(obj)))
    value = current_state(obj) if state is None else state
    return str(dict(field.flatchoices).get(value, value))


def facility_state_label(obj) -> str:
    """The state as the facility sees it (internal steps read as the step they belong to)."""
    labels = getattr(type(obj), "facility_state_labels", {})
    state = current_state(obj)
    return labels.get(state, state_label(obj, state))


def _info(obj, name: str) -> MoveInfo:
    method = getattr(obj, name, None)
    meta = getattr(method, "_django_fsm", None)
    if meta is None:
        raise TypeError(f"{type(obj).__name__}.{name} is not a move")
    state = current_state(obj)
    found = meta.get_transition(state)
    if found is None:  # not allowed from here: describe the move by any of its transitions
        found = next(iter(meta.transitions.values()))
    custom = found.custom
    return MoveInfo(name=name, label=custom["label"], source=state, target=found.target,
                    four_eyes=custom["four_eyes"],
                    visible_to_facility=custom["visible_to_facility"], email=custom["email"],
                    system=custom.get("system", False))


def moves(model) -> dict[str, MoveInfo]:
    """Every move the model declares (for the permission matrix and the admin)."""
    field = model._meta.get_field(_state_field_name(model))
    result: dict[str, MoveInfo] = {}
    for found in field.get_all_transitions(model):
        result.setdefault(found.name, MoveInfo(
            name=found.name, label=found.custom["label"], source=found.source,
            target=found.target, four_eyes=found.custom["four_eyes"],
            visible_to_facility=found.custom["visible_to_facility"],
            email=found.custom["email"], system=found.custom.get("system", False)))
    return result


def last_actor(obj, transitions: tuple[str, ...]):
    """Who made the latest of these moves on this object (None if nobody did)."""
    log = (StateLog.objects.for_(obj).filter(transition__in=transitions)
           .order_by("-timestamp", "-pk").first())
    return log.by_id if log else None


def refusal(obj, name: str, user) -> ServiceError | None:
    """Why `user` may not make this move now (None when they may)."""
    method = getattr(obj, name)
    info = _info(obj, name)
    if not can_proceed(method):
        return IllegalTransition(
            f"{obj._meta.verbose_name}は「{state_label(obj)}」のため、"
            f"「{info.label}」はできません。")
    if user is None:
        if info.system:
            return None  # the portal's own job
        return NotPermitted(f"「{info.label}」を行う権限がありません。")
    if not has_transition_perm(method, user):
        return NotPermitted(f"「{info.label}」を行う権限がありません。")
    extra = getattr(obj, "move_refusal", None)
    if extra is not None and (problem := extra(name, user)) is not None:
        return problem
    if info.four_eyes and last_actor(obj, info.four_eyes) == user.pk:
        return NotPermitted(
            f"「{info.label}」は、前の段階を担当した方とは別の方が行ってください（二者確認）。")
    return None


def available_moves(obj, user) -> list[MoveInfo]:
    """The moves this user may make on the object in its present state."""
    return [info for name, info in moves(type(obj)).items() if refusal(obj, name, user) is None]


def perform(obj: models.Model, name: str, *, actor, summary: str | None = None,
            effect: Callable[[Any], str | None] | None = None, **values):
    """Make one move: lock, check, apply, save, log, effects. Returns the saved object.

    `values` go to the transition method (fields that change with the move); `effect(obj)`
    runs after the state changed, inside the transaction, and may return the summary text.
    """
    with transaction.atomic():
        locked = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
        problem = refusal(locked, name, actor)
        if problem is not None:
            raise problem
        info = _info(locked, name)
        getattr(locked, name)(by=actor, description=summary or "", **values)
        locked.save()
        text = effect(locked) if effect is not None else None
        text = text or summary or info.label
        after = getattr(locked, "after_move", None)
        if after is not None:
            after(move=info, actor=actor, summary=text)
    return locked


def perform_many(model, ids, name: str, *, actor, summary: str = "", **fields) -> list[int]:
    """The same move on many rows at once (a payout run's lines; `ids`: their ids, or a
    queryset of rows the caller holds locked): the move and the actor's
    permission are checked once, the rows still in the move's source state are updated in
    one statement per chunk (with `fields`, set by the move as a column value), and one
    StateLog per row is written in bulk: the history `perform` keeps, at the speed a run of
    hundreds of thousands of lines needs. No `after_move` (the caller records the facility's
    history in bulk). Call inside the caller's transaction; returns the ids moved."""
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    info = moves(model)[name]
    meta = getattr(model, name)._django_fsm
    sources = [state for state in meta.transitions if state != "*"]
    if actor is None and not info.system:
        raise NotPermitted(f"「{info.label}」を行う権限がありません。")
    permission = next(iter(meta.transitions.values())).permission
    if actor is not None and isinstance(permission, str) and not actor.has_perm(permission):
        raise NotPermitted(f"「{info.label}」を行う権限がありません。")
    field = _state_field_name(model)
    content_type = ContentType.objects.get_for_model(model)
    now = timezone.now()
    moved: list[int] = []

    def move_rows(rows: list, matching) -> None:
        if not rows:
            return
        if actor is not None and callable(permission):
            for obj in model._default_manager.filter(pk__in=[pk for pk, _ in rows]):
                if not permission(obj, actor):
                    raise NotPermitted(f"「{info.label}」を行う権限がありません。")
        matching.update(**{field: info.target}, **fields)
        StateLog.objects.bulk_create(
            [StateLog(timestamp=now, by=actor, source_state=state, state=info.target,
                      transition=name, content_type=content_type, object_id=pk,
                      description=summary) for pk, state in rows],
            batch_size=5000)
        moved.extend(pk for pk, _ in rows)

    if isinstance(ids, models.QuerySet):
        # The rows of a queryset whose rows the caller holds (a run's lines under the run's
        # lock): one read, one UPDATE.
        matching = ids.filter(**{f"{field}__in": sources})
        move_rows(list(matching.values_list("pk", field)), matching)
        return moved
    ids = list(ids)
    for start in range(0, len(ids), 10000):
        chunk = ids[start:start + 10000]
        rows = list(model._default_manager.select_for_update().filter(
            pk__in=chunk, **{f"{field}__in": sources}).values_list("pk", field))
        move_rows(rows, model._default_manager.filter(pk__in=[pk for pk, _ in rows]))
    return moved

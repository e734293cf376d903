"""One object's whole history, read from the audit trails in time order (docs/architecture.md,
"Three audit trails"): django-simple-history's copies (every field change, old → new), the
workflow's `StateLog` (every move and its actor), the admin's own log (what was added,
changed or deleted through the admin), and the trails other apps add here in their
AppConfig.ready (`add_trail`: facilities adds its `Activity`, the facility's 履歴; the kernel
does not import the apps above it).

A selector: it reads, and reads a fixed number of queries however long the history is (one
per trail, one per related model whose value changed). Masked fields (portal/admin_masking.py)
never give their values away: to a user who may not see one whole, a change of it reads
「（変更あり・表示しません）」; with no user, every masked field is masked.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.text import capfirst

from .admin_masking import masked_fields_of, shows_whole
from .templatetags.wareki import wareki_time_filter
from .wareki import to_wareki

SYSTEM = "システム"
NOT_SHOWN = "（変更あり・表示しません）"
EMPTY = "（なし）"
LONGEST = 300  # characters of one value shown; a longer one ends with …

# The trails, as the page names them (and the order of entries made at the same moment).
FIELDS, MOVES, ACTIVITY, ADMIN_LOG = "fields", "moves", "activity", "admin_log"
TRAIL_LABELS = {
    FIELDS: "項目の変更",
    MOVES: "状態の遷移",
    ACTIVITY: "施設の履歴",
    ADMIN_LOG: "管理画面の操作",
}
_TRAIL_ORDER = {FIELDS: 0, MOVES: 1, ACTIVITY: 2, ADMIN_LOG: 3}


@dataclass(frozen=True)
class Change:
    """One field's change: its label and the values before and after, as shown."""

    label: str
    old: str
    new: str
    masked: bool = False  # a masked field: old and new are not shown, only that it changed


@dataclass(frozen=True)
class Target:
    """What an entry of another object's trail is about (a facility's history lists its
    applications' and claims' entries too)."""

    model: type[models.Model]
    pk: int
    label: str  # 利用申請 #12


@dataclass(frozen=True)
class Entry:
    at: datetime
    trail: str  # FIELDS, MOVES, ACTIVITY, ADMIN_LOG
    actor: str  # the person's name or e-mail, or SYSTEM
    what: str  # one line: 作成, 変更, 「審査を開始する」, the activity's summary
    changes: tuple[Change, ...] = ()
    detail: str = ""  # the move's description, the change reason, 受付番号
    target: Target | None = None
    for_administrators_only: bool = False  # an activity the facility does not see
    version_id: int | None = None  # the simple-history record, for its version page
    order: int = field(default=0, compare=False)  # within one trail, the rows' own order

    @property
    def trail_label(self) -> str:
        return TRAIL_LABELS.get(self.trail, self.trail)


Trail = Callable[..., list[Entry]]
_trails: list[Trail] = []


def add_trail(trail: Trail) -> None:
    """Another app's trail: `trail(obj, *, user) -> list[Entry]`, in a fixed number of
    queries. Registered in the app's AppConfig.ready."""
    if trail not in _trails:
        _trails.append(trail)


def history_of(obj: models.Model, *, user=None) -> list[Entry]:
    """Every entry of every trail about `obj`, oldest first. `user`: whose eyes the masked
    fields are shown to (None: nobody's, every masked field masked)."""
    entries = [*field_changes(obj, user=user), *state_moves(obj), *admin_log(obj)]
    for trail in _trails:
        entries += trail(obj, user=user)
    return sorted(entries, key=lambda e: (e.at, _TRAIL_ORDER.get(e.trail, 9), e.order))


# ------------------------------------------------------------------------------ helpers

def actor_name(user) -> str:
    if user is None:
        return SYSTEM
    full_name = getattr(user, "full_name", "")
    email = getattr(user, "email", "")
    if full_name and email:
        return f"{full_name}（{email}）"
    return full_name or email or str(user)


def _shorten(text: str) -> str:
    return text if len(text) <= LONGEST else text[:LONGEST] + "…"


def show_value(model_field: models.Field, value, related: dict | None = None) -> str:
    """A stored value as an administrator reads it: a choice's label, はい/いいえ, 和暦, the
    related object's name (from `related`, read beforehand), JSON compact."""
    if value is None or value == "":
        return EMPTY
    if model_field.choices:
        return _shorten(str(dict(model_field.flatchoices).get(value, value)))
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if model_field.is_relation:
        found = (related or {}).get(value)
        return _shorten(str(found)) if found is not None else f"#{value}"
    if isinstance(value, datetime):
        return wareki_time_filter(value)
    if isinstance(value, date):
        return to_wareki(value)
    if isinstance(value, dict | list):
        return _shorten(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if isinstance(value, models.fields.files.FieldFile):
        return _shorten(value.name or EMPTY)
    return _shorten(str(value))


def field_label(model_field: models.Field) -> str:
    return str(capfirst(model_field.verbose_name))


def _hidden_fields(model, user) -> set[str]:
    return {name for name, entry in masked_fields_of(model).items()
            if user is None or not shows_whole(user, entry)}


# --------------------------------------------------------------- django-simple-history

def _history_manager(model):
    from simple_history.exceptions import NotHistoricalModelError
    from simple_history.utils import get_history_manager_for_model

    try:
        return get_history_manager_for_model(model)
    except NotHistoricalModelError:
        return None


def field_changes(obj: models.Model, *, user=None) -> list[Entry]:
    """The simple-history records of the object: its creation, each change with the fields
    that changed (compared with the record before), its deletion. One query, and one per
    related model whose value changed."""
    model = type(obj)
    manager = _history_manager(model)
    if manager is None:
        return []
    records = list(manager.filter(**{model._meta.pk.attname: obj.pk})
                   .select_related("history_user").order_by("history_date", "history_id"))
    tracked = [f for f in manager.model.tracked_fields
               if f.editable and not f.primary_key]
    hidden = _hidden_fields(model, user)

    # Which fields changed in which record, and the related objects to name.
    deltas: list[list[models.Field]] = []
    wanted: dict[models.Field, set] = {}
    previous = None
    for record in records:
        changed = []
        if previous is not None and record.history_type == "~":
            for each in tracked:
                old, new = getattr(previous, each.attname), getattr(record, each.attname)
                if old != new:
                    changed.append(each)
                    if each.is_relation and each.name not in hidden:
                        wanted.setdefault(each, set()).update(v for v in (old, new) if v)
        deltas.append(changed)
        previous = record
    related = {each: each.related_model._base_manager.in_bulk(ids)
               for each, ids in wanted.items()}

    entries = []
    previous = None
    for number, (record, changed) in enumerate(zip(records, deltas, strict=True)):
        changes = []
        for each in changed:
            if each.name in hidden:
                changes.append(Change(field_label(each), NOT_SHOWN, NOT_SHOWN, masked=True))
                continue
            known = related.get(each)
            changes.append(Change(field_label(each),
                                  show_value(each, getattr(previous, each.attname), known),
                                  show_value(each, getattr(record, each.attname), known)))
        what = {"+": "作成", "-": "削除"}.get(record.history_type, "変更")
        if record.history_type == "~" and not changes:
            what = "保存（項目の変更なし）"
        entries.append(Entry(
            at=record.history_date, trail=FIELDS, actor=actor_name(record.history_user),
            what=what, changes=tuple(changes), detail=record.history_change_reason or "",
            version_id=record.history_id, order=number))
        previous = record
    return entries


# ------------------------------------------------------------------- django-fsm-log

def _state_labels(model) -> dict[str, str]:
    from django_fsm import FSMFieldMixin

    labels: dict[str, str] = {}
    for each in model._meta.concrete_fields:
        if isinstance(each, FSMFieldMixin):
            labels.update({str(k): str(v) for k, v in each.flatchoices})
    return labels


def _move_labels(model) -> dict[str, str]:
    from .workflow import moves

    try:
        return {name: info.label for name, info in moves(model).items()}
    except TypeError:  # no state field
        return {}


def state_label_of(model, state: str | None) -> str:
    if not state:
        return EMPTY
    return _state_labels(model).get(state, state)


def state_moves(obj: models.Model) -> list[Entry]:
    """The workflow's moves of the object (StateLog): the move, from → to, and its actor.
    One query."""
    from django_fsm_log.models import StateLog

    model = type(obj)
    logs = (StateLog.objects.filter(content_type=ContentType.objects.get_for_model(model),
                                    object_id=obj.pk)
            .select_related("by").order_by("timestamp", "pk"))
    states, labels = _state_labels(model), _move_labels(model)
    return [Entry(
        at=log.timestamp, trail=MOVES, actor=actor_name(log.by),
        what=f"「{labels.get(log.transition, log.transition)}」",
        changes=(Change("状態", states.get(log.source_state or "", log.source_state or EMPTY),
                        states.get(log.state, log.state)),),
        detail=log.description or "", order=number) for number, log in enumerate(logs)]


# ------------------------------------------------------------------ the admin's own log

_ADMIN_ACTIONS = {ADDITION: "管理画面で追加", CHANGE: "管理画面で変更", DELETION: "管理画面で削除"}


def admin_log(obj: models.Model) -> list[Entry]:
    """What was done to the object through the admin (Django's LogEntry: which fields, never
    their values). One query."""
    logs = (LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)),
                                    object_id=str(obj.pk))
            .select_related("user").order_by("action_time", "pk"))
    return [Entry(at=log.action_time, trail=ADMIN_LOG, actor=actor_name(log.user),
                  what=_ADMIN_ACTIONS.get(log.action_flag, "管理画面の操作"),
                  detail=log.get_change_message(), order=number)
            for number, log in enumerate(logs)]


def targets(rows: Iterable, *, type_attr: str = "target_type_id",
            id_attr: str = "target_id") -> dict[tuple[int, int], Target]:
    """The Target of each generic reference (content type id, object id), with no query
    (content types are cached)."""
    found = {}
    for row in rows:
        type_id, pk = getattr(row, type_attr), getattr(row, id_attr)
        if type_id is None or pk is None:
            continue
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is not None:
            found[(type_id, pk)] = Target(model, pk, f"{model._meta.verbose_name} #{pk}")
    return found

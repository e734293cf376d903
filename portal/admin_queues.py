"""The officer's work queue (docs/decisions.md D1.8): what waits for this officer, on the
admin's index and as the lists open.

`QUEUES` names each kind of work: the list it is done from, the permission of the role that
does it, which rows wait (a Q) and since when (the field whose oldest value gives the age in
days). The index shows the queues the officer's roles can act on, each with its count and
its oldest age, linking to its list filtered on what waits (one query per queue).

Each of these lists has `WaitingFilter` first: opened without any condition it shows what
waits for this officer (「対応待ち」), and 「すべて」 shows every row; any other condition
(a search, a filter, a date) applies to every row, so a search never misses one."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib import admin
from django.db.models import Count, Min, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

WAITING_PARAMETER = "waiting"
WAITING, EVERYTHING = "yes", "all"
# Parameters that do not make a list's own condition (ordering, page, facet counts).
NEUTRAL_PARAMETERS = frozenset({"o", "p", "_facets"})


@dataclass(frozen=True)
class Queue:
    label: str  # what the officer does: 「利用申請を審査する」
    model: str  # "app_label.modelname"
    permission: str
    where: Callable[[], Q]  # the rows that wait
    since: str  # the field the age is counted from
    extra: dict = field(default_factory=dict)


def _states(*states: str) -> Callable[[], Q]:
    return lambda: Q(state__in=states)


def _letters_to_send() -> Q:
    """Letters of first-staff requests still open, to print or to post."""
    return Q(route="letter", state="pending", letter_sent_at__isnull=True,
             expires_at__gt=timezone.now())


QUEUES: tuple[Queue, ...] = (
    Queue("利用申請を審査する", "facilities.usageapplication",
          "facilities.review_usageapplication", _states("submitted", "second_check"),
          "submitted_at"),
    Queue("補助金の申請を審査する", "subsidies.claim", "subsidies.review_claim",
          _states("submitted", "resubmitted", "under_review"), "submitted_at"),
    Queue("補助金の交付を決定する", "subsidies.claim", "subsidies.decide_claim",
          _states("under_review"), "submitted_at"),
    Queue("調整を審査する", "eligibility.adjustment", "eligibility.review_adjustment",
          _states("proposed"), "proposed_at"),
    Queue("調整を決定する", "eligibility.adjustment", "eligibility.decide_adjustment",
          _states("reviewed"), "reviewed_at"),
    Queue("やむを得ない事由の申告を確認する", "obligation.exemptiondeclaration",
          "obligation.review_exemption", _states("declared"), "submitted_at"),
    Queue("施設紐付けの通知書を作成・発送する", "facilities.linkrequest",
          "facilities.handle_linkrequest", _letters_to_send, "created_at"),
    Queue("支払バッチを確認・承認する", "payouts.payoutrun", "payouts.release_payoutrun",
          _states("to_check", "created"), "created_at"),
)


def queues_of(user, model_label: str | None = None) -> list[Queue]:
    return [queue for queue in QUEUES
            if (model_label is None or queue.model == model_label)
            and user.has_perm(queue.permission)]


def waiting_rows(user, model_label: str) -> Q | None:
    """What waits for `user` in a list (None: nothing this user's roles act on there)."""
    found = queues_of(user, model_label)
    if not found:
        return None
    condition = Q()
    for queue in found:
        condition |= queue.where()
    return condition


def list_url(model_label: str) -> str:
    app_label, model_name = model_label.split(".")
    return (reverse(f"admin:{app_label}_{model_name}_changelist")
            + f"?{WAITING_PARAMETER}={WAITING}")


def work_queue(user) -> list[dict]:
    """The index's queues for `user`: label, count, oldest age in days (None if none waits)
    and the list's URL; one query each."""
    now = timezone.now()
    rows = []
    for queue in queues_of(user):
        model = apps.get_model(queue.model)
        try:
            url = list_url(queue.model)
        except NoReverseMatch:
            continue
        found = model._default_manager.filter(queue.where()).aggregate(
            count=Count("pk"), oldest=Min(queue.since))
        oldest = found["oldest"]
        rows.append({
            "label": queue.label, "count": found["count"], "url": url,
            "model": model._meta.verbose_name,
            "oldest_days": (now - oldest).days if oldest is not None else None,
        })
    return rows


class WaitingFilter(admin.SimpleListFilter):
    """「対応待ち」 (the default of a list opened without conditions) or 「すべて」; shown only
    to an officer whose roles act on some rows of the list."""

    title = "対応待ち"
    parameter_name = WAITING_PARAMETER

    def __init__(self, request, params, model, model_admin):
        self.waiting = waiting_rows(request.user, model._meta.label_lower)
        super().__init__(request, params, model, model_admin)
        asked = set(request.GET) - NEUTRAL_PARAMETERS
        # An action on rows named one by one acts on those rows, wherever they were chosen;
        # 「選択した…すべて」 (select_across) acts on the list as shown, 対応待ち by default.
        named_rows = (request.method == "POST" and "action" in request.POST
                      and request.POST.get("select_across", "0") in ("", "0"))
        self.default = WAITING if not asked and not named_rows else EVERYTHING

    def lookups(self, request, model_admin):
        if self.waiting is None:
            return []
        return [(WAITING, "対応待ち（あなたの役割で行えるもの）"), (EVERYTHING, "すべて")]

    def current(self) -> str:
        value = self.value()
        return value if value in (WAITING, EVERYTHING) else self.default

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {"selected": self.current() == value,
                   "query_string": changelist.get_query_string(
                       {self.parameter_name: value}),
                   "display": label}

    def queryset(self, request, queryset):
        if self.waiting is None or self.current() != WAITING:
            return queryset
        return queryset.filter(self.waiting)

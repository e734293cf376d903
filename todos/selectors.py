"""The to-do list: every open thing of a user's facilities, most urgent first, each with its
deadline and where to do it; and what changed since the user's last visit. Reads across
facilities, eligibility, incentives and subsidies, in a fixed number of queries however many
facilities and items there are."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntEnum

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from eligibility.engine import binding_for, rules_where, todo_models
from eligibility.models import Determination, Program
from facilities.models import (
    Activity,
    ApplicationKind,
    ApplicationState,
    Facility,
    UsageApplication,
)
from facilities.selectors import FacilityFacts, facilities_for, facility_facts, usage_summary
from payouts import selectors as payout_selectors
from payouts.models import BankAccount
from portal.wareki import to_wareki
from subsidies.models import Claim, ClaimState

# Something due within this many days is urgent, and is what the weekly reminder is about.
DUE_SOON_DAYS = 14


class Urgency(IntEnum):
    URGENT = 0  # returned to the facility, or due within DUE_SOON_DAYS
    DUE = 1  # has a deadline further away
    OPEN = 2  # no deadline

    @property
    def label(self) -> str:
        return {0: "至急", 1: "期限あり", 2: "期限なし"}[self.value]


# Kinds, in the order they are shown when equally urgent (and their order of need). A
# program's own item (its registry entry's `todo`) not named here comes just before
# bank_account_missing.
KINDS = ("application_returned", "claim_returned", "bank_account_refused", "report_due",
         "attestation_due", "bank_account_missing", "device_settings", "golive_missing")


def _kind_rank(kind: str) -> float:
    if kind in KINDS:
        return KINDS.index(kind)
    return KINDS.index("bank_account_missing") - 0.5


@dataclass(frozen=True)
class Todo:
    kind: str
    title: str
    detail: str
    deadline: date | None
    url: str
    link_text: str  # says where the link goes
    urgency: Urgency
    facility_id: int
    facility_name: str

    @property
    def deadline_label(self) -> str:
        return to_wareki(self.deadline) if self.deadline else "期限なし"

    def sort_key(self) -> tuple:
        return (self.urgency, self.deadline or date.max, _kind_rank(self.kind),
                self.facility_name, self.title)


@dataclass(frozen=True)
class Change:
    """Something that happened to a facility since the user's last visit: a result
    (判定結果) or a decision on an application or claim."""

    kind: str  # "result" | "decision"
    title: str
    detail: str
    at: datetime
    url: str
    link_text: str
    facility_id: int
    facility_name: str


def todos_for(*, user, today: date | None = None,
              facilities: list[Facility] | None = None,
              facts: FacilityFacts | None = None) -> list[Todo]:
    """The to-do list of every facility the user serves (another facility's never).
    `facilities`: the user's facilities (`facilities_for`), when the caller has read them;
    `facts`: their `facility_facts`, when the page has read them."""
    if facilities is None:
        facilities = list(facilities_for(user=user))
    return _todos(facilities, today or timezone.localdate(), facts)


def todos_for_facility(*, facility: Facility, today: date | None = None,
                       facts: FacilityFacts | None = None) -> list[Todo]:
    """One facility's to-do list; the caller has checked the user serves it
    (`facilities.selectors.facility_for`)."""
    return _todos([facility], today or timezone.localdate(), facts)


def changes_for(*, user, since: datetime | None,
                facilities: list[Facility] | None = None) -> list[Change]:
    if facilities is None:
        facilities = list(facilities_for(user=user))
    return _changes(facilities, since, user)


def changes_for_facility(*, facility: Facility, since: datetime | None, user=None) -> list[Change]:
    return _changes([facility], since, user)


def refused_bank_accounts(facility_ids: list[int]) -> dict[int, str]:
    """Facilities whose 振込先口座 was refused by the bank (振込不能), with the reason."""
    return payout_selectors.refused_accounts(facility_ids)


# ---------------------------------------------------------------- the list


def due_limit(today: date) -> date:
    """The last day that counts as due soon (date.max near the end of the calendar)."""
    try:
        return today + timedelta(days=DUE_SOON_DAYS)
    except OverflowError:
        return date.max


def _urgency(deadline: date | None, today: date, *, returned: bool = False) -> Urgency:
    if returned or (deadline is not None and deadline <= due_limit(today)):
        return Urgency.URGENT
    return Urgency.DUE if deadline is not None else Urgency.OPEN


def _open_incentive_programs(today: date) -> list[Program]:
    """The programs with a to-do in the registry (協力金, 一時金) still taking reports (their
    deadline not passed)."""
    return list(
        Program.objects.filter(is_open=True,
                               rule__in=list(rules_where(lambda b: b.todo is not None)))
        .filter(Q(report_deadline__isnull=True) | Q(report_deadline__gte=today))
        .order_by("code")
    )


def _programs_of(facility: Facility, programs: list[Program]) -> list[Program]:
    return [p for p in programs if facility.kind in binding_for(p).kinds]


def _earliest(deadlines) -> date | None:
    known = [d for d in deadlines if d is not None]
    return min(known) if known else None


def _todos(facilities: list[Facility], today: date,
           facts: FacilityFacts | None = None) -> list[Todo]:
    if not facilities:
        return []
    ids = [f.pk for f in facilities]
    if facts is None:
        facts = facility_facts(facilities=facilities)
    programs = _open_incentive_programs(today)
    # Latest application of each kind per facility (newest first, so the first seen wins).
    latest_application: dict[tuple[int, str], UsageApplication] = {}
    accepted_start: set[int] = set()
    pending_devices: dict[int, int] = {}
    for facility in facilities:
        applications = facts.applications[facility.pk]
        for application in applications:
            latest_application.setdefault((facility.pk, application.kind), application)
        if usage_summary(facility, today, facts=facts).start_accepted:
            accepted_start.add(facility.pk)
        pending_devices[facility.pk] = sum(
            1 for account in facts.accounts[facility.pk] if account.issue_count == 0)
    with_golive = set(facts.golives)
    with_bank = set(BankAccount.objects.filter(facility_id__in=ids).values_list("facility_id",
                                                                                flat=True))
    refused = refused_bank_accounts(ids)
    # What each facility gave for a program's to-do: one query per kind of row (report,
    # attestation) whatever the programs.
    given = {model: set(model.objects.filter(facility_id__in=ids).values_list(
        "facility_id", "program_id")) for model in todo_models()}
    live_claims = list(Claim.objects.filter(facility_id__in=ids)
                       .exclude(state__in=[ClaimState.DRAFT, ClaimState.REJECTED])
                       .select_related("program").order_by("pk"))

    todos: list[Todo] = []
    for facility in facilities:
        def add(kind, title, detail, deadline, url, link_text, *, returned=False,
                facility=facility):
            todos.append(Todo(kind, title, detail, deadline, url, link_text,
                              _urgency(deadline, today, returned=returned), facility.pk,
                              facility.name))

        for kind in (ApplicationKind.START, ApplicationKind.CHANGE):
            application = latest_application.get((facility.pk, kind))
            if application is not None and application.state == ApplicationState.RETURNED:
                url_name = ("facilities:application_start" if kind == ApplicationKind.START
                            else "facilities:application_change")
                add("application_returned", f"{application.get_kind_display()}が差し戻されました",
                    f"受付番号 {application.receipt_number}。理由: {application.return_reason}",
                    None, reverse(url_name, args=[facility.pk]),
                    f"{application.get_kind_display()}を直して再度申請する（申請の画面へ）",
                    returned=True)
        for claim in live_claims:
            if claim.facility_id == facility.pk and claim.state == ClaimState.RETURNED:
                add("claim_returned", f"{claim.program.name}の申請が差し戻されました",
                    f"受付番号 {claim.receipt_number}。理由: {claim.return_reason}", None,
                    reverse("subsidies:claim", args=[facility.pk, claim.pk]),
                    "申請を直して再提出する（補助金の申請の画面へ）", returned=True)
        if facility.pk in refused:
            add("bank_account_refused", "振込先口座に振り込めませんでした（振込不能）",
                f"理由: {refused[facility.pk]}。口座を確認して登録し直してください。", None,
                reverse("payouts:bank", args=[facility.pk]),
                "振込先口座を直す（振込先口座の画面へ）", returned=True)
        own_programs = _programs_of(facility, programs)
        for program in own_programs:
            todo = binding_for(program).todo
            if (facility.pk, program.pk) not in given[todo.model]:
                add(todo.kind, todo.title.format(program=program.name), todo.detail,
                    program.report_deadline,
                    reverse(todo.url_name, args=[facility.pk, program.code]), todo.link_text)
        claims_here = [c for c in live_claims if c.facility_id == facility.pk]
        if facility.pk not in with_bank and (own_programs or claims_here):
            add("bank_account_missing", "振込先口座が未登録です",
                "協力金・一時金・補助金の振込に必要です。", _earliest(
                    p.report_deadline for p in own_programs),
                reverse("payouts:bank", args=[facility.pk]),
                "振込先口座を登録する（振込先口座の画面へ）")
        if facility.pk in accepted_start and pending_devices.get(facility.pk):
            add("device_settings", "ユーザ設定情報が未ダウンロードです",
                f"{pending_devices[facility.pk]}台分の資格確認アカウントのユーザ設定情報（PDF）を"
                "ダウンロードして、マイナ資格確認アプリを設定してください。", None,
                reverse("facilities:accounts", args=[facility.pk]),
                "ユーザ設定情報をダウンロードする（資格確認アカウント管理へ）")
        if facility.pk in accepted_start and facility.pk not in with_golive:
            add("golive_missing", "運用開始日が未入力です",
                "アプリの設定が終わったら運用開始日（予定日）を入力してください。", None,
                reverse("facilities:golive", args=[facility.pk]),
                "運用開始日を入力する（運用開始日登録へ）")
    return sorted(todos, key=Todo.sort_key)


def due_soon(todos: list[Todo], today: date) -> list[Todo]:
    """The items with a deadline within DUE_SOON_DAYS (what the reminder e-mail is for)."""
    limit = due_limit(today)
    return [t for t in todos if t.deadline is not None and t.deadline <= limit]


# ---------------------------------------------------------------- what changed


def _activity_url(activity: Activity) -> tuple[str, str]:
    target = activity.target_type
    if target is not None and activity.target_id is not None:
        if (target.app_label, target.model) == ("facilities", "usageapplication"):
            return (reverse("facilities:application_detail",
                            args=[activity.facility_id, activity.target_id]), "申請の内容を見る")
        if (target.app_label, target.model) == ("subsidies", "claim"):
            return (reverse("subsidies:claim", args=[activity.facility_id, activity.target_id]),
                    "補助金の申請を見る")
    return reverse("facilities:history", args=[activity.facility_id]), "履歴を見る"


def _changes(facilities: list[Facility], since: datetime | None, user) -> list[Change]:
    """Results determined and decisions made since `since` (nothing on a first visit: the
    to-do list and the history show everything then). The user's own actions are left out."""
    if not facilities or since is None:
        return []
    names = {f.pk: f.name for f in facilities}
    changes = []
    for result in Determination.objects.filter(
            facility_id__in=names, determined_at__gt=since).select_related("program"):
        verdict = f"支給対象 {result.amount:,}円" if result.eligible else "現時点では支給対象外"
        changes.append(Change(
            "result", f"{result.program.name}の判定結果が更新されました", verdict,
            result.determined_at, reverse("incentives:overview", args=[result.facility_id]),
            "判定結果と理由を見る（協力金・一時金の画面へ）", result.facility_id,
            names[result.facility_id]))
    activities = Activity.objects.filter(
        facility_id__in=names, visible_to_facility=True, created_at__gt=since,
    ).exclude(to_state="").select_related("target_type")
    if user is not None:
        activities = activities.exclude(actor=user)
    for activity in activities:
        url, link_text = _activity_url(activity)
        changes.append(Change(
            "decision", activity.summary,
            f"受付番号 {activity.receipt_number}" if activity.receipt_number else "",
            activity.created_at, url, link_text, activity.facility_id,
            names[activity.facility_id]))
    return sorted(changes, key=lambda c: c.at, reverse=True)

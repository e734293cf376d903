"""The task list (GOV.UK Task list): every task of a user's facilities with its status
(未着手, 対応中, 完了, まだ始められません), the real next step first, each with its deadline
from the program's parameters and where to do it; and what changed since the user's last
visit. Reads across facilities, eligibility, obligation, payouts and subsidies, in a fixed
number of queries however many facilities and items there are (docs/decisions.md D8b.2)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum, IntEnum

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from eligibility.engine import APPLIED_STATUSES, binding_for, rules_where, todo_models
from eligibility.models import Determination, ParameterVersion, Program
from facilities.models import (
    OPEN_STATES,
    Activity,
    ApplicationKind,
    ApplicationState,
    Facility,
    UsageApplication,
)
from facilities.selectors import FacilityFacts, facilities_for, facility_facts, usage_summary
from obligation.models import (
    AnnexPairing,
    ComplianceState,
    ComplianceStatus,
    DeclarationState,
    ExemptionDeclaration,
    PairingState,
)
from payouts import selectors as payout_selectors
from payouts.models import BankAccount
from portal.wareki import to_wareki
from subsidies.models import Claim, ClaimState

# A deadline within this many days is near (「至急」), and is what the weekly reminder is about.
DUE_SOON_DAYS = 14


class TaskStatus(Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANNOT_START = "cannot_start"

    @property
    def label(self) -> str:
        return {"not_started": "未着手", "in_progress": "対応中", "done": "完了",
                "cannot_start": "まだ始められません"}[self.value]


class Urgency(IntEnum):
    OVERDUE = 0  # its deadline has passed (the obligation's date)
    URGENT = 1  # due within DUE_SOON_DAYS
    DUE = 2  # has a deadline further away
    OPEN = 3  # no deadline, or nothing left to do

    @property
    def label(self) -> str:
        return {0: "期限を過ぎています", 1: "至急", 2: "", 3: ""}[self.value]


# Kinds in their order of need (the order of a facility's list within a status group): what
# came back first, then the steps from the usage-start application to the go-live, then what
# the programs ask, then the bank account their money goes to. A program's own item (its
# registry entry's `todo`) not named here comes just before bank_account_missing.
KINDS = ("application_returned", "claim_returned", "bank_account_refused",
         "declaration_returned", "annex_confirm", "obligation", "usage_start",
         "device_settings", "golive_missing", "report_due", "attestation_due",
         "bank_account_missing", "annex_proposed")


def _kind_rank(kind: str) -> float:
    if kind in KINDS:
        return KINDS.index(kind)
    return KINDS.index("bank_account_missing") - 0.5


@dataclass(frozen=True)
class Todo:
    """One task of a facility's task list."""

    kind: str
    title: str
    detail: str
    deadline: date | None
    url: str | None  # None: nothing to do there now (まだ始められません)
    link_text: str  # says where the link goes
    urgency: Urgency
    facility_id: int
    facility_name: str
    status: TaskStatus = TaskStatus.NOT_STARTED
    returned: bool = False  # came back to the facility (差戻し, 振込不能): to act on first
    waiting: bool = False  # the facility has done its part; someone else acts (審査中)

    @property
    def deadline_label(self) -> str:
        return to_wareki(self.deadline) if self.deadline else "期限なし"

    @property
    def is_open(self) -> bool:
        """Still something for the facility to do (未着手 or 対応中, not waiting on others)."""
        return (self.status in (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS)
                and not self.waiting)

    def group(self) -> int:
        """Returned first, then what the facility can do now, then what waits on others,
        then what cannot start yet, then what is done: the first task is the next step."""
        if self.status == TaskStatus.DONE:
            return 4
        if self.status == TaskStatus.CANNOT_START:
            return 3
        if self.waiting:
            return 2
        return 0 if self.returned else 1

    def sort_key(self) -> tuple:
        return (self.group(), _kind_rank(self.kind), self.deadline or date.max, self.title)


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
    """The task lists of every facility the user serves (another facility's never), one
    facility after another in the order of `facilities`, each with its next step first.
    `facilities`: the user's facilities (`facilities_for`), when the caller has read them;
    `facts`: their `facility_facts`, when the page has read them."""
    if facilities is None:
        facilities = list(facilities_for(user=user))
    return _todos(facilities, today or timezone.localdate(), facts)


def todos_for_facility(*, facility: Facility, today: date | None = None,
                       facts: FacilityFacts | None = None) -> list[Todo]:
    """One facility's task list; the caller has checked the user serves it
    (`facilities.selectors.facility_for`)."""
    return _todos([facility], today or timezone.localdate(), facts)


def by_facility(facilities: list[Facility], todos: list[Todo]) -> list[tuple[Facility, list]]:
    """Each facility with its tasks (マイページ: one task list per facility)."""
    return [(facility, [t for t in todos if t.facility_id == facility.pk])
            for facility in facilities]


def open_count(todos: list[Todo]) -> int:
    return sum(1 for t in todos if t.is_open)


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


def _urgency(deadline: date | None, today: date, status: TaskStatus) -> Urgency:
    if deadline is None or status == TaskStatus.DONE:
        return Urgency.OPEN
    if deadline < today:
        return Urgency.OVERDUE
    return Urgency.URGENT if deadline <= due_limit(today) else Urgency.DUE


@dataclass(frozen=True)
class _Running:
    """A program whose task is on the list today, with its deadline."""

    program: Program
    deadline: date | None


def _in_force(programs: list[Program], today: date) -> dict[int, list[ParameterVersion]]:
    """The applied versions of these programs in force on or before today, the one in force
    today first (docs/domain.md §5.4 "Parameters at a date"), in one query."""
    versions: dict[int, list[ParameterVersion]] = {p.pk: [] for p in programs}
    for version in ParameterVersion.objects.filter(
            program__in=programs, status__in=APPLIED_STATUSES, applied_at__isnull=False,
            effective_from__lte=today).order_by("program_id", "-applied_at", "-version"):
        versions[version.program_id].append(version)
    return versions


def _running_programs(today: date) -> tuple[list[_Running], date | None]:
    """The programs with a to-do in the registry (協力金, 一時金) still running today, each
    with its deadline (docs/decisions.md D8b.2): its 報告期限 where one is set, else the last
    day of its period from the parameters in force; a program whose deadline has passed, or
    with no parameters in force, leaves the list. And the day the obligation of 施術所 began
    (the first applied version of the program "obligation"), None while it does not apply."""
    programs = list(
        Program.objects.filter(
            Q(is_open=True, rule__in=list(rules_where(lambda b: b.todo is not None)))
            | Q(rule=Program.Rule.OBLIGATION))
        .filter(Q(report_deadline__isnull=True) | Q(report_deadline__gte=today))
        .order_by("code"))
    versions = _in_force(programs, today)
    running, obligation_from = [], None
    for program in programs:
        applied = versions[program.pk]
        if not applied:
            continue
        binding = binding_for(program)
        if program.rule == Program.Rule.OBLIGATION:
            began = min(v.effective_from for v in applied)
            obligation_from = began if obligation_from is None else min(obligation_from, began)
            continue
        deadline = program.report_deadline
        if deadline is None and binding.todo.ends is not None:
            try:
                deadline = binding.todo.ends(binding.params_from_dict(applied[0].params))
            except (KeyError, TypeError, ValueError):
                deadline = None  # malformed parameters: no date rather than a wrong one
        if deadline is not None and deadline < today:
            continue
        running.append(_Running(program, deadline))
    return running, obligation_from


def _programs_of(facility: Facility, running: list[_Running]) -> list[_Running]:
    return [r for r in running if facility.kind in binding_for(r.program).kinds]


def _earliest(deadlines) -> date | None:
    known = [d for d in deadlines if d is not None]
    return min(known) if known else None


@dataclass(frozen=True)
class _Obligation:
    """What the obligation's task reads of the user's 施術所, in three queries."""

    compliance: dict[int, dict]
    declarations: dict[int, ExemptionDeclaration]  # the latest per facility
    pairings: list[AnnexPairing]  # proposed, with one of the facilities on a side


def _obligation_facts(ids: list[int]) -> _Obligation:
    compliance = {row["facility_id"]: row for row in ComplianceStatus.objects.filter(
        facility_id__in=ids).values("facility_id", "state", "exemption_reason", "valid_until",
                                    "facility__main_facility__name")}
    declarations: dict[int, ExemptionDeclaration] = {}
    for declaration in ExemptionDeclaration.objects.filter(facility_id__in=ids).exclude(
            state=DeclarationState.WITHDRAWN).order_by("facility_id", "-submitted_at", "-pk"):
        declarations.setdefault(declaration.facility_id, declaration)
    pairings = list(AnnexPairing.objects.filter(state=PairingState.PROPOSED).filter(
        Q(main_id__in=ids) | Q(subordinate_id__in=ids)).select_related(
        "main", "subordinate").order_by("pk"))
    return _Obligation(compliance, declarations, pairings)


def _todos(facilities: list[Facility], today: date,
           facts: FacilityFacts | None = None) -> list[Todo]:
    if not facilities:
        return []
    ids = [f.pk for f in facilities]
    if facts is None:
        facts = facility_facts(facilities=facilities)
    running, obligation_from = _running_programs(today)
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
    obligation = _obligation_facts(ids)

    todos: list[Todo] = []
    for facility in facilities:
        todos.extend(sorted(_facility_tasks(
            facility, today=today, facts=facts, running=running,
            obligation_from=obligation_from, obligation=obligation,
            has_bank=facility.pk in with_bank, refused=refused.get(facility.pk),
            given=given, claims=[c for c in live_claims if c.facility_id == facility.pk],
        ), key=Todo.sort_key))
    return todos


def _facility_tasks(facility: Facility, *, today: date, facts: FacilityFacts,
                    running: list[_Running], obligation_from: date | None,
                    obligation: _Obligation, has_bank: bool, refused: str | None,
                    given: dict, claims: list[Claim]) -> list[Todo]:
    tasks: list[Todo] = []

    def add(kind, title, detail, status, *, deadline=None, url=None, link_text="",
            returned=False, waiting=False):
        tasks.append(Todo(kind, title, detail, deadline, url, link_text,
                          _urgency(deadline, today, status), facility.pk, facility.name,
                          status, returned, waiting))

    pk = facility.pk
    applications = facts.applications[pk]
    start = next((a for a in applications if a.kind == ApplicationKind.START), None)
    change = next((a for a in applications if a.kind == ApplicationKind.CHANGE), None)
    accepted = usage_summary(facility, today, facts=facts).start_accepted
    golive = facts.golive(facility)

    # ---- things that came back
    if change is not None and change.state == ApplicationState.RETURNED:
        add("application_returned", f"{change.get_kind_display()}が差し戻されました",
            f"受付番号 {change.receipt_number}。理由: {change.return_reason}",
            TaskStatus.IN_PROGRESS, returned=True,
            url=reverse("facilities:application_change", args=[pk]),
            link_text=f"{change.get_kind_display()}を直して再度申請する（申請の画面へ）")
    for claim in claims:
        if claim.state == ClaimState.RETURNED:
            add("claim_returned", f"{claim.program.name}の申請が差し戻されました",
                f"受付番号 {claim.receipt_number}。理由: {claim.return_reason}",
                TaskStatus.IN_PROGRESS, returned=True,
                url=reverse("subsidies:claim", args=[pk, claim.pk]),
                link_text="申請を直して再提出する（補助金の申請の画面へ）")
    if refused is not None:
        add("bank_account_refused", "振込先口座に振り込めませんでした（振込不能）",
            f"理由: {refused}。口座を確認して登録し直してください。", TaskStatus.IN_PROGRESS,
            returned=True, url=reverse("payouts:bank", args=[pk]),
            link_text="振込先口座を直す（振込先口座の画面へ）")

    # ---- the obligation of 施術所 (docs/domain.md §7), while it applies
    start_needed = True
    if facility.is_sejutsu:
        start_needed = _obligation_task(add, facility, today=today, golive=golive,
                                        start=start, accepted=accepted,
                                        obligation_from=obligation_from,
                                        obligation=obligation)
        _pairing_tasks(add, facility, obligation.pairings)

    # ---- from the usage-start application to the go-live
    if start is not None or start_needed:
        _start_tasks(add, facility, start=start, accepted=accepted, golive=golive,
                     accounts=facts.accounts[pk])

    # ---- what the running programs ask, and the bank account their money goes to
    own = _programs_of(facility, running)
    for item in own:
        program = item.program
        todo = binding_for(program).todo
        name = (todo.name or todo.title).format(program=program.name)
        url = reverse(todo.url_name, args=[pk, program.code])
        if (pk, program.pk) in given[todo.model]:
            where = todo.link_text[todo.link_text.find("（"):]  # （報告の画面へ）
            add(todo.kind, name, "登録済みです。", TaskStatus.DONE, url=url,
                link_text=todo.button_again + where, deadline=item.deadline)
        else:
            add(todo.kind, name, todo.detail, TaskStatus.NOT_STARTED, deadline=item.deadline,
                url=url, link_text=todo.link_text)
    if refused is None and (own or claims):
        if has_bank:
            add("bank_account_missing", "振込先口座の登録", "登録済みです。", TaskStatus.DONE,
                url=reverse("payouts:bank", args=[pk]),
                link_text="振込先口座を確認する（振込先口座の画面へ）")
        else:
            add("bank_account_missing", "振込先口座の登録",
                "協力金・一時金・補助金の振込に必要です。", TaskStatus.NOT_STARTED,
                deadline=_earliest(r.deadline for r in own),
                url=reverse("payouts:bank", args=[pk]),
                link_text="振込先口座を登録する（振込先口座の画面へ）")
    return tasks


def _start_tasks(add, facility: Facility, *, start: UsageApplication | None, accepted: bool,
                 golive, accounts) -> None:
    pk = facility.pk
    if accepted:
        add("usage_start", "マイナ資格確認アプリの利用開始申請", "承認されました。",
            TaskStatus.DONE, url=reverse("facilities:applications", args=[pk]),
            link_text="申請の一覧を見る（各種申請の画面へ）")
    elif start is not None and start.state in OPEN_STATES:
        add("usage_start", "マイナ資格確認アプリの利用開始申請",
            f"受付番号 {start.receipt_number} を審査しています（最長1週間程度）。承認されると"
            "メールでお知らせします。", TaskStatus.IN_PROGRESS, waiting=True,
            url=reverse("facilities:applications", args=[pk]),
            link_text="申請の内容を見る（各種申請の画面へ）")
    elif start is not None and start.state == ApplicationState.RETURNED:
        add("application_returned", f"{start.get_kind_display()}が差し戻されました",
            f"受付番号 {start.receipt_number}。理由: {start.return_reason}",
            TaskStatus.IN_PROGRESS, returned=True,
            url=reverse("facilities:application_start", args=[pk]),
            link_text=f"{start.get_kind_display()}を直して再度申請する（申請の画面へ）")
    else:
        add("usage_start", "マイナ資格確認アプリの利用開始申請",
            "資格確認に使う端末の台数などを申請します。承認されると資格確認アカウントが"
            "発行されます。", TaskStatus.NOT_STARTED,
            url=reverse("facilities:application_start", args=[pk]),
            link_text="利用開始申請をする（申請の画面へ）")
    pending = [a for a in accounts if a.issue_count == 0]
    if not accepted:
        add("device_settings", "ユーザ設定情報のダウンロード",
            "利用開始申請が承認されると行えます。", TaskStatus.CANNOT_START)
    elif accounts and not pending:
        add("device_settings", "ユーザ設定情報のダウンロード",
            f"{len(accounts)}台分をダウンロード済みです。", TaskStatus.DONE,
            url=reverse("facilities:accounts", args=[pk]),
            link_text="資格確認アカウントを見る（資格確認アカウント管理へ）")
    elif pending:
        add("device_settings", "ユーザ設定情報のダウンロード",
            f"{len(pending)}台分の資格確認アカウントのユーザ設定情報（PDF）をダウンロードして、"
            "マイナ資格確認アプリを設定してください。",
            TaskStatus.IN_PROGRESS if len(pending) < len(accounts) else TaskStatus.NOT_STARTED,
            url=reverse("facilities:accounts", args=[pk]),
            link_text="ユーザ設定情報をダウンロードする（資格確認アカウント管理へ）")
    if golive is not None:
        add("golive_missing", "運用開始日の入力", f"運用開始日: {to_wareki(golive.date)}",
            TaskStatus.DONE, url=reverse("facilities:golive", args=[pk]),
            link_text="運用開始日を確認・修正する（運用開始日登録へ）")
    elif accepted:
        add("golive_missing", "運用開始日の入力",
            "アプリの設定が終わったら運用開始日（予定日）を入力してください。",
            TaskStatus.NOT_STARTED, url=reverse("facilities:golive", args=[pk]),
            link_text="運用開始日を入力する（運用開始日登録へ）")
    else:
        add("golive_missing", "運用開始日の入力", "利用開始申請が承認されると入力できます。",
            TaskStatus.CANNOT_START)


OBLIGATION_TITLE = "オンライン資格確認の導入（またはやむを得ない事由の申告）"


def _obligation_task(add, facility: Facility, *, today: date, golive, start, accepted: bool,
                     obligation_from: date | None, obligation: _Obligation) -> bool:
    """The 施術所's obligation task while the obligation applies; returns whether its
    usage-start application is still a step to take (not when the 施術所 is covered by its
    main one's introduction or exempt: docs/domain.md §7)."""
    pk = facility.pk
    row = obligation.compliance.get(pk) or {}
    state = row.get("state")
    declaration = obligation.declarations.get(pk)
    overview = reverse("obligation:overview", args=[pk])
    exemption = reverse("obligation:exemption", args=[pk])
    if golive is not None:
        if obligation_from is not None:
            add("obligation", OBLIGATION_TITLE,
                f"導入済みです（運用開始日 {to_wareki(golive.date)}）。", TaskStatus.DONE,
                url=overview, link_text="導入状況を見る（導入状況の画面へ）")
        return True
    if state == ComplianceState.COVERED:
        if obligation_from is not None:
            main = row.get("facility__main_facility__name") or "主たる施術所"
            add("obligation", OBLIGATION_TITLE,
                f"併設の主たる施術所（{main}）が導入しているため、この施術所の手続きは"
                "必要ありません。", TaskStatus.DONE, url=overview,
                link_text="導入状況を見る（導入状況の画面へ）")
        return start is not None
    if state == ComplianceState.EXEMPT:
        if obligation_from is not None:
            until = row.get("valid_until")
            limit = f"{to_wareki(until)}まで" if until else "期限なし"
            add("obligation", OBLIGATION_TITLE,
                f"やむを得ない事由（事由{row.get('exemption_reason')}、{limit}）があるため、"
                "導入の義務が猶予されています。", TaskStatus.DONE, url=overview,
                link_text="導入状況を見る（導入状況の画面へ）")
        return start is not None
    if obligation_from is None:
        return True
    if declaration is not None and declaration.state == DeclarationState.DECLARED:
        add("obligation", OBLIGATION_TITLE,
            f"やむを得ない事由の申告（受付番号 {declaration.receipt_number}）を確認しています。"
            "結果はメールでお知らせします。", TaskStatus.IN_PROGRESS, waiting=True,
            url=exemption, link_text="申告の内容を見る（やむを得ない事由の申告の画面へ）")
        return start is not None
    if declaration is not None and declaration.state == DeclarationState.RETURNED:
        add("declaration_returned", "やむを得ない事由の申告が差し戻されました",
            f"受付番号 {declaration.receipt_number}。理由: {declaration.return_reason}",
            TaskStatus.IN_PROGRESS, returned=True, url=exemption,
            link_text="申告を直して再度申告する（やむを得ない事由の申告の画面へ）")
    if accepted or (start is not None and start.state in OPEN_STATES):
        add("obligation", OBLIGATION_TITLE,
            ("利用開始申請は承認されています。" if accepted else "利用開始申請を審査しています。")
            + "運用開始日を入力すると導入済みになります。",
            TaskStatus.IN_PROGRESS, waiting=True, url=overview,
            link_text="導入状況を見る（導入状況の画面へ）")
        return True
    add("obligation", OBLIGATION_TITLE,
        f"{to_wareki(obligation_from)}から、受領委任の取扱いを行う施術所はオンライン資格確認の"
        "導入が必要です。導入するには、次の「マイナ資格確認アプリの利用開始申請」へ進んで"
        "ください。やむを得ない事由がある場合は、申告してください。", TaskStatus.NOT_STARTED,
        deadline=obligation_from, url=exemption,
        link_text="やむを得ない事由を申告する（やむを得ない事由の申告の画面へ）")
    return True


def _pairing_tasks(add, facility: Facility, pairings: list[AnnexPairing]) -> None:
    """A 併設申告 waiting for this 施術所's confirmation, or for its partner's."""
    pk = facility.pk
    for pairing in pairings:
        if pk not in (pairing.main_id, pairing.subordinate_id):
            continue
        proposer = (pairing.main if pairing.proposed_by_facility_id == pairing.main_id
                    else pairing.subordinate)
        pair = (f"{pairing.main.name}を主たる施術所、{pairing.subordinate.name}を従たる施術所"
                "（併設）とする申告")
        url = reverse("obligation:annex", args=[pk])
        if pairing.responding_facility_id == pk:
            add("annex_confirm", "併設申告の確認",
                f"{proposer.name}から、{pair}がありました。内容を確かめて、確認するか辞退して"
                "ください。", TaskStatus.NOT_STARTED, url=url,
                link_text="併設申告を確認する（併設申告の画面へ）")
        else:
            add("annex_proposed", "併設申告の確認",
                f"{pair}をしました。相手の施術所の確認をお待ちください。",
                TaskStatus.IN_PROGRESS, waiting=True, url=url,
                link_text="併設申告を見る（併設申告の画面へ）")


def due_soon(todos: list[Todo], today: date) -> list[Todo]:
    """The tasks still to do whose deadline is from today to DUE_SOON_DAYS days ahead (what
    the reminder e-mail is for; a deadline already passed is not reminded of)."""
    limit = due_limit(today)
    return [t for t in todos if t.status not in (TaskStatus.DONE, TaskStatus.CANNOT_START)
            and t.deadline is not None and today <= t.deadline <= limit]


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

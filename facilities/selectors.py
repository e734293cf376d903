"""Everything that reads. Facility-scoped reads take the user and return only what that
user's facilities may see; another facility's object is a 404, never its data."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import CharField, F, Func, QuerySet, Value
from django.db.models.lookups import GreaterThan, LessThan
from django.http import Http404
from django.utils import timezone

from portal.normalize import nfkc

from .models import (
    Activity,
    ApplicationKind,
    ApplicationState,
    DeviceAccount,
    EndAction,
    Facility,
    GoLive,
    LinkRequest,
    LinkRequestState,
    Membership,
    PublicListBuild,
    PublicListEntry,
    UsageApplication,
    UsageStatus,
    public_search_key,
)
from .prefectures import PREFECTURE_NAMES

# Online qualification began in 2021; a planned go-live may be up to a year ahead.
EARLIEST_GOLIVE = date(2021, 1, 1)


def usage_window(today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    return EARLIEST_GOLIVE, today + timedelta(days=366)


def facilities_for(*, user) -> QuerySet[Facility]:
    if not user.is_authenticated:
        return Facility.objects.none()
    return Facility.objects.filter(memberships__user=user).order_by("code")


def facility_for(*, user, pk: int) -> Facility:
    facility = facilities_for(user=user).filter(pk=pk).first()
    if facility is None:
        raise Http404("施設が見つかりません")
    return facility


def facility_emails(facility: Facility) -> list[str]:
    return list(
        Membership.objects.filter(facility=facility, user__is_active=True).values_list(
            "user__email", flat=True
        )
    )


def applications_for(*, facility: Facility) -> QuerySet[UsageApplication]:
    return UsageApplication.objects.filter(facility=facility).order_by("-submitted_at", "-pk")


def application_for(*, facility: Facility, pk: int) -> UsageApplication:
    application = applications_for(facility=facility).filter(pk=pk).first()
    if application is None:
        raise Http404("申請が見つかりません")
    return application


def device_accounts_for(*, facility: Facility) -> QuerySet[DeviceAccount]:
    return DeviceAccount.objects.filter(facility=facility).order_by("number")


def device_account_for(*, facility: Facility, pk: int) -> DeviceAccount:
    account = device_accounts_for(facility=facility).filter(pk=pk).first()
    if account is None:
        raise Http404("アカウントが見つかりません")
    return account


def history_for(*, facility: Facility, target=None) -> QuerySet[Activity]:
    """The facility's own history: administrator-only entries are never included."""
    activities = Activity.objects.filter(facility=facility, visible_to_facility=True)
    if target is not None:
        activities = activities.filter(
            target_type__app_label=target._meta.app_label,
            target_type__model=target._meta.model_name,
            target_id=target.pk,
        )
    return activities.select_related("actor")


def activity_entries(obj, *, user=None) -> list:
    """The administrators' reading of the facility's history for the page of one object's
    whole history (portal/history.py, registered in FacilitiesConfig.ready): the Activity
    rows about the object, and for a facility every row of its history (those about its
    applications, claims, … name what they are about). One query."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Q

    from portal import history

    model = type(obj)
    about = Q(target_type=ContentType.objects.get_for_model(model), target_id=obj.pk)
    if isinstance(obj, Facility):
        about |= Q(facility_id=obj.pk)
    rows = list(Activity.objects.filter(about).select_related("actor")
                .order_by("created_at", "pk"))
    targets = history.targets(rows)
    entries = []
    for number, row in enumerate(rows):
        target = targets.get((row.target_type_id, row.target_id))
        if target is not None and target.model is model and target.pk == obj.pk:
            target = None  # about the object itself
        changes = ()
        if row.from_state or row.to_state:
            states_of = target.model if target is not None else model
            changes = (history.Change("状態", history.state_label_of(states_of, row.from_state),
                                      history.state_label_of(states_of, row.to_state)),)
        entries.append(history.Entry(
            at=row.created_at, trail=history.ACTIVITY, actor=history.actor_name(row.actor),
            what=row.summary, changes=changes,
            detail=f"受付番号 {row.receipt_number}" if row.receipt_number else "",
            target=target, for_administrators_only=not row.visible_to_facility, order=number))
    return entries


def has_accepted_start(facility: Facility) -> bool:
    return UsageApplication.objects.filter(
        facility=facility, kind=ApplicationKind.START, state=ApplicationState.ACCEPTED
    ).exists()


def _start_accepted(applications: list[UsageApplication]) -> bool:
    """Whether one of the facility's start applications (any, not only the latest) is accepted."""
    return any(a.kind == ApplicationKind.START and a.state == ApplicationState.ACCEPTED
               for a in applications)


def _end_date_in_force(applications: list[UsageApplication]) -> date | None:
    """The end date in force: from the latest accepted change (by decision, then id) that set
    or cancelled one; None when none did or the latest cancelled it."""
    changes = [a for a in applications
               if a.kind == ApplicationKind.CHANGE and a.state == ApplicationState.ACCEPTED
               and a.end_action != EndAction.NONE]
    if not changes:
        return None
    latest = max(changes, key=lambda a: (a.decided_at is not None, a.decided_at, a.pk))
    return None if latest.end_action == EndAction.CANCEL else latest.planned_end_date


def planned_end_date(facility: Facility) -> date | None:
    """The end date in force: from the latest accepted change that set or cancelled one."""
    return _end_date_in_force(list(UsageApplication.objects.filter(
        facility=facility, kind=ApplicationKind.CHANGE, state=ApplicationState.ACCEPTED,
    ).exclude(end_action=EndAction.NONE)))


@dataclass(frozen=True)
class FacilityFacts:
    """What several parts of one page read about the same facilities, read once per request
    (`facility_facts`) and passed along; never kept beyond the request. By facility id: the
    usage applications (newest first), the active device accounts (by number), the go-live."""

    applications: dict[int, list[UsageApplication]]
    accounts: dict[int, list[DeviceAccount]]
    golives: dict[int, GoLive]

    def golive(self, facility: Facility) -> GoLive | None:
        return self.golives.get(facility.pk)


def facility_facts(*, facilities: list[Facility]) -> FacilityFacts:
    """The facts of `facilities`, in three queries however many facilities and rows."""
    ids = [facility.pk for facility in facilities]
    applications: dict[int, list[UsageApplication]] = {pk: [] for pk in ids}
    for application in UsageApplication.objects.filter(facility_id__in=ids).order_by(
            "facility_id", "-submitted_at", "-pk"):
        applications[application.facility_id].append(application)
    accounts: dict[int, list[DeviceAccount]] = {pk: [] for pk in ids}
    for account in DeviceAccount.objects.filter(facility_id__in=ids, is_active=True).order_by(
            "facility_id", "number"):
        accounts[account.facility_id].append(account)
    golives = {golive.facility_id: golive for golive in GoLive.objects.filter(facility_id__in=ids)}
    return FacilityFacts(applications=applications, accounts=accounts, golives=golives)


@dataclass(frozen=True)
class UsageSummary:
    """Where a facility's use of the service stands: the status, the end date in force
    (None when none is), and whether its start application is accepted."""

    status: UsageStatus
    planned_end_date: date | None
    start_accepted: bool


def usage_summary(facility: Facility, today: date | None = None, *,
                  facts: FacilityFacts | None = None) -> UsageSummary:
    """The one place that derives the usage status, from the facility's applications (read
    here in one query, or taken from `facts` when the page has read them)."""
    today = today or timezone.localdate()
    if facts is not None:
        applications = facts.applications[facility.pk]
    else:
        applications = list(UsageApplication.objects.filter(facility=facility).order_by())
    if _start_accepted(applications):
        end = _end_date_in_force(applications)
        if end is None:
            status = UsageStatus.AVAILABLE
        else:
            status = UsageStatus.ENDED if end < today else UsageStatus.ENDING
        return UsageSummary(status=status, planned_end_date=end, start_accepted=True)
    applied = any(a.kind == ApplicationKind.START and a.state in (
        ApplicationState.SUBMITTED, ApplicationState.SECOND_CHECK) for a in applications)
    return UsageSummary(status=UsageStatus.APPLIED if applied else UsageStatus.NOT_APPLIED,
                        planned_end_date=None, start_accepted=False)


def usage_status(facility: Facility, today: date | None = None) -> UsageStatus:
    return usage_summary(facility, today).status


def golive_for(facility: Facility) -> GoLive | None:
    return GoLive.objects.filter(facility=facility).first()


# ---------------------------------------------------------------- public list


PUBLIC_PAGE_SIZE = 50
# A search counts its matches up to this many and says 「1000件以上」 beyond: an exact count of
# a broad search over the whole list (400k rows) reads every match, on every page.
PUBLIC_COUNT_CAP = 1000


def public_search_words(text: str) -> list[str]:
    """The typed words (split at spaces of any width), each as the search column holds text."""
    return [word for word in (public_search_key(part) for part in nfkc(text).split()) if word]


def facilities_listed_publicly(
    *, prefecture: str = "", kind: str = "", name: str = "", code: str = ""
) -> QuerySet[PublicListEntry]:
    """Every word of `name` in the name or the address (kana and width ignored, `%` and `_`
    are plain characters), `code` as the start of the code; in list order."""
    entries = PublicListEntry.objects.all()
    if prefecture:
        entries = entries.filter(prefecture=prefecture)
    if kind:
        entries = entries.filter(kind=kind)
    for word in public_search_words(name):
        entries = entries.filter(search_text__contains=word)
    if code:
        entries = entries.filter(code__startswith=code)
    return entries.order_by("prefecture", "code")


class _Row(Func):
    """A row value `(a, b)`, compared as a whole, so that a page key is an index bound."""

    template = "(%(expressions)s)"
    output_field = CharField()


@dataclass(frozen=True)
class PublicListPage:
    entries: list[PublicListEntry]
    count: int
    count_is_floor: bool  # more matches than `count`: shown as 「N件以上」
    next_key: str = ""
    previous_key: str = ""
    is_first: bool = True


def public_page_key(entry: PublicListEntry) -> str:
    return f"{entry.prefecture}:{entry.code}"


def _parse_page_key(key: str) -> tuple[str, str] | None:
    prefecture, separator, code = (key or "").partition(":")
    if separator and prefecture in PREFECTURE_NAMES and 0 < len(code) <= 24:
        return prefecture, code
    return None


def public_list_page(
    *, prefecture: str = "", kind: str = "", name: str = "", code: str = "",
    after: str = "", before: str = "",
) -> PublicListPage:
    """One page of the public list, paged by key (the entries after or before a
    (prefecture, code)), so that every page costs the same, however far on. The count is
    the snapshot's for the whole list, exact when the matches fit on one page, and else
    counted up to PUBLIC_COUNT_CAP."""
    entries = facilities_listed_publicly(prefecture=prefecture, kind=kind, name=name, code=code)
    size = PUBLIC_PAGE_SIZE
    row = _Row(F("prefecture"), F("code"))
    if key := _parse_page_key(before):
        rows = list(entries.filter(LessThan(row, _Row(Value(key[0]), Value(key[1]))))
                    .order_by("-prefecture", "-code")[:size + 1])
        has_previous, has_next = len(rows) > size, True
        rows = rows[:size][::-1]
    else:
        key = _parse_page_key(after)
        if key:
            entries_after = entries.filter(GreaterThan(row, _Row(Value(key[0]), Value(key[1]))))
        else:
            entries_after = entries
        rows = list(entries_after[:size + 1])
        has_previous, has_next = key is not None, len(rows) > size
        rows = rows[:size]
    searched = bool(prefecture or kind or public_search_words(name) or code)
    build = None if searched else latest_public_list_build()
    if build is not None:
        count, floor = build.entry_count, False
    elif not has_previous and not has_next:
        count, floor = len(rows), False
    else:
        count = entries.order_by()[:PUBLIC_COUNT_CAP + 1].count()
        count, floor = min(count, PUBLIC_COUNT_CAP), count > PUBLIC_COUNT_CAP
    return PublicListPage(
        entries=rows, count=count, count_is_floor=floor,
        next_key=public_page_key(rows[-1]) if has_next and rows else "",
        previous_key=public_page_key(rows[0]) if has_previous and rows else "",
        is_first=key is None,
    )


def latest_public_list_build() -> PublicListBuild | None:
    return PublicListBuild.objects.first()


# ---------------------------------------------------------------- link requests (なりすまし防止)


def link_requests_of(*, user) -> QuerySet[LinkRequest]:
    """The user's own requests to become a facility's staff, newest first."""
    return LinkRequest.objects.filter(user=user).select_related("facility")


def link_request_of(*, user, pk: int) -> LinkRequest:
    """One of the user's own requests (404 for anyone else's)."""
    link_request = link_requests_of(user=user).filter(pk=pk).first()
    if link_request is None:
        raise Http404("申請が見つかりません")
    return link_request


def link_requests_for(*, facility: Facility) -> QuerySet[LinkRequest]:
    """The requests to become this facility's staff, newest first (for its staff)."""
    return LinkRequest.objects.filter(facility=facility).select_related("user", "decided_by")


def link_request_for(*, facility: Facility, pk: int) -> LinkRequest:
    link_request = link_requests_for(facility=facility).filter(pk=pk).first()
    if link_request is None:
        raise Http404("申請が見つかりません")
    return link_request


def open_link_requests_for(*, facility: Facility) -> QuerySet[LinkRequest]:
    return link_requests_for(facility=facility).filter(state=LinkRequestState.PENDING,
                                                       expires_at__gt=timezone.now())


def staff_of(*, facility: Facility) -> QuerySet[Membership]:
    return (Membership.objects.filter(facility=facility).select_related("user")
            .order_by("created_at", "pk"))

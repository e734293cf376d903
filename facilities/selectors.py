"""Everything that reads. Facility-scoped reads take the user and return only what that
user's facilities may see; another facility's object is a 404, never its data."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from .models import (
    Activity,
    ApplicationKind,
    ApplicationState,
    DeviceAccount,
    EndAction,
    Facility,
    GoLive,
    Membership,
    PublicListBuild,
    PublicListEntry,
    UsageApplication,
    UsageStatus,
)

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


def has_accepted_start(facility: Facility) -> bool:
    return UsageApplication.objects.filter(
        facility=facility, kind=ApplicationKind.START, state=ApplicationState.ACCEPTED
    ).exists()


def planned_end_date(facility: Facility) -> date | None:
    """The end date in force: from the latest accepted change that set or cancelled one."""
    latest = (
        UsageApplication.objects.filter(
            facility=facility,
            kind=ApplicationKind.CHANGE,
            state=ApplicationState.ACCEPTED,
        )
        .exclude(end_action=EndAction.NONE)
        .order_by("-decided_at", "-pk")
        .first()
    )
    if latest is None or latest.end_action == EndAction.CANCEL:
        return None
    return latest.planned_end_date


def usage_status(facility: Facility, today: date | None = None) -> UsageStatus:
    today = today or timezone.localdate()
    if has_accepted_start(facility):
        end = planned_end_date(facility)
        if end is None:
            return UsageStatus.AVAILABLE
        return UsageStatus.ENDED if end < today else UsageStatus.ENDING
    if UsageApplication.objects.filter(facility=facility, kind=ApplicationKind.START).filter(
        state__in=[ApplicationState.SUBMITTED, ApplicationState.SECOND_CHECK]
    ).exists():
        return UsageStatus.APPLIED
    return UsageStatus.NOT_APPLIED


def golive_for(facility: Facility) -> GoLive | None:
    return GoLive.objects.filter(facility=facility).first()


# ---------------------------------------------------------------- the journey (dashboard)


@dataclass(frozen=True)
class JourneyStep:
    title: str
    state: str  # "done" | "next" | "waiting" | "later"
    detail: str
    url_name: str | None = None

    @property
    def state_label(self) -> str:
        return {"done": "完了", "next": "次の手続き", "waiting": "審査・処理待ち",
                "later": "未着手"}[self.state]


def journey_for(*, facility: Facility) -> list[JourneyStep]:
    """Registration to go-live, as the facility's checklist."""
    return journeys_for(facilities=[facility])[facility.pk]


def journeys_for(*, facilities: list[Facility]) -> dict[int, list[JourneyStep]]:
    """Each facility's checklist (by its id), in five queries however many facilities."""
    ids = [facility.pk for facility in facilities]
    starts: dict[int, UsageApplication] = {}
    for application in UsageApplication.objects.filter(
        facility_id__in=ids, kind=ApplicationKind.START
    ).order_by("facility_id", "-submitted_at", "-pk"):
        starts.setdefault(application.facility_id, application)
    accepted = set(UsageApplication.objects.filter(
        facility_id__in=ids, kind=ApplicationKind.START, state=ApplicationState.ACCEPTED
    ).values_list("facility_id", flat=True))
    accounts: dict[int, list[DeviceAccount]] = {pk: [] for pk in ids}
    for account in DeviceAccount.objects.filter(facility_id__in=ids, is_active=True):
        accounts[account.facility_id].append(account)
    golives = {golive.facility_id: golive for golive in GoLive.objects.filter(facility_id__in=ids)}
    listed = set(PublicListEntry.objects.filter(facility_id__in=ids)
                 .values_list("facility_id", flat=True))
    return {
        facility.pk: _journey(
            facility, start=starts.get(facility.pk), accepted=facility.pk in accepted,
            accounts=accounts[facility.pk], golive=golives.get(facility.pk),
            listed=facility.pk in listed,
        )
        for facility in facilities
    }


def _journey(facility: Facility, *, start: UsageApplication | None, accepted: bool,
             accounts: list[DeviceAccount], golive: GoLive | None,
             listed: bool) -> list[JourneyStep]:
    from portal.wareki import to_wareki

    steps = [
        JourneyStep("ユーザー登録", "done", "ポータルサイトのユーザー登録は完了しています。"),
        JourneyStep("施設の確認", "done", f"{facility.name} の担当者として登録されています。"),
    ]
    if accepted:
        steps.append(JourneyStep("利用開始申請", "done", "承認されました。", "facilities:applications"))
    elif start is not None and start.is_open:
        steps.append(JourneyStep(
            "利用開始申請", "waiting",
            f"受付番号 {start.receipt_number} を審査しています（最長1週間程度）。",
            "facilities:applications",
        ))
    elif start is not None and start.state == ApplicationState.RETURNED:
        steps.append(JourneyStep(
            "利用開始申請", "next", f"差し戻されました。理由: {start.return_reason} — 内容を直して再度申請してください。",
            "facilities:application_start",
        ))
    else:
        steps.append(JourneyStep(
            "利用開始申請", "next", "各種申請から利用開始申請を行ってください。",
            "facilities:application_start",
        ))

    if not accepted:
        steps.append(JourneyStep("ユーザ設定情報のダウンロード", "later", "申請の承認後に行えます。"))
    else:
        pending = [a for a in accounts if a.issue_count == 0]
        if pending:
            steps.append(JourneyStep(
                "ユーザ設定情報のダウンロード", "next",
                f"{len(accounts)}台のうち{len(pending)}台分が未ダウンロードです。",
                "facilities:accounts",
            ))
        else:
            steps.append(JourneyStep(
                "ユーザ設定情報のダウンロード", "done", f"{len(accounts)}台分をダウンロード済みです。",
                "facilities:accounts",
            ))

    if golive is not None:
        steps.append(JourneyStep(
            "運用開始日の入力", "done", f"運用開始日: {to_wareki(golive.date)}", "facilities:golive"
        ))
    elif accepted:
        steps.append(JourneyStep(
            "運用開始日の入力", "next", "アプリの設定が終わったら運用開始日（予定日）を入力してください。",
            "facilities:golive",
        ))
    else:
        steps.append(JourneyStep("運用開始日の入力", "later", "申請の承認後に入力できます。"))

    if listed:
        steps.append(JourneyStep("公開リストへの掲載", "done", "マイナ保険証利用可能施設として掲載されています。"))
    elif golive is not None:
        steps.append(JourneyStep(
            "公開リストへの掲載", "waiting", "公開リストは毎週月曜日に更新されます。次回の更新で掲載されます。"
        ))
    else:
        steps.append(JourneyStep("公開リストへの掲載", "later", "運用開始日の入力後に掲載されます。"))
    return steps


# ---------------------------------------------------------------- public list


def facilities_listed_publicly(
    *, prefecture: str = "", kind: str = "", name: str = ""
) -> QuerySet[PublicListEntry]:
    entries = PublicListEntry.objects.all()
    if prefecture:
        entries = entries.filter(prefecture=prefecture)
    if kind:
        entries = entries.filter(kind=kind)
    if name:
        entries = entries.filter(Q(name__icontains=name) | Q(address__icontains=name))
    return entries.order_by("prefecture", "code")


def latest_public_list_build() -> PublicListBuild | None:
    return PublicListBuild.objects.first()

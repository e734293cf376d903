"""Everything that writes: linking staff, applications and their review, device accounts and
their credentials, go-live dates and the public list. Each function is one transaction, logs
an Activity and sends its e-mail after commit."""

import hmac
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from portal.errors import NotPermitted, ServiceError
from portal.normalize import digits
from portal.notifications import notify
from portal.receipts import format_receipt_number
from portal.wareki import to_wareki
from portal.workflow import perform

from .activity import record_activity
from .codes import CodeError, normalize_registration_number, parse_medical_code
from .fact_changes import facts_changed
from .models import (
    OPEN_STATES,
    ApplicationKind,
    Channel,
    DeviceAccount,
    EndAction,
    Facility,
    GoLive,
    LinkAttempt,
    Membership,
    PublicListBuild,
    PublicListEntry,
    UsageApplication,
    public_list_search_text,
)
from .selectors import facility_emails, has_accepted_start, usage_window

MAX_DEVICES = 99


# ---------------------------------------------------------------- linking (なりすまし防止)


def normalize_facility_code(raw: str) -> str:
    """A 10-digit 医療機関等コード (check digit verified) or a 登録記号番号."""
    text = (raw or "").strip()
    if text and text[0] in "契協":
        return normalize_registration_number(text)
    return parse_medical_code(text).value


def _alert_on_guessing(facility: Facility, since) -> None:
    """Many accounts guessing at one facility's digits cannot lock its staff out (the limit
    is per user), but its staff are told once when the wrong guesses reach the alert level
    within the window, so that they can ask the help desk to look."""
    wrong = LinkAttempt.objects.filter(facility=facility, reason="last4_mismatch",
                                       created_at__gte=since).count()
    if wrong != settings.FACILITY_LINK_ALERT_AFTER:
        return
    record_activity(
        facility=facility, actor=None, verb="link_guessing",
        summary=f"この施設のコードで、口座番号下4桁の誤った入力が{wrong}回ありました"
        f"（{settings.FACILITY_LINK_WINDOW_HOURS}時間以内）。",
    )
    notify(to=facility_emails(facility), name="link_guessing",
           context={"facility": facility, "count": wrong,
                    "hours": settings.FACILITY_LINK_WINDOW_HOURS})


def link_user_to_facility(
    *, user, code: str, account_last4: str, ip_address: str | None = None
) -> Facility:
    try:
        normalized = normalize_facility_code(code)
    except CodeError as error:
        raise ServiceError(error.message, field="code") from error
    last4 = digits(account_last4)
    if len(last4) != 4 or not last4.isdigit():
        raise ServiceError("口座番号の下4桁を数字4桁で入力してください。", field="account_last4")

    # The user's row is locked while the guess is counted, checked and recorded, so parallel
    # requests are checked one after another and never more than the limit in the window.
    # The limit is per user only: a limit per code would let anyone lock a facility's real
    # staff out by guessing at its code.
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        since = timezone.now() - timedelta(hours=settings.FACILITY_LINK_WINDOW_HOURS)
        failures = (
            LinkAttempt.objects.filter(user=user, succeeded=False, created_at__gte=since)
            .exclude(reason="locked")
            .count()
        )
        facility = None
        if failures >= settings.FACILITY_LINK_MAX_FAILURES:
            reason = "locked"
        else:
            facility = Facility.objects.filter(code=normalized).first()
            if facility is None:
                reason = "not_found"
            elif not hmac.compare_digest(facility.account_last4, last4):
                reason = "last4_mismatch"
            else:
                reason = ""
        LinkAttempt.objects.create(
            user=user, code_entered=normalized, facility=facility, succeeded=not reason,
            reason=reason, ip_address=ip_address,
        )
        if not reason:
            membership, created = Membership.objects.get_or_create(user=user, facility=facility)
            if created:
                record_activity(
                    facility=facility,
                    actor=user,
                    verb="staff_linked",
                    summary=f"担当者 {user.email} が施設に登録されました。",
                    target=membership,
                )
                notify(
                    to=facility_emails(facility),
                    name="staff_linked",
                    context={"facility": facility, "staff": user},
                )
        elif reason == "last4_mismatch":
            _alert_on_guessing(facility, since)
    if reason == "locked":
        raise ServiceError(
            f"入力の誤りが続いたため、施設の確認を一時的に停止しています。"
            f"{settings.FACILITY_LINK_WINDOW_HOURS}時間後に再度お試しいただくか、"
            "お問い合わせ窓口にご連絡ください。"
        )
    if reason:
        raise ServiceError(
            "施設コードと口座番号下4桁の組み合わせが確認できませんでした。"
            "診療報酬等の請求に使用している口座番号の下4桁をご確認ください。"
        )
    return facility


# ---------------------------------------------------------------- applications (§3)


@dataclass(frozen=True)
class ApplicationInput:
    contact_name: str
    founder_name: str
    phone: str
    email: str
    staff_count: int | None = None
    device_count: int | None = None
    end_action: str = ""
    planned_end_date: date | None = None


def _assign_receipt_number(application: UsageApplication) -> None:
    prefix = "A" if application.kind == ApplicationKind.START else "C"
    application.receipt_number = format_receipt_number(
        prefix, application.submitted_at, application.pk
    )
    UsageApplication.objects.filter(pk=application.pk).update(
        receipt_number=application.receipt_number
    )


def check_can_apply(facility: Facility, kind: str, data: ApplicationInput) -> None:
    """Why this application cannot be made now (raises), or nothing."""
    if UsageApplication.objects.filter(facility=facility, kind=kind, state__in=OPEN_STATES).exists():
        raise ServiceError("審査中の同じ申請があります。審査の結果をお待ちください。")
    accepted = has_accepted_start(facility)
    if kind == ApplicationKind.START:
        if accepted:
            raise ServiceError(
                "利用開始申請は承認済みです。台数の変更や利用終了は「利用終了・変更申請」から行ってください。"
            )
        if not data.device_count or not 1 <= data.device_count <= MAX_DEVICES:
            raise ServiceError(f"申請台数は1〜{MAX_DEVICES}台で入力してください。", "device_count")
        if not data.staff_count or data.staff_count < 1:
            raise ServiceError("職員数を1人以上で入力してください。", "staff_count")
        return
    if not accepted:
        raise ServiceError("利用開始申請の承認後に申請できます。")
    if data.device_count is None and not data.end_action:
        raise ServiceError("台数の変更か利用終了予定日のいずれかを入力してください。")
    if data.device_count is not None and not 1 <= data.device_count <= MAX_DEVICES:
        raise ServiceError(f"変更後の台数は1〜{MAX_DEVICES}台で入力してください。", "device_count")
    if data.end_action in (EndAction.END, EndAction.CHANGE):
        if data.planned_end_date is None:
            raise ServiceError("利用終了予定年月日を入力してください。", "planned_end_date")
        if data.planned_end_date < timezone.localdate():
            raise ServiceError("利用終了予定年月日には今日以降の日付を入力してください。", "planned_end_date")


def submit_usage_application(
    *,
    user,
    facility: Facility,
    kind: str,
    data: ApplicationInput,
    token: uuid.UUID,
    channel: str = Channel.ONLINE,
) -> UsageApplication:
    """Submit once: a repeated token (double click, reload) returns the first application."""
    existing = UsageApplication.objects.filter(submission_token=token).first()
    if existing is not None:
        if existing.facility_id != facility.pk:
            raise ServiceError("この申請は受け付けられません。画面を開き直してください。")
        return existing
    check_can_apply(facility, kind, data)
    try:
        with transaction.atomic():
            application = UsageApplication.objects.create(
                facility=facility,
                kind=kind,
                channel=channel,
                submitted_by=user,
                submission_token=token,
                contact_name=data.contact_name,
                founder_name=data.founder_name,
                phone=data.phone,
                email=data.email,
                staff_count=data.staff_count,
                device_count=data.device_count,
                end_action=data.end_action,
                planned_end_date=data.planned_end_date,
            )
            _assign_receipt_number(application)
            if kind == ApplicationKind.START:
                facts_changed([facility.pk])  # its compliance: 利用開始申請中
            record_activity(
                facility=facility,
                actor=user,
                verb="application_submitted",
                summary=f"{application.get_kind_display()}を受け付けました"
                f"（{application.get_channel_display()}）。",
                target=application,
                receipt_number=application.receipt_number,
                to_state=application.state,
            )
            notify(
                to=[data.email, *facility_emails(facility)],
                name="application_submitted",
                context={"application": application, "facility": facility},
            )
    except IntegrityError:
        existing = UsageApplication.objects.filter(submission_token=token).first()
        if existing is not None:
            return existing
        raise ServiceError("審査中の同じ申請があります。審査の結果をお待ちください。") from None
    return application


def start_second_check(*, application: UsageApplication, actor) -> UsageApplication:
    """An internal step, never shown to the facility as such; the acceptance that follows
    must be made by someone else (four-eyes)."""
    return perform(application, "start_second_check", actor=actor, summary="二次確認に回しました。")


def _next_login_id(facility: Facility, number: int) -> str:
    return f"{facility.institution_code}-{number:02d}"


def _create_device_accounts(application: UsageApplication, count: int) -> list[DeviceAccount]:
    facility = application.facility
    start = (
        DeviceAccount.objects.filter(facility=facility).aggregate(m=Max("number"))["m"] or 0
    )
    return DeviceAccount.objects.bulk_create(
        DeviceAccount(
            facility=facility,
            application=application,
            number=number,
            login_id=_next_login_id(facility, number),
        )
        for number in range(start + 1, start + count + 1)
    )


def _apply_change(application: UsageApplication) -> str:
    """Apply an accepted 利用終了・変更申請; returns a summary for the history."""
    facility = application.facility
    parts = []
    if application.device_count is not None:
        active = list(
            DeviceAccount.objects.filter(facility=facility, is_active=True).order_by("number")
        )
        difference = application.device_count - len(active)
        if difference > 0:
            _create_device_accounts(application, difference)
        elif difference < 0:
            ended = [account.pk for account in active[difference:]]
            DeviceAccount.objects.filter(pk__in=ended).update(
                is_active=False, ended_at=timezone.now()
            )
        parts.append(f"台数 {len(active)}台 → {application.device_count}台")
    if application.end_action == EndAction.CANCEL:
        parts.append("利用終了を取り消し")
    elif application.end_action in (EndAction.END, EndAction.CHANGE):
        parts.append(f"利用終了予定日 {to_wareki(application.planned_end_date)}")
    return "、".join(parts)


def accept_application(*, application: UsageApplication, actor) -> UsageApplication:
    def apply(accepted: UsageApplication) -> str:
        if accepted.kind == ApplicationKind.START:
            accounts = _create_device_accounts(accepted, accepted.device_count or 0)
            detail = f"資格確認アカウントを{len(accounts)}件発行しました。"
            facts_changed([accepted.facility_id])
        else:
            detail = _apply_change(accepted) + "。"
        return f"{accepted.get_kind_display()}を承認しました。{detail}"

    return perform(application, "accept", actor=actor, effect=apply)


def return_application(*, application: UsageApplication, actor, reason: str) -> UsageApplication:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("差戻しの理由を入力してください。", "reason")
    def follow(returned: UsageApplication) -> None:
        if returned.kind == ApplicationKind.START:
            facts_changed([returned.facility_id])  # no longer 利用開始申請中

    return perform(application, "send_back", actor=actor, reason=reason, effect=follow,
                   summary=f"{application.get_kind_display()}を差し戻しました。理由: {reason}")


def register_postal_application(
    *, actor, facility: Facility, data: ApplicationInput
) -> UsageApplication:
    """A paper (郵送) 利用開始申請 entered by an administrator: its go-live (planned) date is
    the date it was registered (seed 003), unless the facility already has one."""
    if not actor.has_perm("facilities.add_usageapplication"):
        raise NotPermitted("郵送申請を登録する権限がありません。")
    with transaction.atomic():
        application = submit_usage_application(
            user=actor,
            facility=facility,
            kind=ApplicationKind.START,
            data=data,
            token=uuid.uuid4(),
            channel=Channel.POST,
        )
        today = timezone.localdate()
        golive, created = GoLive.objects.get_or_create(
            facility=facility,
            defaults={"date": today, "source": GoLive.Source.POST, "updated_by": actor},
        )
        if created:
            record_activity(
                facility=facility,
                actor=actor,
                verb="golive_set",
                summary=f"運用開始（予定）日を郵送申請の登録日 {to_wareki(today)} としました。",
                target=golive,
                receipt_number=application.receipt_number,
            )
            facts_changed([facility.pk])  # a go-live entered: its results follow
    return application


# ---------------------------------------------------------------- device accounts


@dataclass(frozen=True)
class IssuedCredentials:
    institution_code: str
    login_id: str
    password: str
    activation_code: str


_PASSWORD_ALPHABET = "".join(
    ch for ch in string.ascii_letters + string.digits if ch not in "0O1lI"
)
_ACTIVATION_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def issue_device_credentials(
    *, account: DeviceAccount, actor, seen_issue_count: int | None = None
) -> IssuedCredentials:
    """New initial password and activation code for one device; earlier ones stop working.
    The clear values are returned once, for the PDF, and never stored.

    `seen_issue_count` is the issue count shown with the download button: a form posted again
    (a double click) finds it already passed and issues nothing, so the PDF the first post
    returned stays valid."""
    if not account.is_active:
        raise ServiceError("このアカウントは利用終了しています。")
    password = _random(_PASSWORD_ALPHABET, 12)
    activation = "-".join(_random(_ACTIVATION_ALPHABET, 4) for _ in range(4))
    with transaction.atomic():
        account = DeviceAccount.objects.select_for_update().select_related("facility").get(
            pk=account.pk
        )
        if seen_issue_count is not None and seen_issue_count != account.issue_count:
            raise ServiceError(
                "ユーザ設定情報はたった今発行されました（同じボタンが続けて押されたため、"
                "2回目以降は発行していません）。先にダウンロードされたPDFをお使いください。"
                "もう一度ダウンロードする場合は、ボタンをあらためて押してください"
                "（新しいパスワードが発行され、以前のPDFは使えなくなります）。",
                "issue_count",
            )
        reissue = account.issue_count > 0
        account.password_hash = make_password(password)
        account.activation_code_hash = make_password(activation)
        account.credentials_issued_at = timezone.now()
        account.issue_count += 1
        account.save(
            update_fields=[
                "password_hash", "activation_code_hash", "credentials_issued_at", "issue_count"
            ]
        )
        record_activity(
            facility=account.facility,
            actor=actor,
            verb="credentials_issued",
            summary=f"アカウント {account.login_id} のユーザ設定情報を"
            f"{'再発行' if reissue else '発行'}しました。",
            target=account,
        )
        notify(
            to=facility_emails(account.facility),
            name="credentials_issued",
            context={"account": account, "facility": account.facility, "actor": actor,
                     "reissue": reissue},
        )
    return IssuedCredentials(
        institution_code=account.facility.institution_code,
        login_id=account.login_id,
        password=password,
        activation_code=activation,
    )


# ---------------------------------------------------------------- go-live (§4)


def set_golive_date(*, user, facility: Facility, golive_date: date) -> GoLive:
    if not has_accepted_start(facility):
        raise ServiceError("運用開始日は、利用開始申請が承認された後に入力できます。")
    earliest, latest = usage_window()
    if not earliest <= golive_date <= latest:
        raise ServiceError(
            f"運用開始日は{to_wareki(earliest)}から{to_wareki(latest)}までの日付を入力してください。",
            "date",
        )
    with transaction.atomic():
        # The facility row, not the go-live row, is locked: before the first entry there is
        # no go-live row to lock and parallel first entries would both insert.
        Facility.objects.select_for_update().filter(pk=facility.pk).first()
        golive = GoLive.objects.filter(facility=facility).first()
        previous = golive.date if golive else None
        if golive is None:
            golive = GoLive(facility=facility)
        if previous == golive_date:
            return golive
        golive.date = golive_date
        golive.source = GoLive.Source.FACILITY
        golive.updated_by = user
        golive.save()
        facts_changed([facility.pk])  # its results (and its 併設 partner's) follow, after commit
        change = (
            f"{to_wareki(previous)} → {to_wareki(golive_date)}" if previous
            else to_wareki(golive_date)
        )
        record_activity(
            facility=facility,
            actor=user,
            verb="golive_set",
            summary=f"運用開始日を登録しました: {change}",
            target=golive,
        )
        notify(
            to=facility_emails(facility),
            name="golive_set",
            context={"facility": facility, "golive": golive, "previous": previous},
        )
    return golive


# ---------------------------------------------------------------- public list (§4)


def rebuild_public_list() -> PublicListBuild:
    """Replace the snapshot with every facility that has a go-live date (weekly, Mondays)."""
    rows = (
        GoLive.objects.select_related("facility")
        .values_list(
            "facility_id", "facility__code", "facility__name", "facility__kind",
            "facility__prefecture", "facility__address", "date",
        )
        .order_by("facility_id")
    )
    with transaction.atomic():
        PublicListEntry.objects.all().delete()
        batch: list[PublicListEntry] = []
        count = 0
        for facility_id, code, name, kind, prefecture, address, golive_date in rows.iterator(
            chunk_size=5000
        ):
            batch.append(
                PublicListEntry(
                    facility_id=facility_id, code=code, name=name, kind=kind,
                    prefecture=prefecture, address=address, golive_date=golive_date,
                    search_text=public_list_search_text(
                        name=name, prefecture=prefecture, address=address),
                )
            )
            if len(batch) >= 5000:
                PublicListEntry.objects.bulk_create(batch)
                count += len(batch)
                batch = []
        PublicListEntry.objects.bulk_create(batch)
        count += len(batch)
        return PublicListBuild.objects.create(entry_count=count)

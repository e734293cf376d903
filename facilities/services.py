"""Everything that writes: linking staff, applications and their review, device accounts and
their credentials, go-live dates and the public list. Each function is one transaction, logs
an Activity and sends its e-mail after commit."""

import hmac
import math
import secrets
import string
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from portal import ratelimit
from portal.errors import NotPermitted, ServiceError
from portal.normalize import digits
from portal.notifications import notify
from portal.receipts import format_receipt_number
from portal.wareki import to_wareki
from portal.workflow import perform, refusal

from .activity import record_activity
from .codes import CodeError, normalize_registration_number, parse_medical_code
from .fact_changes import facts_changed
from .kinds import SEJUTSU_KINDS
from .models import (
    LINK_REQUEST_PERMISSION,
    OPEN_STATES,
    ApplicationKind,
    ApplicationState,
    Channel,
    DeviceAccount,
    EndAction,
    Facility,
    GoLive,
    LinkAttempt,
    LinkRequest,
    LinkRequestState,
    LinkRoute,
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


# Guesses whose digits were checked (an unknown code, wrong digits): what the limits count.
GUESS_REASONS = ("not_found", "last4_mismatch")
LOCKED_MESSAGE = (
    "入力の誤りが続いたため、施設の確認を一時的に停止しています。"
    "{hours}時間後に再度お試しいただくか、お問い合わせ窓口にご連絡ください。"
)
# The limits of wrong guesses (portal/ratelimit.py; RATE_LIMITS), in the order they are
# counted: per user, per client address, per facility (wrong 口座番号下4桁 only).
LINK_USER, LINK_ADDRESS, LINK_FACILITY = (
    "facility_link_user", "facility_link_address", "facility_link_facility")


def _hours(seconds: int) -> int:
    return max(1, math.ceil(seconds / 3600))


@dataclass
class _Guess:
    """One guess's place in the limits: the hits it took (kept if the guess is wrong, given
    back otherwise) and what refused it."""

    reason: str = ""
    facility: Facility | None = None
    held: list = field(default_factory=list)
    refused: ratelimit.Decision | None = None

    def take(self, scope: str, key) -> bool:
        decision = ratelimit.limit(scope, key, ratelimit.rates_for(scope))
        if decision:
            self.held.append(decision)
        else:
            self.refused = decision
            self.give_back()
        return bool(decision)

    def give_back(self) -> None:
        for decision in self.held:
            decision.refund()


def _check_guess(*, user, code: str, last4: str, ip_address: str | None) -> _Guess:
    """One guess, against the limits per user, per address and per facility (in that
    order). Each limit is a hit in the portal's limiter taken before the digits are checked
    — an atomic increment, so parallel guesses are counted one after another and never more
    than a limit are checked — and given back unless the guess was wrong: right digits and
    refused guesses spend nothing."""
    guess = _Guess()
    if not guess.take(LINK_USER, user.pk):
        guess.reason = "locked"
        return guess
    if ip_address and not guess.take(LINK_ADDRESS, ip_address):
        guess.reason = "address_locked"
        return guess
    guess.facility = Facility.objects.filter(code=code).first()
    if guess.facility is None:
        guess.reason = "not_found"
        return guess
    if not guess.take(LINK_FACILITY, guess.facility.pk):
        guess.reason = "facility_locked"
        return guess
    if not hmac.compare_digest(guess.facility.account_last4, last4):
        guess.reason = "last4_mismatch"
        return guess
    guess.give_back()
    return guess


def _tell_when_facility_limit_reached(guess: _Guess) -> None:
    """The wrong guess that uses up the facility's limit stops further guesses at it for the
    window; its staff are e-mailed and its history says so. Once: the limiter's counts are
    atomic (one guess takes the last place), and a told facility is not told again within the
    window (a place given back by a right guess and taken again by a wrong one)."""
    facility, rate = guess.facility, guess.held[-1].exhausted
    if rate is None or not cache.add(f"facility-link-told:{facility.pk}", 1, timeout=rate.period):
        return
    hours, count = _hours(rate.period), rate.limit
    record_activity(
        facility=facility, actor=None, verb="link_guessing",
        summary=f"この施設のコードで、口座番号下4桁の誤った入力が{hours}時間以内に{count}回"
        f"あったため、この施設の確認（担当者の登録の申請）を{hours}時間停止しました。",
    )
    notify(to=facility_emails(facility), name="link_guessing",
           context={"facility": facility, "count": count, "hours": hours})


def request_facility_link(
    *, user, code: str, account_last4: str, ip_address: str | None = None
) -> LinkRequest:
    """The facility's code and 請求口座番号下4桁, checked within the limits per user, per
    client address and per facility. Right, they make a request, not a membership: one of
    the facility's staff approves it, or, for a facility with no staff yet, the code of a
    letter sent to the facility's address confirms it. Every guess is logged without the
    digits typed."""
    try:
        normalized = normalize_facility_code(code)
    except CodeError as error:
        raise ServiceError(error.message, field="code") from error
    last4 = digits(account_last4)
    if len(last4) != 4 or not last4.isdigit():
        raise ServiceError("口座番号の下4桁を数字4桁で入力してください。", field="account_last4")

    guess = _check_guess(user=user, code=normalized, last4=last4, ip_address=ip_address)
    reason, facility = guess.reason, guess.facility
    with transaction.atomic():
        # One user's guesses are recorded one after another (their open request is one).
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if not reason and Membership.objects.filter(user=user, facility=facility).exists():
            reason = "already_staff"
        LinkAttempt.objects.create(
            user=user, code_entered=normalized, facility=facility,
            succeeded=reason in ("", "already_staff"), reason=reason, ip_address=ip_address,
        )
        if reason == "last4_mismatch":
            _tell_when_facility_limit_reached(guess)
        if not reason:
            link_request = _open_link_request(user=user, facility=facility,
                                              ip_address=ip_address)
    if guess.refused is not None:
        raise ServiceError(LOCKED_MESSAGE.format(hours=_hours(guess.refused.retry_after)))
    if reason == "already_staff":
        raise ServiceError(f"既に{facility.name}の担当者として登録されています。"
                           "マイページから施設を選んでください。")
    if reason:
        raise ServiceError(
            "施設コードと口座番号下4桁の組み合わせが確認できませんでした。"
            "診療報酬等の請求に使用している口座番号の下4桁をご確認ください。"
        )
    return link_request


def _open_link_request(*, user, facility: Facility, ip_address: str | None) -> LinkRequest:
    """The user's open request for the facility (a second submission finds the first), or a
    new one: approved by the facility's staff when it has some, else confirmed by a code
    sent by post. Called under the user's row lock."""
    existing = LinkRequest.objects.filter(user=user, facility=facility,
                                          state=LinkRequestState.PENDING).first()
    if existing is not None:
        if not existing.is_expired:
            return existing
        _expire(existing)
    has_staff = Membership.objects.filter(facility=facility).exists()
    route = LinkRoute.STAFF if has_staff else LinkRoute.LETTER
    days = (settings.FACILITY_LINK_REQUEST_DAYS if has_staff
            else settings.FACILITY_LINK_CODE_DAYS)
    link_request = LinkRequest.objects.create(
        facility=facility, user=user, route=route, ip_address=ip_address,
        expires_at=timezone.now() + timedelta(days=days),
    )
    record_activity(
        facility=facility, actor=user, verb="link_requested", target=link_request,
        to_state=link_request.state,
        summary=f"{user.email} から担当者の登録の申請がありました"
        f"（{link_request.get_route_display()}）。",
    )
    context = {"facility": facility, "link_request": link_request, "requester": user}
    notify(to=[user.email], name="link_requested", context=context)
    if has_staff:
        notify(to=facility_emails(facility), name="link_request_to_staff", context=context)
    return link_request


def link_request_after_move(link_request: LinkRequest, *, move, actor, summary: str) -> None:
    """Every move of a request (the workflow kernel calls it): the facility's history, an
    e-mail to the requester and one to the facility's other staff (two e-mails, so that
    neither side learns the other's addresses)."""
    record_activity(
        facility=link_request.facility, actor=actor, verb=f"link_request_{move.target}",
        summary=summary, target=link_request, from_state=move.source, to_state=move.target,
    )
    context = {"facility": link_request.facility, "link_request": link_request,
               "requester": link_request.user, "summary": summary}
    notify(to=[link_request.user.email], name="link_request_answered", context=context)
    staff = [email for email in facility_emails(link_request.facility)
             if email != link_request.user.email]
    notify(to=staff, name="link_request_changed", context=context)


def _make_staff(link_request: LinkRequest) -> Membership:
    membership, _ = Membership.objects.get_or_create(user=link_request.user,
                                                     facility=link_request.facility)
    return membership


def approve_link_request(*, link_request: LinkRequest, actor) -> LinkRequest:
    """One of the facility's staff confirms the requester is one of them."""
    def effect(moved: LinkRequest) -> str:
        _make_staff(moved)
        return f"{moved.user.email} を担当者として承認しました。"

    return perform(link_request, "approve", actor=actor, effect=effect)


def refuse_link_request(*, link_request: LinkRequest, actor) -> LinkRequest:
    return perform(link_request, "refuse", actor=actor,
                   summary=f"{link_request.user.email} の担当者の登録を承認しませんでした。")


def withdraw_link_request(*, link_request: LinkRequest, user) -> LinkRequest:
    return perform(link_request, "withdraw", actor=user,
                   summary=f"{link_request.user.email} が担当者の登録の申請を取り下げました。")


def cancel_link_request(*, link_request: LinkRequest, actor) -> LinkRequest:
    """An administrator ends a request (the facility said it knows no such person)."""
    return perform(link_request, "cancel", actor=actor,
                   summary=f"{link_request.user.email} の担当者の登録の申請を実施機関が"
                   "取り消しました。")


def _expire(link_request: LinkRequest) -> LinkRequest:
    return perform(link_request, "expire", actor=None,
                   summary=f"{link_request.user.email} の担当者の登録の申請は、期限までに"
                   "確認されなかったため終了しました。")


def expire_link_requests() -> int:
    """Every open request past its expiry ends (nightly). Idempotent."""
    count = 0
    for link_request in LinkRequest.objects.filter(
            state=LinkRequestState.PENDING, expires_at__lte=timezone.now()).order_by("pk"):
        try:
            _expire(link_request)
        except ServiceError:
            continue  # decided meanwhile
        count += 1
    return count


LINK_CODE_LENGTH = 8


def normalize_link_code(raw: str) -> str:
    """A code as typed (full width, lower case, with a hyphen or spaces) as it was issued."""
    text = unicodedata.normalize("NFKC", raw or "").upper()
    return "".join(ch for ch in text if ch not in "-‐－ー ")


def format_link_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def confirm_link_code(*, link_request: LinkRequest, user, code: str) -> LinkRequest:
    """The requester types the code of the letter sent to the facility: right, within its
    validity and its tries, the requester becomes staff. A wrong code is counted on the
    request (under its row lock); at the limit the code stops working until a new letter."""
    typed = normalize_link_code(code)
    limit = settings.FACILITY_LINK_CODE_MAX_FAILURES
    with transaction.atomic():
        locked = LinkRequest.objects.select_for_update(of=("self",)).select_related(
            "facility", "user").get(pk=link_request.pk)
        problem = refusal(locked, "confirm_code", user)
        if problem is not None:
            raise problem
        if locked.code_failures >= limit:
            raise ServiceError("確認コードの誤りが上限に達したため、この通知書の確認コードは"
                               "使えません。お問い合わせ窓口にご連絡ください。", "code")
        if typed and check_password(typed, locked.code_hash):
            def effect(moved: LinkRequest) -> str:
                _make_staff(moved)
                return (f"{moved.user.email} が郵送された確認コードを入力し、担当者として"
                        "登録されました。")

            return perform(locked, "confirm_code", actor=user, effect=effect)
        locked.code_failures += 1
        locked.save(update_fields=["code_failures"])
        used_up = locked.code_failures >= limit
        if used_up:
            record_activity(
                facility=locked.facility, actor=user, verb="link_code_locked", target=locked,
                summary=f"{locked.user.email} の申請で確認コードの誤りが{limit}回に達したため、"
                "通知書の確認コードを無効にしました。",
            )
            notify(to=[locked.user.email], name="link_code_locked",
                   context={"facility": locked.facility, "link_request": locked,
                            "limit": limit})
    if used_up:
        raise ServiceError(f"確認コードの誤りが{limit}回に達したため、この通知書の確認コードは"
                           "使えなくなりました。お問い合わせ窓口にご連絡ください。", "code")
    raise ServiceError(f"確認コードが正しくありません。あと{limit - locked.code_failures}回"
                       "入力できます。", "code")


LINK_LETTER_ISSUER = "厚生労働省保険局"


@dataclass(frozen=True)
class LinkLetter:
    """One letter to print: the code exists in clear only here and in the PDF."""

    link_request: LinkRequest
    code: str

    @property
    def formatted_code(self) -> str:
        return format_link_code(self.code)


def _letter_refusal(link_request: LinkRequest) -> str | None:
    name = f"{link_request.facility.name}（{link_request.user.email}）"
    if link_request.route != LinkRoute.LETTER:
        return f"{name}: 施設の担当者が承認する申請です。通知書は作成しません。"
    if not link_request.is_open:
        return f"{name}: 確認待ちの申請ではありません（{link_request.get_state_display()}）。"
    if not link_request.facility.address.strip():
        return f"{name}: 施設マスタに所在地がないため、通知書を作成できません。"
    return None


def issue_link_letters(*, link_requests, actor) -> tuple[list[LinkLetter], list[str]]:
    """New codes for the letters of these first-staff requests (the earlier letter's code
    stops working; its tries start again; the request is valid FACILITY_LINK_CODE_DAYS from
    today). Returns the letters to print and why the others were left out."""
    if not actor.has_perm(LINK_REQUEST_PERMISSION):
        raise NotPermitted("確認コードの通知書を作成する権限がありません。")
    letters, refused = [], []
    now = timezone.now()
    with transaction.atomic():
        for link_request in (LinkRequest.objects.select_for_update(of=("self",))
                             .select_related("facility", "user")
                             .filter(pk__in=[r.pk for r in link_requests]).order_by("pk")):
            problem = _letter_refusal(link_request)
            if problem:
                refused.append(problem)
                continue
            code = _random(_ACTIVATION_ALPHABET, LINK_CODE_LENGTH)
            link_request.code_hash = make_password(code)
            link_request.code_failures = 0
            link_request.letter_issued_at = now
            link_request.letter_count += 1
            link_request.letter_sent_at, link_request.letter_sent_by = None, None
            link_request.expires_at = now + timedelta(days=settings.FACILITY_LINK_CODE_DAYS)
            link_request.save(update_fields=[
                "code_hash", "code_failures", "letter_issued_at", "letter_count",
                "letter_sent_at", "letter_sent_by", "expires_at"])
            record_activity(
                facility=link_request.facility, actor=actor, verb="link_letter_issued",
                target=link_request,
                summary=f"{link_request.user.email} の申請の確認コードの通知書を作成しました"
                f"（{link_request.letter_count}通目。それ以前の通知書の確認コードは使えません）。",
            )
            letters.append(LinkLetter(link_request=link_request, code=code))
    return letters, refused


def mark_link_letters_sent(*, link_requests, actor) -> tuple[int, list[str]]:
    """The letters made for these requests were posted: the requester is told to expect
    it. Returns how many were marked and why the others were not."""
    if not actor.has_perm(LINK_REQUEST_PERMISSION):
        raise NotPermitted("通知書の発送を記録する権限がありません。")
    marked, refused = 0, []
    with transaction.atomic():
        for link_request in (LinkRequest.objects.select_for_update(of=("self",))
                             .select_related("facility", "user")
                             .filter(pk__in=[r.pk for r in link_requests]).order_by("pk")):
            name = f"{link_request.facility.name}（{link_request.user.email}）"
            if (link_request.route != LinkRoute.LETTER or not link_request.is_open
                    or link_request.letter_issued_at is None):
                refused.append(f"{name}: 通知書を作成した確認待ちの申請ではありません。")
                continue
            if link_request.letter_sent_at is not None:
                refused.append(f"{name}: 発送済みです。")
                continue
            link_request.letter_sent_at, link_request.letter_sent_by = timezone.now(), actor
            link_request.save(update_fields=["letter_sent_at", "letter_sent_by"])
            record_activity(
                facility=link_request.facility, actor=actor, verb="link_letter_sent",
                target=link_request,
                summary=f"{link_request.user.email} の申請の確認コードの通知書を、施設の所在地に"
                "郵送しました。",
            )
            notify(to=[link_request.user.email], name="link_letter_sent",
                   context={"facility": link_request.facility, "link_request": link_request})
            marked += 1
    return marked, refused


def add_staff(*, user, facility: Facility, actor=None) -> Membership:
    """Makes the user staff of the facility without any check: for trusted setup only (the
    demo data, the benchmarks' database, administrators' own code), never for a request
    from the facility side, which goes through `request_facility_link`."""
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(user=user, facility=facility)
        if created:
            record_activity(
                facility=facility, actor=actor, verb="staff_linked",
                summary=f"担当者 {user.email} が施設に登録されました。", target=membership,
            )
            notify(to=facility_emails(facility), name="staff_linked",
                   context={"facility": facility, "staff": user})
    return membership


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


@dataclass(frozen=True)
class ApplyRefusal:
    """Why no application of a kind can be made now, whatever is typed: said on the form's
    page instead of the form (docs/decisions.md D1.5), with the application that stands in
    the way when there is one."""

    message: str
    application: UsageApplication | None = None


def apply_refusal(facility: Facility, kind: str) -> ApplyRefusal | None:
    """The refusal of check_can_apply that does not depend on what is typed, or None."""
    pending = (UsageApplication.objects.filter(facility=facility, kind=kind,
                                               state__in=OPEN_STATES)
               .order_by("-submitted_at").first())
    if pending is not None:
        return ApplyRefusal("審査中の同じ申請があります。審査の結果をお待ちください。", pending)
    if kind == ApplicationKind.START:
        accepted = (UsageApplication.objects.filter(
            facility=facility, kind=ApplicationKind.START, state=ApplicationState.ACCEPTED)
            .order_by("-submitted_at").first())
        if accepted is not None:
            return ApplyRefusal(
                "利用開始申請は承認済みです。台数の変更や利用終了は「利用終了・変更申請」から"
                "行ってください。", accepted)
    elif not has_accepted_start(facility):
        return ApplyRefusal("利用開始申請の承認後に申請できます。")
    return None


def check_can_apply(facility: Facility, kind: str, data: ApplicationInput) -> None:
    """Why this application cannot be made now (raises), or nothing."""
    refused = apply_refusal(facility, kind)
    if refused is not None:
        raise ServiceError(refused.message)
    if kind == ApplicationKind.START:
        if not data.device_count or not 1 <= data.device_count <= MAX_DEVICES:
            raise ServiceError(f"申請台数は1〜{MAX_DEVICES}台で入力してください。", "device_count")
        if not data.staff_count or data.staff_count < 1:
            raise ServiceError("職員数を1人以上で入力してください。", "staff_count")
        return
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


# ---------------------------------------------------------------- 併設: the main facility (§2, §7)
# `Facility.main_facility` is written here only: by the 併設 pairing's confirmation and
# dissolution (obligation/services.py), the facility-master import and the demo data. The
# admin shows it read-only. One validation for all of them: 施術所 only, never itself, no
# chains (a main one is nobody's subordinate, a subordinate is nobody's main).

_KIND_LABELS = dict(Facility._meta.get_field("kind").flatchoices)
_ONE_PAIR = "併設は主たる施術所と従たる施術所の一組ずつで、連ねることはできません。"


@dataclass(frozen=True)
class AnnexSide:
    """What the 併設 rules read of one facility, as it is or as it is about to be saved."""

    name: str
    kind: str
    has_main: bool = False
    has_subordinates: bool = False


def annex_refusal(*, subordinate: AnnexSide, main: AnnexSide, same: bool = False) -> str | None:
    """Why `subordinate` may not be given `main` as its 主たる施術所 (None: it may)."""
    if same:
        return "自分自身を主たる施術所にはできません。"
    for side in (subordinate, main):
        if side.kind not in SEJUTSU_KINDS:
            return (f"併設は施術所どうしでのみ設定できます（{side.name}は"
                    f"{_KIND_LABELS.get(side.kind, side.kind)}です）。")
    if main.has_main:
        return f"{main.name}は別の施術所の従たる施術所のため、主たる施術所にはなれません。{_ONE_PAIR}"
    if subordinate.has_subordinates:
        return (f"{subordinate.name}は別の施術所の主たる施術所のため、従たる施術所にはなれません。"
                f"{_ONE_PAIR}")
    return None


def kind_change_refusal(side: AnnexSide) -> str | None:
    """A facility in a 併設 stays a 施術所 until the 併設 is dissolved."""
    if side.kind not in SEJUTSU_KINDS and (side.has_main or side.has_subordinates):
        return (f"{side.name}は併設の施術所です。種別を施術所以外にするには、先に併設申告を"
                "解除してください。")
    return None


def annex_side(facility: Facility) -> AnnexSide:
    """The facility's 併設 facts from the database (its kind as the instance holds it)."""
    return AnnexSide(
        name=facility.name, kind=facility.kind, has_main=facility.main_facility_id is not None,
        has_subordinates=bool(facility.pk) and Facility.objects.filter(
            main_facility_id=facility.pk).exclude(pk=facility.pk).exists())


def check_main_facility(*, facility: Facility, main: Facility | None) -> None:
    """Raises ServiceError when `main` may not be `facility`'s 主たる施術所."""
    if main is None:
        return
    refusal = annex_refusal(subordinate=annex_side(facility), main=annex_side(main),
                            same=facility.pk is not None and facility.pk == main.pk)
    if refusal:
        raise ServiceError(refusal, "main_facility")


def set_main_facility(*, facility: Facility, main: Facility | None,
                      fields: tuple[str, ...] = (), changed: set[int] | None = None) -> Facility:
    """The one writer of `facility.main_facility` (None ends a 併設). Both rows are locked
    (in id order, as the pairing locks them) and the rules checked on them as they are now;
    `fields` names other attributes set on the instance, saved with it in one history row.
    A new facility (no pk yet) is created with its main. Its results and its former and new
    main's follow after commit; a caller writing many (the import) passes `changed`, a set
    the ids are added to, and marks them all at once."""
    with transaction.atomic():
        ids = sorted({pk for pk in (facility.pk, main.pk if main else None) if pk})
        locked = {row.pk: row for row in
                  Facility.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        if facility.pk is not None and facility.pk not in locked:
            raise ServiceError("施設が施設マスタにありません（削除されました）。")
        former = locked[facility.pk].main_facility_id if facility.pk else None
        if main is not None:
            main = locked.get(main.pk)
            if main is None:
                raise ServiceError("主たる施術所が施設マスタにありません。", "main_facility")
        facility.main_facility_id = former  # the rules read what is stored, not the instance
        check_main_facility(facility=facility, main=main)
        facility.main_facility = main
        if facility.pk is None:
            facility.save()
        else:
            facility.save(update_fields=[*fields, "main_facility", "updated_at"])
        touched = {pk for pk in (facility.pk, former, main.pk if main else None) if pk}
        if changed is None:
            facts_changed(touched)
        else:
            changed |= touched
    return facility

"""Every change of the obligation app (docs/domain.md §7): declarations, 併設 pairings, survey answers
and session requests. Views and the admin call these; nothing else writes the models."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from eligibility.rules.base import Reason
from facilities.activity import record_activity
from facilities.fact_changes import facts_changed
from facilities.models import Facility
from facilities.selectors import facility_emails
from facilities.services import check_main_facility, set_main_facility
from portal.errors import ServiceError
from portal.notifications import notify
from portal.receipts import format_receipt_number
from portal.workflow import perform

from .models import (
    LIVE_DECLARATION_STATES,
    LIVE_PAIRING_STATES,
    AnnexPairing,
    DeclaredPractitioner,
    ExemptionDeclaration,
    PairingState,
    SessionRequest,
    SurveyAnswer,
)
from .parameters import exemption_params, no_version
from .rules import (
    ExemptionFacts,
    ExemptionReason,
    ExemptionResult,
    Practitioner,
    determine_exemption,
)

NOT_SEJUTSU = "この申告は施術所のみが行えます。"


# ---------------------------------------------------------------- exemption declaration


@dataclass(frozen=True)
class DeclarationInput:
    reason: str
    contact_name: str
    phone: str = ""
    planned_date: date | None = None
    practitioners: tuple[Practitioner, ...] = ()


class DeclarationRefused(ServiceError):
    """The declaration does not satisfy the rule: `result` says which criteria failed."""

    def __init__(self, result: ExemptionResult):
        super().__init__("申告の内容が、やむを得ない事由に当たりません。"
                         + " ".join(result.refusals))
        self.result = result


def judge(facility: Facility, data: DeclarationInput, *, on: date | None = None) -> ExemptionResult:
    """The rule applied to what was typed (the form shows it on its confirmation page), under
    the obligation's parameters in force on the declaration's day (today); where no version
    covers it, a refusal that says so."""
    on = on or timezone.localdate()
    params = exemption_params(on)
    if params is None:
        return ExemptionResult(False, (Reason(False, no_version(on)),))
    practitioners = data.practitioners if data.reason in ExemptionReason.WITH_PRACTITIONERS else ()
    planned = data.planned_date if data.reason not in ExemptionReason.WITH_PRACTITIONERS else None
    return determine_exemption(params, ExemptionFacts(
        kind=facility.kind, reason=data.reason, practitioners=practitioners,
        planned_date=planned))


def check_can_declare(facility: Facility) -> None:
    if not facility.is_sejutsu:
        raise ServiceError(NOT_SEJUTSU)
    if ExemptionDeclaration.objects.filter(facility=facility,
                                           state__in=LIVE_DECLARATION_STATES).exists():
        raise ServiceError("確認待ちまたは受理済みの申告があります。内容を変えるときは、"
                           "先にその申告を取り下げてください。")


def declare_exemption(*, user, facility: Facility, data: DeclarationInput,
                      token: uuid.UUID) -> ExemptionDeclaration:
    """Submit once (a repeated token returns the first); refused with the rule's reasons
    when the declaration does not satisfy it, and then nothing is stored."""
    existing = ExemptionDeclaration.objects.filter(submission_token=token).first()
    if existing is not None:
        if existing.facility_id != facility.pk:
            raise ServiceError("この申告は受け付けられません。画面を開き直してください。")
        return existing
    check_can_declare(facility)
    result = judge(facility, data)
    if not result.accepted:
        raise DeclarationRefused(result)
    try:
        with transaction.atomic():
            declaration = ExemptionDeclaration.objects.create(
                facility=facility, reason=data.reason, contact_name=data.contact_name,
                phone=data.phone,
                planned_date=(None if data.reason in ExemptionReason.WITH_PRACTITIONERS
                              else data.planned_date),
                determination="\n".join(result.reason_texts), submitted_by=user,
                submission_token=token)
            if data.reason in ExemptionReason.WITH_PRACTITIONERS:
                DeclaredPractitioner.objects.bulk_create([
                    DeclaredPractitioner(declaration=declaration, name=p.name,
                                         birth_date=p.birth_date, full_time=p.full_time,
                                         visually_impaired=p.visually_impaired)
                    for p in data.practitioners])
            declaration.receipt_number = format_receipt_number(
                "E", declaration.submitted_at, declaration.pk)
            ExemptionDeclaration.objects.filter(pk=declaration.pk).update(
                receipt_number=declaration.receipt_number)
            record_activity(
                facility=facility, actor=user, verb="exemption_declared",
                summary=f"やむを得ない事由の申告（事由{declaration.reason}）を受け付けました。",
                target=declaration, receipt_number=declaration.receipt_number,
                to_state=declaration.state)
            notify(to=facility_emails(facility), name="exemption_declared",
                   context={"facility": facility, "declaration": declaration,
                            "result": result})
            facts_changed([facility.pk])
    except IntegrityError:
        existing = ExemptionDeclaration.objects.filter(submission_token=token).first()
        if existing is not None:
            return existing
        raise ServiceError("確認待ちまたは受理済みの申告があります。") from None
    return declaration


def _after_declaration(declaration: ExemptionDeclaration):
    def effect(moved):
        facts_changed([moved.facility_id])
    return effect


def accept_declaration(*, declaration: ExemptionDeclaration, actor) -> ExemptionDeclaration:
    return perform(declaration, "accept", actor=actor, decided_at=timezone.now(),
                   summary=f"やむを得ない事由の申告（事由{declaration.reason}）を受理しました。",
                   effect=_after_declaration(declaration))


def return_declaration(*, declaration: ExemptionDeclaration, actor,
                       reason: str) -> ExemptionDeclaration:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("差戻しの理由を入力してください。", "reason")
    return perform(declaration, "send_back", actor=actor, reason=reason,
                   decided_at=timezone.now(),
                   summary=f"やむを得ない事由の申告を差し戻しました。理由: {reason}",
                   effect=_after_declaration(declaration))


def withdraw_declaration(*, declaration: ExemptionDeclaration, actor) -> ExemptionDeclaration:
    return perform(declaration, "withdraw", actor=actor,
                   summary="やむを得ない事由の申告を取り下げました。",
                   effect=_after_declaration(declaration))


# ---------------------------------------------------------------- 併設 pairing


def _lock(*facilities: Facility) -> None:
    """Lock both facility rows, always in the same order (no deadlock between two
    proposals made from either side at once)."""
    ids = sorted({f.pk for f in facilities})
    list(Facility.objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def _check_pair(main: Facility, subordinate: Facility) -> None:
    if main.pk == subordinate.pk:
        raise ServiceError("同じ施術所どうしは併設にできません。", "partner_code")
    if not (main.is_sejutsu and subordinate.is_sejutsu):
        raise ServiceError("併設申告は施術所どうしでのみ行えます。", "partner_code")
    live = AnnexPairing.objects.filter(state__in=LIVE_PAIRING_STATES)
    if live.filter(subordinate=subordinate).exists():
        raise ServiceError(f"{subordinate.name}には、すでに確認待ちまたは成立した併設申告が"
                           "あります。")
    if live.filter(subordinate=main).exists():
        raise ServiceError(f"{main.name}は別の施術所の従たる施術所です。主たる施術所には"
                           "なれません。")
    if live.filter(main=subordinate).exists():
        raise ServiceError(f"{subordinate.name}は別の施術所の主たる施術所です。従たる施術所"
                           "にはなれません。")
    # As the facilities stand (a 併設 may also come from the facility-master import).
    stored = Facility.objects.select_related("main_facility").get(pk=subordinate.pk)
    if stored.main_facility_id not in (None, main.pk):
        raise ServiceError(f"{subordinate.name}の主たる施術所は、すでに"
                           f"{stored.main_facility.name}です。")
    check_main_facility(facility=stored, main=Facility.objects.get(pk=main.pk))


def propose_annex(*, user, facility: Facility, partner: Facility,
                  facility_is_main: bool) -> AnnexPairing:
    """`facility` (the proposer's own) pairs with `partner`; the partner's staff confirm."""
    main, subordinate = (facility, partner) if facility_is_main else (partner, facility)
    try:
        with transaction.atomic():
            _lock(main, subordinate)
            _check_pair(main, subordinate)
            pairing = AnnexPairing.objects.create(
                main=main, subordinate=subordinate, proposed_by_facility=facility,
                proposed_by=user)
            summary = (f"併設申告をしました（主たる施術所: {main.name}、従たる施術所: "
                       f"{subordinate.name}）。相手の施術所の確認を待っています。")
            for side in (main, subordinate):
                record_activity(facility=side, actor=user, verb="annex_proposed",
                                summary=summary, target=pairing,
                                to_state=PairingState.PROPOSED)
            notify(to=[*facility_emails(main), *facility_emails(subordinate)],
                   name="annex_state_changed",
                   context={"pairing": pairing, "summary": summary, "detail": summary})
    except IntegrityError:
        raise ServiceError(f"{subordinate.name}には、すでに確認待ちまたは成立した併設申告が"
                           "あります。") from None
    return pairing


def annex_after_move(pairing: AnnexPairing, *, move, actor, summary: str) -> None:
    """Both sides' history and staff e-mail (the kernel calls this for every move)."""
    for side in (pairing.main, pairing.subordinate):
        record_activity(facility=side, actor=actor, verb=f"annex_{move.target}",
                        summary=summary, target=pairing, from_state=move.source,
                        to_state=move.target, visible_to_facility=move.visible_to_facility)
    if move.email:
        notify(to=[*facility_emails(pairing.main), *facility_emails(pairing.subordinate)],
               name=move.email,
               context={"pairing": pairing, "summary": summary, "detail": summary})


def _set_main(pairing: AnnexPairing, main: Facility | None) -> None:
    """Through the facilities' one writer of the relation: the same rules (施術所 only, no
    chains) checked on the facilities as they are, whoever set them (the master import too);
    it saves with history and marks both sides' results to follow."""
    set_main_facility(facility=Facility.objects.get(pk=pairing.subordinate_id), main=main)


def confirm_annex(*, pairing: AnnexPairing, actor) -> AnnexPairing:
    def effect(moved: AnnexPairing) -> str:
        _lock(moved.main, moved.subordinate)
        live = AnnexPairing.objects.filter(state=PairingState.ACTIVE).exclude(pk=moved.pk)
        if live.filter(subordinate=moved.main).exists() or live.filter(
                main=moved.subordinate).exists():
            raise ServiceError("どちらかの施術所が、別の併設申告ですでに主たる・従たる施術所に"
                               "なっています（併設は一組ずつです）。")
        _set_main(moved, moved.main)
        return (f"併設申告が成立しました（主たる施術所: {moved.main.name}、従たる施術所: "
                f"{moved.subordinate.name}）。")
    return perform(pairing, "confirm", actor=actor, answered_at=timezone.now(), effect=effect)


def decline_annex(*, pairing: AnnexPairing, actor) -> AnnexPairing:
    return perform(pairing, "decline", actor=actor, answered_at=timezone.now(),
                   summary=f"{pairing.main.name}と{pairing.subordinate.name}の併設申告は"
                           "辞退されました。")


def withdraw_annex(*, pairing: AnnexPairing, actor) -> AnnexPairing:
    return perform(pairing, "withdraw", actor=actor, ended_at=timezone.now(),
                   summary=f"{pairing.main.name}と{pairing.subordinate.name}の併設申告を"
                           "取り下げました。")


def dissolve_annex(*, pairing: AnnexPairing, actor, reason: str = "") -> AnnexPairing:
    reason = (reason or "").strip()

    def effect(moved: AnnexPairing) -> str:
        _lock(moved.main, moved.subordinate)
        _set_main(moved, None)
        text = f"{moved.main.name}と{moved.subordinate.name}の併設を解除しました。"
        return text + (f"理由: {reason}" if reason else "")
    return perform(pairing, "dissolve", actor=actor, ended_at=timezone.now(), reason=reason,
                   effect=effect)


# ---------------------------------------------------------------- survey answers


def match_survey_facility(registration_code: str) -> Facility | None:
    from facilities.services import normalize_facility_code

    code = normalize_facility_code(registration_code or "")
    return Facility.objects.filter(code=code).first() if code else None


def save_survey_answer(*, answer: SurveyAnswer, actor) -> SurveyAnswer:
    """An administrator's entry (new or corrected): matched by 登録記号番号 when not matched
    by hand; the matched 施術所's status follows."""
    with transaction.atomic():
        previous = (SurveyAnswer.objects.filter(pk=answer.pk).values_list("facility_id", flat=True)
                    .first() if answer.pk else None)
        if answer.facility_id is None:
            answer.facility = match_survey_facility(answer.registration_code)
        if answer.entered_by_id is None:
            answer.entered_by = actor
        answer.save()
        changed = {i for i in (previous, answer.facility_id) if i}
        if changed:
            facts_changed(sorted(changed))
    return answer


# ---------------------------------------------------------------- explanation sessions


def request_session(*, data: dict, token: uuid.UUID) -> SessionRequest:
    """The association's application (no account needed); a repeated token returns the
    first request."""
    existing = SessionRequest.objects.filter(submission_token=token).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            session = SessionRequest.objects.create(submission_token=token, **data)
            session.receipt_number = format_receipt_number("W", session.requested_at, session.pk)
            SessionRequest.objects.filter(pk=session.pk).update(
                receipt_number=session.receipt_number)
            notify(to=[session.email], name="session_requested", context={"session": session})
    except IntegrityError:
        existing = SessionRequest.objects.filter(submission_token=token).first()
        if existing is None:
            raise
        return existing
    return session


def session_after_move(session: SessionRequest, *, move, actor, summary: str) -> None:
    if move.email:
        notify(to=[session.email], name=move.email,
               context={"session": session, "summary": summary})


def schedule_session(*, session: SessionRequest, actor, start: datetime, end: datetime,
                     meeting_info: str) -> SessionRequest:
    if end <= start:
        raise ServiceError("終了日時は開始日時より後にしてください。", "end")
    return perform(session, "schedule", actor=actor, start=start, end=end,
                   meeting_info=(meeting_info or "").strip(),
                   summary=f"説明会の日程を決めました（{timezone.localtime(start):%Y-%m-%d %H:%M}〜）。")


def mark_session_held(*, session: SessionRequest, actor) -> SessionRequest:
    return perform(session, "mark_held", actor=actor, summary="説明会を実施しました。")


def cancel_session(*, session: SessionRequest, actor, reason: str) -> SessionRequest:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("取消の理由を入力してください。", "reason")
    return perform(session, "cancel", actor=actor, reason=reason,
                   summary=f"説明会の申込を取り消しました。理由: {reason}")

"""Writes for subsidy claims: drafts, items, receipts, submission, review. Every move goes
through the transition table, is recorded in the facility's history and e-mailed."""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from eligibility.models import Program
from facilities.activity import record_activity
from facilities.models import Facility
from portal.errors import ServiceError
from portal.receipts import format_receipt_number
from portal.workflow import perform, refusal

from . import selectors
from .documents import (
    DocumentError,
    files_kept_only_on_commit,
    remove_after_commit,
    store_upload,
)
from .models import Claim, ClaimItem, ClaimState, Document


def start_claim(*, user, facility: Facility, program: Program) -> Claim:
    offer = next((o for o in selectors.offers_for(facility) if o.program.pk == program.pk), None)
    if offer is None or not offer.offered:
        raise ServiceError(offer.reason if offer else "この補助は申請できません。")
    try:
        with transaction.atomic():
            claim = Claim.objects.create(
                facility=facility, program=program, created_by=user,
                readers=1 if selectors.takes_readers(program) else None,
            )
    except IntegrityError:
        raise ServiceError("この補助はすでに申請しています。") from None
    record_activity(facility=facility, actor=user, verb="claim_draft",
                    summary=f"{program.name}の申請を作成しました（下書き）。", target=claim)
    return claim


def _editable(claim: Claim) -> None:
    if not claim.is_editable:
        raise ServiceError("提出済みの申請は変更できません。")


def _locked(claim: Claim) -> Claim:
    """The claim's row, locked until the transaction ends (call inside an atomic block)."""
    return Claim.objects.select_for_update().select_related("program", "facility").get(
        pk=claim.pk)


def _locked_editable(claim: Claim) -> Claim:
    """The locked row, checked editable on that row: a change and a submission of the same
    claim never overlap."""
    locked = _locked(claim)
    _editable(locked)
    return locked


@dataclass(frozen=True)
class ItemInput:
    description: str
    quantity: int
    unit_price: int
    tax: int
    vendor: str
    purchase_date: date


def save_item(*, claim: Claim, data: ItemInput, item: ClaimItem | None = None) -> ClaimItem:
    if data.purchase_date > timezone.localdate():
        raise ServiceError("購入日に未来の日付は入力できません。", "purchase_date")
    with transaction.atomic():
        claim = _locked_editable(claim)
        if item is not None and item.claim_id != claim.pk:
            raise ServiceError("この申請の明細ではありません。")
        item = item or ClaimItem(claim=claim)
        for field, value in data.__dict__.items():
            setattr(item, field, value)
        item.return_note = ""
        item.save()
    return item


def _check_quota(claim: Claim, uploads: list, replaced: list[Document]) -> None:
    """At most CLAIM_MAX_FILES files and CLAIM_MAX_BYTES bytes per claim (the replaced files
    not counted); call with the claim locked."""
    kept = claim.documents.exclude(pk__in=[d.pk for d in replaced])
    usage = kept.aggregate(files=Count("pk"), size=Sum("size"))
    files = (usage["files"] or 0) + len(uploads)
    size = (usage["size"] or 0) + sum(upload.size or 0 for upload in uploads)
    max_files, max_bytes = settings.CLAIM_MAX_FILES, settings.CLAIM_MAX_BYTES
    if files > max_files or size > max_bytes:
        raise ServiceError(
            f"1件の申請に添付できるファイルは合計{max_files}件・{max_bytes // (1024 * 1024)}MB"
            f"までです（添付済み {usage['files'] or 0}件・"
            f"{(usage['size'] or 0) / 1024 / 1024:.1f}MB）。"
            "不要な明細を削除するか、ファイルをまとめてから添付してください。", "file")


def _store(*, claim: Claim, item: ClaimItem | None, kind: str, upload, user,
           stored_names: list[str]) -> Document:
    try:
        stored = store_upload(upload)
    except DocumentError as error:
        raise ServiceError(error.message, "file") from error
    stored_names.append(stored.stored_name)
    return Document.objects.create(
        claim=claim, item=item, kind=kind, stored_name=stored.stored_name,
        original_name=(upload.name or "")[:200], content_type=stored.content_type,
        size=stored.size, sha256=stored.sha256, uploaded_by=user,
    )


def save_item_with_documents(
    *, claim: Claim, data: ItemInput, uploads: dict[str, object], user,
    item: ClaimItem | None = None,
) -> ClaimItem:
    """An item and its files (kind → upload; None entries skipped), saved together or not at
    all: a refused file leaves the claim as it was (no file left behind) and names its field.
    A new receipt replaces the item's earlier one (its row now, its file after the commit)."""
    uploads = {kind: upload for kind, upload in uploads.items() if upload is not None}
    with files_kept_only_on_commit() as stored_names, transaction.atomic():
        claim = _locked_editable(claim)
        item = save_item(claim=claim, data=data, item=item)
        replaced = []
        if Document.Kind.RECEIPT in uploads:
            replaced = list(item.documents.filter(kind=Document.Kind.RECEIPT))
        if uploads:
            try:
                _check_quota(claim, list(uploads.values()), replaced)
            except ServiceError as error:
                raise ServiceError(error.message, next(iter(uploads))) from error
        for kind, upload in uploads.items():
            try:
                _store(claim=claim, item=item, kind=kind, upload=upload, user=user,
                       stored_names=stored_names)
            except ServiceError as error:
                raise ServiceError(error.message, kind) from error
        if replaced:
            Document.objects.filter(pk__in=[d.pk for d in replaced]).delete()
            remove_after_commit(d.stored_name for d in replaced)
    return item


def delete_item(*, claim: Claim, item: ClaimItem) -> None:
    """The item, its documents' rows and (after the commit) their files."""
    with transaction.atomic():
        claim = _locked_editable(claim)
        item = claim.items.filter(pk=item.pk).first()
        if item is None:
            return
        names = list(item.documents.values_list("stored_name", flat=True))
        item.delete()
        remove_after_commit(names)


def set_readers(*, claim: Claim, readers: int) -> Claim:
    """The reader count, within what the facility may claim (usage bands, readers received)."""
    with transaction.atomic():
        claim = _locked_editable(claim)
        claim.readers = readers
        allowed = selectors.compute(claim).details.get("readers_allowed", 0)
        if not 1 <= readers <= allowed:
            raise ServiceError(f"申請できる台数は{allowed}台までです。", "readers")
        claim.save(update_fields=["readers"])
    return claim


def attach_document(*, claim: Claim, item: ClaimItem | None, kind: str, upload, user) -> Document:
    with files_kept_only_on_commit() as stored_names, transaction.atomic():
        claim = _locked_editable(claim)
        _check_quota(claim, [upload], [])
        return _store(claim=claim, item=item, kind=kind, upload=upload, user=user,
                      stored_names=stored_names)


def submit_claim(*, claim: Claim, user) -> Claim:
    """Draft → submitted, or returned → resubmitted; the amount is fixed by the rule now.
    The items are checked and the move made under one lock of the claim's row, so no item
    can be added between the check and the move."""
    with transaction.atomic():
        claim = _locked(claim)
        name = "resubmit" if claim.state == ClaimState.RETURNED else "submit"
        problem = refusal(claim, name, user)
        if problem is not None:
            raise problem
        if not claim.items.exists():
            raise ServiceError("明細を1件以上入力してください。")
        missing = list(claim.items.exclude(documents__kind=Document.Kind.RECEIPT)
                       .values_list("description", flat=True))
        if missing:
            raise ServiceError(f"領収書が添付されていない明細があります: {'、'.join(missing)}")
        result = selectors.compute(claim)
        if not result.eligible:
            raise ServiceError("補助の要件を満たしていません: " + " / ".join(result.reason_texts))
        resubmit = name == "resubmit"
        now = timezone.now()
        receipt_number = claim.receipt_number or format_receipt_number("S", now, claim.pk)
        return perform(
            claim, name, actor=user,
            summary=f"{claim.program.name}の申請を{'再' if resubmit else ''}提出しました"
            f"（算定額 {result.amount:,}円）。",
            computed_amount=result.amount, calculation=result.details.get("calculation", ""),
            submitted_at=now, receipt_number=receipt_number,
        )


def start_review(*, claim: Claim, actor) -> Claim:
    return perform(claim, "start_review", actor=actor, summary="審査を開始しました。")


def return_claim(*, claim: Claim, actor, reason: str, item_notes: dict[int, str]) -> Claim:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("差戻しの理由を入力してください。", "reason")
    with transaction.atomic():
        claim = perform(claim, "send_back", actor=actor, reason=reason,
                        summary=f"修正をお願いしました: {reason}")
        for item in claim.items.all():
            note = (item_notes.get(item.pk) or "").strip()
            if note:
                ClaimItem.objects.filter(pk=item.pk).update(return_note=note)
    return claim


def approve_claim(*, claim: Claim, actor, amount: int | None = None, reason: str = "") -> Claim:
    computed = claim.computed_amount or 0
    amount = computed if amount is None else amount
    reason = (reason or "").strip()
    if not 0 < amount <= computed:
        raise ServiceError(f"交付決定額は1円以上、算定額 {computed:,}円 以下です。", "amount")
    if amount < computed and not reason:
        raise ServiceError("算定額より減額する場合は理由を入力してください。", "reason")
    return perform(claim, "approve", actor=actor, amount=amount, reason=reason,
                   summary=f"交付を決定しました: {amount:,}円"
                   + (f"（減額の理由: {reason}）" if reason else ""))


def reject_claim(*, claim: Claim, actor, reason: str) -> Claim:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("不交付の理由を入力してください。", "reason")
    return perform(claim, "reject", actor=actor, reason=reason,
                   summary=f"不交付としました: {reason}")


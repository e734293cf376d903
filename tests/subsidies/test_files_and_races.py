"""Defects of the outside review on claims and receipts: items added while a claim was being
submitted, files left behind (refused forms, replaced receipts, deleted items), no quota,
world-readable files, and files that only begin like a PDF/JPEG/PNG."""

import io
import stat
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from eligibility.models import Program
from portal.errors import ServiceError
from subsidies import services
from subsidies.models import Claim, ClaimItem, ClaimState, Document
from tests.concurrency import run_in_parallel
from tests.factories import FacilityFactory, make_staff
from tests.samples import JPEG, PDF, PNG

ITEM = {"description": "タブレット端末", "quantity": "1", "unit_price": "42000", "tax": "4200",
        "vendor": "家電店", "purchase_date": "2024-11-01"}


def _item_input(cost=1000, description="端末"):
    return services.ItemInput(description, 1, cost, 0, "店", date(2024, 11, 1))


def _claim(facility=None):
    facility = facility or FacilityFactory(kind="judo")
    user = make_staff(facility)
    claim = services.start_claim(user=user, facility=facility,
                                 program=Program.objects.get(code="device-sejutsu"))
    return claim, user


def _upload(content=PDF, name="r.pdf"):
    return SimpleUploadedFile(name, content)


def _files_on_disk(settings) -> set[str]:
    root = settings.PRIVATE_STORAGE_ROOT / "claims"
    return {path.name for path in root.iterdir()} if root.exists() else set()


def _save(claim, user, item=None, **uploads):
    return services.save_item_with_documents(
        claim=claim, data=_item_input(), uploads=uploads, user=user, item=item)


# ---------------------------------------------------------------- content (10a)


def _svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize("content", [
    b"%PDF-1.7\n<html><script>alert(document.cookie)</script></html>\n",
    b"%PDF-1.4\n" + _svg(),
    b"\x89PNG\r\n\x1a\n" + _svg(),
    b"\xff\xd8\xff\xe0<html><body onload=alert(1)></body></html>",
    PDF[:200],  # a truncated PDF: no page can be read
    PNG[:40],  # a truncated PNG
])
@pytest.mark.django_db
def test_files_that_only_begin_like_a_receipt_are_refused(content, settings):
    claim, user = _claim()
    with pytest.raises(ServiceError, match="開けませんでした"):
        _save(claim, user, receipt=_upload(content))
    assert not ClaimItem.objects.exists() and not Document.objects.exists()
    assert _files_on_disk(settings) == set()


@pytest.mark.django_db
def test_an_image_whose_format_differs_from_its_first_bytes_is_refused():
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    claim, user = _claim()
    with pytest.raises(ServiceError, match="開けませんでした"):
        _save(claim, user, receipt=_upload(b"\x89PNG\r\n\x1a\n" + gif.getvalue()))


@pytest.mark.parametrize("content, content_type", [
    (PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg")])
@pytest.mark.django_db
def test_real_pdf_png_and_jpeg_files_are_accepted(content, content_type):
    claim, user = _claim()
    item = _save(claim, user, receipt=_upload(content, "scan.bin"))
    assert item.documents.get().content_type == content_type


# ---------------------------------------------------------------- permissions (9)


@pytest.mark.django_db
def test_files_are_readable_by_the_portal_only(settings):
    claim, user = _claim()
    _save(claim, user, receipt=_upload())
    root = settings.PRIVATE_STORAGE_ROOT / "claims"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    stored = root / Document.objects.get().stored_name
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


# ---------------------------------------------------------------- files left behind (9)


@pytest.mark.django_db
def test_a_refused_second_file_leaves_no_file_behind(settings):
    claim, user = _claim()
    with pytest.raises(ServiceError) as refused:
        _save(claim, user, receipt=_upload(), invoice=_upload(b"MZ\x90\x00 not a pdf"))
    assert refused.value.field == Document.Kind.INVOICE
    assert not Document.objects.exists() and not ClaimItem.objects.exists()
    assert _files_on_disk(settings) == set()


@pytest.mark.django_db
def test_a_failure_after_the_first_file_was_stored_leaves_no_file_behind(settings,
                                                                          monkeypatch):
    claim, user = _claim()
    real_store = services.store_upload
    calls = []

    def store_then_fail(upload):
        calls.append(upload)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        return real_store(upload)

    monkeypatch.setattr(services, "store_upload", store_then_fail)
    with pytest.raises(RuntimeError):
        _save(claim, user, receipt=_upload(), invoice=_upload())
    assert len(calls) == 2
    assert not Document.objects.exists()
    assert _files_on_disk(settings) == set()


@pytest.mark.django_db
def test_a_refused_form_through_http_leaves_no_file_behind(client, settings):
    facility = FacilityFactory(kind="judo")
    claim, user = _claim(facility)
    client.force_login(user)
    response = client.post(reverse("subsidies:claim", args=[facility.pk, claim.pk]), {
        **ITEM, "receipt": _upload(), "invoice": _upload(b"<html></html>", "i.pdf")})
    assert response.status_code == 200
    assert _files_on_disk(settings) == set()


@pytest.mark.django_db
def test_a_new_receipt_replaces_the_old_one_and_its_file(settings,
                                                         django_capture_on_commit_callbacks):
    claim, user = _claim()
    item = _save(claim, user, receipt=_upload(), invoice=_upload(PNG, "i.png"))
    old = item.documents.get(kind=Document.Kind.RECEIPT)
    invoice = item.documents.get(kind=Document.Kind.INVOICE)
    with django_capture_on_commit_callbacks(execute=True):
        _save(claim, user, item=item, receipt=_upload(JPEG, "new.jpg"))
    receipts = list(item.documents.filter(kind=Document.Kind.RECEIPT))
    assert [r.content_type for r in receipts] == ["image/jpeg"]
    assert not Document.objects.filter(pk=old.pk).exists()
    assert _files_on_disk(settings) == {receipts[0].stored_name, invoice.stored_name}


@pytest.mark.django_db
def test_a_deleted_item_takes_its_files_with_it(settings, django_capture_on_commit_callbacks):
    claim, user = _claim()
    kept = _save(claim, user, receipt=_upload())
    gone = _save(claim, user, receipt=_upload(), invoice=_upload(PNG, "i.png"))
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_item(claim=claim, item=gone)
    assert not Document.objects.filter(item_id=gone.pk).exists()
    assert _files_on_disk(settings) == {kept.documents.get().stored_name}


# ---------------------------------------------------------------- quota (9)


@pytest.mark.django_db
def test_a_claim_holds_at_most_the_files_the_quota_allows(settings):
    settings.CLAIM_MAX_FILES = 3
    claim, user = _claim()
    _save(claim, user, receipt=_upload(), invoice=_upload())
    item = _save(claim, user, receipt=_upload())
    with pytest.raises(ServiceError, match="合計3件") as refused:
        _save(claim, user, receipt=_upload(), invoice=_upload())
    assert refused.value.field == Document.Kind.RECEIPT
    # Replacing a receipt does not add a file.
    _save(claim, user, item=item, receipt=_upload(PNG, "again.png"))
    assert Document.objects.filter(claim=claim).count() == 3
    assert len(_files_on_disk(settings)) <= 4  # the replaced file goes after the commit


@pytest.mark.django_db
def test_a_claim_holds_at_most_the_bytes_the_quota_allows(settings):
    settings.CLAIM_MAX_BYTES = len(PDF) * 2 + 10
    claim, user = _claim()
    _save(claim, user, receipt=_upload(), invoice=_upload())
    with pytest.raises(ServiceError, match="MBまでです"):
        _save(claim, user, receipt=_upload())
    with pytest.raises(ServiceError, match="MBまでです"):
        services.attach_document(claim=claim, item=None, kind=Document.Kind.INVOICE,
                                 upload=_upload(), user=user)


# ---------------------------------------------------------------- submitted claims (7)


@pytest.mark.django_db
def test_a_stale_copy_of_a_submitted_claim_cannot_take_items_or_files():
    claim, user = _claim()
    _save(claim, user, receipt=_upload())
    stale = Claim.objects.get(pk=claim.pk)
    services.submit_claim(claim=claim, user=user)
    assert stale.state == ClaimState.DRAFT
    item = stale.items.get()
    for change in (
        lambda: _save(stale, user, receipt=_upload()),
        lambda: services.save_item(claim=stale, data=_item_input(5000), item=item),
        lambda: services.attach_document(claim=stale, item=item, kind="invoice",
                                         upload=_upload(), user=user),
        lambda: services.delete_item(claim=stale, item=item),
    ):
        with pytest.raises(ServiceError, match="提出済み"):
            change()
    assert ClaimItem.objects.filter(claim=claim).count() == 1
    assert Document.objects.filter(claim=claim).count() == 1
    assert ClaimItem.objects.get().unit_price == 1000


def _race_items_against_the_submission(facility, settings) -> None:
    claim, user = _claim(facility)
    _save(claim, user, receipt=_upload())
    stale = Claim.objects.get(pk=claim.pk)  # every request read the claim before the submit
    saves = [
        lambda n=n: services.save_item_with_documents(
            claim=stale, data=_item_input(1000 + n, f"端末{n}"), user=user,
            uploads={"receipt": _upload()})
        for n in range(1, 7)
    ]
    outcomes = run_in_parallel([*saves, lambda: services.submit_claim(claim=stale, user=user)])
    submitted = outcomes[-1]
    assert isinstance(submitted, Claim) and submitted.state == ClaimState.SUBMITTED, outcomes
    for outcome in outcomes[:-1]:
        assert isinstance(outcome, ClaimItem | ServiceError), outcomes
    claim = Claim.objects.get(pk=claim.pk)
    items = list(claim.items.all())
    # The amount fixed at submission counts every item there is: none came after it.
    assert claim.computed_amount == sum(item.total for item in items)
    saved = {o.pk for o in outcomes[:-1] if isinstance(o, ClaimItem)}
    assert {item.pk for item in items} == saved | {items[0].pk}
    # Every refused save left no file behind.
    assert _files_on_disk(settings) == set(Document.objects.values_list("stored_name",
                                                                         flat=True))


@pytest.mark.django_db(transaction=True)
def test_no_item_is_saved_after_the_submission_that_races_it(postgres, migration_data,
                                                               settings):
    # A race is won or lost by timing: several rounds, each on a claim of its own.
    for _round in range(4):
        _race_items_against_the_submission(FacilityFactory(kind="judo"), settings)

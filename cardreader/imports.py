"""The insured-person registry as CSV (columns: cardreader/README.md), read by the import
kernel (portal/imports.py): lines parsed and checked one by one, compared with the registry a
chunk at a time, errors by line. `import_registry` runs a file as a dry run, or for real in
one transaction that is rolled back when any line is refused: nothing is saved from a file
with an error.

The cell checks below are also the admin form's (cardreader/admin.py), so a row typed by
hand obeys the same rules as an imported one. No value is ever echoed in an error message
(they are personal), and no cell may hold a 12-digit number (docs/domain.md §8: a 個人番号 has 12
digits and the portal never stores one)."""

import logging
import os
import re
import secrets
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jaconv
from cryptography import x509
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.errors import NotPermitted, ServiceError
from portal.imports import (
    Classified,
    ImportFailed,
    ImportKind,
    ImportRefused,
    ImportResult,
    Line,
    LineError,
    run_import,
)
from portal.normalize import digits, nfkc
from portal.wareki import DateParseError, parse_date

from .models import SERIAL_MAX_DIGITS, CopayRatio, InsuredPerson

logger = logging.getLogger("cardreader")

TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
KANA = re.compile(r"^[ァ-ヺー・ヽヾ]+( [ァ-ヺー・ヽヾ]+)*$")
EARLIEST = date(1900, 1, 1)
LATEST = date(2099, 12, 31)
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
IMPORT_PERMISSION = "cardreader.import_insuredperson"


# ---------------------------------------------------------------- one cell each (ValueError)


def _no_twelve_digits(text: str) -> str:
    """Refuses 12 digits in a row, also when written in groups (1234 5678 9012, 1234-5678-9012)."""
    if TWELVE_DIGITS.search(text) or TWELVE_DIGITS.search(digits(text)):
        raise ValueError("12桁の数字は個人番号と区別できないため登録できません（個人番号は扱いません）。")
    return text


def _printable(text: str, what: str, max_length: int, *, required: bool = True) -> str:
    if required and not text:
        raise ValueError(f"{what}が空欄です。")
    if len(text) > max_length:
        raise ValueError(f"{what}は{max_length}文字以内で入力してください。")
    if not text.isprintable():
        raise ValueError(f"{what}に使用できない文字（改行・制御文字など）が含まれています。")
    return _no_twelve_digits(text)


def clean_issuer(value: str) -> str:
    """The issuer's DN as RFC 4514 text (as `openssl x509 -noout -issuer -nameopt RFC2253`
    prints it, e.g. CN=…,O=…,C=JP), in the form the certificate's own gives."""
    text = (value or "").strip()
    if not text:
        raise ValueError("発行者（issuer）が空欄です。")
    if len(text) > 500 or not text.isprintable():
        raise ValueError("発行者（issuer）はRFC 4514形式（例: CN=…,O=…,C=JP）で500文字以内で入力してください。")
    try:
        name = x509.Name.from_rfc4514_string(text)
    except ValueError:
        raise ValueError("発行者（issuer）をRFC 4514形式として読み取れませんでした"
                         "（例: CN=…,O=…,C=JP。コンマの後に空白を入れず、属性名は大文字で）。") from None
    canonical = name.rfc4514_string()
    if not canonical or len(canonical) > 500:
        raise ValueError("発行者（issuer）が空か長すぎます。")
    return _no_twelve_digits(canonical)


def clean_serial(value: str) -> str:
    text = nfkc(value).replace(",", "")
    if not text:
        raise ValueError("シリアル番号（serial）が空欄です。")
    if not (text.isascii() and text.isdigit()):
        raise ValueError("シリアル番号（serial）は10進の数字で入力してください（16進は10進に直してください）。")
    text = text.lstrip("0")
    if not text:
        raise ValueError("シリアル番号（serial）は1以上の数です。")
    if len(text) > SERIAL_MAX_DIGITS:
        raise ValueError(f"シリアル番号（serial）は{SERIAL_MAX_DIGITS}桁以内です。")
    return _no_twelve_digits(text)


def clean_insurer_number(value: str) -> str:
    text = nfkc(value)
    if not (len(text) == 8 and text.isascii() and text.isdigit()):
        raise ValueError("保険者番号は数字8桁で入力してください（Excelで先頭の0が消えていないかご確認ください）。")
    return text


def clean_branch(value: str) -> str:
    text = nfkc(value)
    if len(text) == 1 and text.isascii() and text.isdigit():
        text = "0" + text  # Excel drops the leading zero of 01
    if not (len(text) == 2 and text.isascii() and text.isdigit()):
        raise ValueError("枝番は数字2桁で入力してください（例: 00、01）。")
    return text


def clean_symbol(value: str) -> str:
    return _printable(nfkc(value), "記号", 20, required=False)


def clean_number(value: str) -> str:
    return _printable(nfkc(value), "番号", 20)


def clean_name(value: str) -> str:
    return _printable(" ".join((value or "").split()), "氏名", 100)


def clean_name_kana(value: str) -> str:
    text = " ".join(jaconv.hira2kata(nfkc(value)).split())
    _printable(text, "氏名（カナ）", 100)
    if not KANA.match(text):
        raise ValueError("氏名（カナ）はカタカナで入力してください（姓と名の間は空白1つ）。")
    return text


def clean_copay_ratio(value: str | int) -> int:
    text = nfkc(str(value)).replace("%", "").replace("％", "")
    if text.endswith("割"):
        text = text[:-1] + "0" if text[:-1].isdigit() else text
    if text not in ("10", "20", "30"):
        raise ValueError("一部負担金の割合は 10・20・30（%）または 1割・2割・3割 で入力してください。")
    return CopayRatio(int(text)).value


def clean_date(value: str, what: str, *, latest: date = LATEST) -> date:
    try:
        parsed = parse_date(value)
    except DateParseError as error:
        raise ValueError(f"{what}: {error}") from None
    if not EARLIEST <= parsed <= latest:
        raise ValueError(f"{what}は{EARLIEST.isoformat()}から{latest.isoformat()}までの日付で入力してください。")
    return parsed


def check_dates(*, birth_date: date | None, valid_from: date | None, valid_to: date | None,
                lost_on: date | None) -> None:
    """The dates of one row together (the database's constraints, said in Japanese)."""
    if valid_from and valid_to and valid_to < valid_from:
        raise ValueError("資格の有効終了日が有効開始日より前です。")
    if valid_from and lost_on and lost_on < valid_from:
        raise ValueError("資格喪失日が資格の有効開始日より前です。")
    if birth_date and valid_from and valid_from < birth_date:
        raise ValueError("資格の有効開始日が生年月日より前です。")


# ---------------------------------------------------------------- the import kind

# column → (required, explanation, the model field)
COLUMNS = (
    ("issuer", True, "証明書の発行者（RFC 4514形式。例: CN=…,O=…,C=JP）"),
    ("serial", True, "証明書のシリアル番号（10進）"),
    ("insurer_number", True, "保険者番号（数字8桁）"),
    ("symbol", True, "記号（空欄可）"),
    ("number", True, "番号"),
    ("branch", True, "枝番（数字2桁）"),
    ("name", True, "氏名"),
    ("name_kana", True, "氏名（カナ）"),
    ("birth_date", True, "生年月日（例: 1980-04-01 または 昭和55年4月1日）"),
    ("copay_ratio", True, "一部負担金の割合（10・20・30 または 1割・2割・3割）"),
    ("valid_from", True, "資格の有効開始日"),
    ("valid_to", False, "資格の有効終了日（空欄は終了日なし）"),
    ("lost_on", False, "資格喪失日（空欄は喪失していない）"),
)
_OPTIONAL_DATES = ("valid_to", "lost_on")
_TEXT_CLEANERS = {
    "insurer_number": clean_insurer_number, "symbol": clean_symbol, "number": clean_number,
    "branch": clean_branch, "name": clean_name, "name_kana": clean_name_kana,
    "copay_ratio": clean_copay_ratio,
}
_LABELS = {"birth_date": "生年月日", "valid_from": "資格の有効開始日",
           "valid_to": "資格の有効終了日", "lost_on": "資格喪失日"}
_FIELDS = [name for name, _, _ in COLUMNS if name not in ("issuer", "serial")]


def _line_error(column: str, error: ValueError) -> LineError:
    return LineError(f"{column}: {error}")


class InsuredPersonImport(ImportKind):
    name = "insured_persons"
    label = "被保険者台帳"
    model = InsuredPerson
    import_permission = IMPORT_PERMISSION
    export_permission = ""  # the registry is never exported from the portal
    columns = COLUMNS

    def parse(self, values: dict[str, str], present: frozenset[str]) -> tuple[Hashable, Any]:
        row: dict[str, Any] = {}
        for column, cleaner in (("issuer", clean_issuer), ("serial", clean_serial)):
            try:
                row[column] = cleaner(values[column])
            except ValueError as error:
                raise _line_error(column, error) from None
        for column, cleaner in _TEXT_CLEANERS.items():
            try:
                row[column] = cleaner(values[column])
            except ValueError as error:
                raise _line_error(column, error) from None
        for column in ("birth_date", "valid_from", *_OPTIONAL_DATES):
            if column not in present:
                continue
            text = values[column].strip()
            if not text and column in _OPTIONAL_DATES:
                row[column] = None
                continue
            try:
                latest = timezone.localdate() if column == "birth_date" else LATEST
                row[column] = clean_date(text, _LABELS[column], latest=latest)
            except ValueError as error:
                raise _line_error(column, error) from None
        try:
            check_dates(birth_date=row["birth_date"], valid_from=row["valid_from"],
                        valid_to=row.get("valid_to"), lost_on=row.get("lost_on"))
        except ValueError as error:
            raise LineError(str(error)) from None
        return (row.pop("issuer"), row.pop("serial")), row

    def classify(self, lines: list[Line], present: frozenset[str], state: dict) -> Classified:
        result = Classified()
        existing = {
            (issuer, serial): dict(zip(_FIELDS, values, strict=True))
            for issuer, serial, *values in InsuredPerson.objects.filter(
                serial__in={line.key[1] for line in lines},
                issuer__in={line.key[0] for line in lines},
            ).values_list("issuer", "serial", *_FIELDS)
        }
        compared = [name for name in _FIELDS if name in present]
        for line in lines:
            current = existing.get(line.key)
            # An optional column the file lacks keeps the registry's value: the row's dates
            # are checked together with it.
            merged = {**(current or {}), **line.row}
            try:
                check_dates(birth_date=merged["birth_date"], valid_from=merged["valid_from"],
                            valid_to=merged.get("valid_to"), lost_on=merged.get("lost_on"))
            except ValueError as error:
                result.errors.append((line.number, f"{error}（登録済みの値と合わせて確認しました）"))
                continue
            if current is None:
                result.new.append(line)
            elif any(current[name] != line.row[name] for name in compared):
                result.changed.append(line)
            else:
                result.unchanged += 1
        return result

    def write(self, classified: Classified, present: frozenset[str],
              state: dict) -> list[tuple[int, str]]:
        lines = classified.new + classified.changed
        if lines:
            InsuredPerson.objects.bulk_create(
                [InsuredPerson(issuer=line.key[0], serial=line.key[1], **line.row)
                 for line in lines],
                batch_size=1000, update_conflicts=True, unique_fields=["issuer", "serial"],
                update_fields=[name for name in _FIELDS if name in present] + ["updated_at"])
        return []


INSURED_PERSONS = InsuredPersonImport()


# ---------------------------------------------------------------- running a file


@dataclass(frozen=True)
class RegistryImport:
    result: ImportResult
    dry_run: bool
    saved: bool  # False for a dry run and for a file with any error


def _store(upload) -> Path:
    """The upload kept privately for the run (0600 in a 0700 directory), removed after."""
    root = Path(settings.PRIVATE_STORAGE_ROOT) / "cardreader-imports"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = root / f"{secrets.token_hex(16)}.csv"
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    size = 0
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise ServiceError(f"ファイルが大きすぎます。{MAX_UPLOAD_BYTES // 1024 // 1024}MB以下に"
                                       "分けてお送りください。", "file")
                handle.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def import_registry(*, actor, upload, dry_run: bool) -> RegistryImport:
    """Check (dry run) or import a registry CSV. An import writes every line or, when any
    line is refused, nothing (one transaction, rolled back)."""
    if not (actor.is_active and actor.has_perm(IMPORT_PERMISSION)):
        raise NotPermitted("被保険者台帳を取り込む権限がありません。")
    if not upload or not upload.size:
        raise ServiceError("ファイルが空です（0バイト）。", "file")
    if upload.size > MAX_UPLOAD_BYTES:
        raise ServiceError(f"ファイルが大きすぎます。{MAX_UPLOAD_BYTES // 1024 // 1024}MB以下に"
                           "分けてお送りください。", "file")
    path = _store(upload)
    try:
        if dry_run:
            result = run_import(path, INSURED_PERSONS, dry_run=True)
            saved = False
        else:
            with transaction.atomic():
                result = run_import(path, INSURED_PERSONS, dry_run=False)
                saved = result.error_lines == 0
                if not saved:
                    transaction.set_rollback(True)
    except (ImportRefused, ImportFailed) as refused:
        raise ServiceError(refused.message, "file") from None
    finally:
        path.unlink(missing_ok=True)
    logger.info("registry import by user %s: dry_run=%s lines=%s new=%s updated=%s "
                "errors=%s saved=%s", actor.pk, dry_run, result.lines, result.new,
                result.updated, result.error_lines, saved)
    return RegistryImport(result, dry_run, saved)

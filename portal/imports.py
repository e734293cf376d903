"""The streaming CSV import kernel used by every administrators' import (facility master,
monthly statistics).

One pass over the file with bounded memory, whatever its size: the encoding is found first
(strict UTF-8, with or without BOM, else cp932 — Excel's Shift_JIS), then `csv.DictReader`
reads line by line; the header must hold every required column (a missing one refuses the
whole file, never a default); a cell holding a control character (NUL, which PostgreSQL
cannot store, a line break, a tab…) refuses its line before anything reads it; each line is
parsed by its kind's `parse` (a row, or a `LineError` in Japanese); lines are compared with
the database and written a chunk at a time (`ImportKind.classify` / `ImportKind.write`, one
query or bulk upsert per chunk). A dry run classifies without writing. Only the first
`MAX_ERRORS` errors are kept, with their line numbers (the file's own line numbers: the
header is line 1, as Excel shows it). Anything else that fails stops the run as
`ImportFailed`, which names the chunk's lines and what was kept (the chunks before it).

The kinds themselves live with their models (`facilities/imports.py`,
`eligibility/imports.py`); `KINDS` names them for the `ImportJob` that runs them.
"""

import codecs
import csv
import unicodedata
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import DatabaseError, transaction
from django.utils.module_loading import import_string

from .csv_export import FORMULA_STARTS, csv_lines
from .jobs import storable
from .normalize import nfkc

CHUNK_LINES = 2000
MAX_ERRORS = 100
_READ_BYTES = 1024 * 1024

# ImportJob.kind → the kind object (imported lazily: portal depends on no domain app).
KINDS = {
    "facility_master": "facilities.imports.FACILITY_MASTER",
    "monthly_statistics": "eligibility.imports.MONTHLY_STATISTICS",
}


def import_kind(name: str) -> "ImportKind":
    return import_string(KINDS[name])


class ImportRefused(Exception):
    """The whole file is refused (encoding, header, not a CSV): nothing is written."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ImportFailed(Exception):
    """Something unexpected (not a refusal of the file or of a line) stopped the run in the
    chunk of lines `first`–`last`; `message` says so in Japanese, and what was kept."""

    def __init__(self, *, first: int, last: int, dry_run: bool, error: Exception):
        where = f"{first}行目" if first == last else f"{first}行目から{last}行目まで"
        cause = ("データベースに保存できない値が含まれている可能性があります。"
                 if isinstance(error, DatabaseError) else "")
        if dry_run:
            kept = "何も取り込んでいません。"
        elif first > 2:
            kept = (f"{first - 1}行目までは取り込み済みで、{where}とそれより後の行は取り込んでいません"
                    "（直したファイルをもう一度取り込んでも、取り込み済みの行が二重になることはありません）。")
        else:
            kept = "何も取り込んでいません。"
        message = (f"{where}を{'確認して' if dry_run else '取り込んで'}いる途中で予期しないエラーが"
                   f"発生したため、中止しました。{cause}{kept}該当する行をご確認のうえ、続くときは"
                   "システム管理者にお問い合わせください。")
        super().__init__(message)
        self.message = message


class LineError(ValueError):
    """One line is refused; the others go on. `message` is Japanese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Line:
    number: int
    key: Hashable
    row: Any


@dataclass
class Classified:
    """What a chunk would do: lines to create, lines to change, how many are unchanged, and
    the lines refused against the database (an unknown facility, say)."""

    new: list[Line] = field(default_factory=list)
    changed: list[Line] = field(default_factory=list)
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


class ImportKind:
    """One kind of CSV import. Subclasses give the columns and the three steps."""

    name: str = ""
    label: str = ""
    model = None
    import_permission: str = ""
    export_permission: str = ""
    # (column, required, explanation shown on the upload page)
    columns: tuple[tuple[str, bool, str], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [name for name, _, _ in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [name for name, required, _ in self.columns if required]

    def parse(self, values: dict[str, str], present: frozenset[str]) -> tuple[Hashable, Any]:
        """One line's cells (only the columns known to the kind) → (key, row), or LineError.
        `present` says which columns the file has: an absent optional column is left as it
        is in the database, never filled with a default."""
        raise NotImplementedError

    def classify(self, lines: list[Line], present: frozenset[str], state: dict) -> Classified:
        """Compare one chunk with the database (one query or so). `state` lives for the run,
        for what a kind must remember between chunks (kept small)."""
        raise NotImplementedError

    def write(self, classified: Classified, present: frozenset[str],
              state: dict) -> list[tuple[int, str]]:
        """Write the new and changed lines of one chunk (inside its transaction); returns the
        lines refused while writing."""
        raise NotImplementedError

    def export_rows(self, queryset) -> Iterator[list[str]]:
        raise NotImplementedError

    def finish(self, state: dict) -> None:
        """After the last chunk of an import (not a dry run): e.g. queue the work that
        follows from what was written, once for the whole file."""

    # Kinds whose import changes money (statistics → 一時金) tell the administrator the
    # effect before the import is confirmed (`preview_effects`, docs/decisions.md D5.4.5).
    previews_effects: bool = False

    def before_write(self, classified: Classified, state: dict) -> None:
        """In `preview_effects`, before a chunk is written: note what it will change."""

    def effects(self, state: dict) -> list[dict]:
        """In `preview_effects`, after the whole file is written (then rolled back)."""
        return []


@dataclass
class ImportResult:
    lines: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error_lines: int = 0
    errors: list[dict] = field(default_factory=list)

    def add_error(self, line: int, message: str) -> None:
        self.error_lines += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": line, "message": storable(message)})

    def as_dict(self) -> dict:
        return {"lines": self.lines, "new": self.new, "updated": self.updated,
                "unchanged": self.unchanged, "error_lines": self.error_lines,
                "errors": self.errors}


def detect_encoding(path: Path) -> tuple[str, int]:
    """'utf-8-sig' or 'cp932' (and the number of lines, for progress), read in blocks.
    Strict UTF-8 over the whole file first: cp932 bytes almost never decode as UTF-8, while
    UTF-8 text often decodes as (wrong) cp932."""
    for encoding in ("utf-8-sig", "cp932"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        newlines = 0
        try:
            with open(path, "rb") as handle:
                while block := handle.read(_READ_BYTES):
                    decoder.decode(block)
                    newlines += block.count(b"\n")
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding, newlines
    raise ImportRefused(
        "ファイルの文字コードを読み取れませんでした。CSVファイルを UTF-8 または Shift_JIS"
        "（Excelの「CSV（コンマ区切り）」）で保存し直して、もう一度お送りください。")


def _control_character(text: str) -> str | None:
    """The first control character in `text`, named in Japanese (None: there is none).
    NUL cannot be stored by PostgreSQL at all; no other control character (line breaks and
    tabs inside a cell included) belongs in any value of a master or a statistic."""
    for character in text:
        if unicodedata.category(character) == "Cc":
            return {"\x00": "NUL（0x00）", "\n": "改行", "\r": "改行（CR）",
                    "\t": "タブ"}.get(character, f"制御文字（U+{ord(character):04X}）")
    return None


def _refuse_control_characters(cells: dict[str, str]) -> None:
    for name, value in cells.items():
        found = _control_character(value)
        if found:
            raise LineError(f"{name}: 使用できない文字「{found}」が含まれています。"
                            "制御文字を取り除いてから、もう一度お送りください。")


def _header(reader: csv.DictReader, kind: ImportKind) -> frozenset[str]:
    try:
        raw = reader.fieldnames
    except csv.Error as error:
        raise ImportRefused(f"1行目（見出し）をCSVとして読み取れませんでした（{error}）。") from error
    if not raw:
        raise ImportRefused("ファイルが空です。1行目に列名の見出しを書いてください。")
    found = next(filter(None, (_control_character(name or "") for name in raw)), None)
    if found:
        raise ImportRefused(f"1行目（見出し）に使用できない文字「{found}」が含まれています。"
                            "ファイル全体を取り込んでいません。")
    names = [nfkc(name).lower() for name in raw]
    reader.fieldnames = names
    duplicated = sorted({name for name in names if name and names.count(name) > 1})
    if duplicated:
        raise ImportRefused(f"見出しに同じ列名が2回以上あります: {'、'.join(duplicated)}。")
    missing = [name for name in kind.required_columns if name not in names]
    if missing:
        listed = "、".join(f"「{name}」" for name in missing)
        raise ImportRefused(
            f"必須の列{listed}がありません。ファイル全体を取り込んでいません。1行目の見出しに"
            f"{listed}の列を加えてから、もう一度お送りください。"
            f"（見出しの例: {','.join(kind.column_names)}）")
    return frozenset(name for name in kind.column_names if name in names)


def _cell(value: str | None) -> str:
    """A cell as typed; a quote our own export put before a formula-like value is removed."""
    value = value or ""
    if value.startswith("'") and value[1:2] and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def _chunks(reader: csv.DictReader, kind: ImportKind, present: frozenset[str],
            result: ImportResult) -> Iterator[tuple[list[Line], list[tuple[int, str]]]]:
    """(parsed lines, refused lines) a chunk at a time; a chunk holds at most CHUNK_LINES of
    both together, so that a file of nothing but errors is bounded too."""
    chunk: list[Line] = []
    refused: list[tuple[int, str]] = []
    keys: dict[Hashable, int] = {}
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise ImportRefused(
                f"{reader.line_num}行目をCSVとして読み取れませんでした（{error}）。"
                "ファイル全体を取り込んでいません。") from error
        number = reader.line_num
        result.lines += 1
        try:
            if values.get(None):
                raise LineError("見出しより列の数が多い行です。値の中のコンマ（,）をご確認ください。")
            cells = {name: _cell(values.get(name)) for name in present}
            _refuse_control_characters(cells)
            key, row = kind.parse(cells, present)
            if key in keys:
                raise LineError(f"{keys[key]}行目と同じ対象の行です。1行にまとめてください。")
        except LineError as error:
            refused.append((number, error.message))
        else:
            keys[key] = number
            chunk.append(Line(number, key, row))
        if len(chunk) + len(refused) >= CHUNK_LINES:
            yield chunk, refused
            chunk, refused, keys = [], [], {}
    if chunk or refused:
        yield chunk, refused


def run_import(path: Path, kind: ImportKind, *, dry_run: bool,
               progress: Callable[[int], None] | None = None) -> ImportResult:
    """Read the file and (unless `dry_run`) write it. Each chunk is its own transaction, so
    that the progress is visible and a long import holds no lock for its whole length; the
    writes are upserts, so running the same file again is harmless. A line repeated in a
    later chunk is counted against the database (within a chunk it is an error)."""
    encoding, _ = detect_encoding(path)
    result = ImportResult()
    state: dict = {}
    with open(path, encoding=encoding, newline="") as handle:
        reader = csv.DictReader(handle)
        present = _header(reader, kind)
        chunks = _chunks(reader, kind, present, result)
        while True:
            first = reader.line_num + 1  # the chunk's first line (the header is line 1)
            try:
                chunk, refused = next(chunks, (None, None))
                if chunk is None:
                    break
                with transaction.atomic():
                    classified = kind.classify(chunk, present, state)
                    problems = list(classified.errors)
                    if not dry_run:
                        problems += kind.write(classified, present, state)
            except (ImportRefused, ImportFailed):
                raise
            except Exception as error:
                raise ImportFailed(first=first, last=max(first, reader.line_num),
                                   dry_run=dry_run, error=error) from error
            failed = {number for number, _ in problems}
            for number, message in sorted(refused + problems):
                result.add_error(number, message)
            result.new += sum(1 for line in classified.new if line.number not in failed)
            result.updated += sum(1 for line in classified.changed if line.number not in failed)
            result.unchanged += classified.unchanged
            if progress is not None:
                progress(result.lines)
    if not dry_run:
        kind.finish(state)
    return result


class _RolledBack(Exception):
    pass


def preview_effects(path: Path, kind: ImportKind) -> list[dict]:
    """What the import would change beyond its own rows (money, per program), computed by
    writing the whole file in one transaction that is rolled back: the kind notes what each
    chunk touches before it is written (`before_write`) and sums the effect at the end
    (`effects`). Lines refused by the dry run are refused here too, the same way."""
    encoding, _ = detect_encoding(path)
    state: dict = {}
    found: list[dict] = []
    try:
        with transaction.atomic(), open(path, encoding=encoding, newline="") as handle:
            reader = csv.DictReader(handle)
            present = _header(reader, kind)
            for chunk, _refused in _chunks(reader, kind, present, ImportResult()):
                with transaction.atomic():
                    classified = kind.classify(chunk, present, state)
                    kind.before_write(classified, state)
                    kind.write(classified, present, state)
            found = kind.effects(state)
            raise _RolledBack
    except _RolledBack:
        pass
    return found


def export_csv(kind: ImportKind, queryset) -> Iterator[str]:
    """The CSV an import of the same kind reads back (portal/csv_export.py's form)."""
    return csv_lines(kind.column_names, kind.export_rows(queryset))

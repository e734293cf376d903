"""Monthly statistics as CSV (facility code, year-month, receipts, card users, usage count),
read by the import kernel (portal/imports.py). Every column is required and no count is ever
assumed: a blank cell refuses its line. Written by one bulk upsert per chunk.

docs/decisions.md D8.1: an imported month is the official figure for that month. The import
writes the official counts and `imported_at` only; the counter's counts of the same month
are kept as they are (never overwritten nor deleted), shown beside the official ones."""

from collections.abc import Hashable, Iterator
from datetime import date
from typing import Any

from django.utils import timezone

from facilities.models import Facility
from portal.imports import Classified, ImportKind, Line, LineError
from portal.normalize import nfkc

from .models import MonthlyStatistic
from .services import queue_redetermination, request_redetermination

COUNTS = (("receipts", "レセプト件数"), ("card_users", "マイナ保険証利用人数"),
          ("usage_count", "利用件数"))


def _ascii_digits(text: str) -> bool:
    """0-9 only: str.isdigit() also says yes to digits of other scripts that NFKC leaves as
    they are, some of which int() cannot read (፩): one such cell stopped a whole import."""
    return text.isascii() and text.isdigit()


def parse_year_month(value: str) -> date:
    text = nfkc(value).replace("/", "-")
    parts = text.split("-")
    if len(parts) < 2 or not _ascii_digits(parts[0]) or not _ascii_digits(parts[1]):
        raise LineError(f"year_month: 年月「{value}」は YYYY-MM の形で入力してください。")
    year, month = int(parts[0]), int(parts[1])
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise LineError(f"year_month: 年月「{value}」は実在する年月ではありません。")
    return date(year, month, 1)


def parse_count(value: str, column: str, label: str) -> int:
    text = nfkc(value).replace(",", "")
    if not text:
        raise LineError(f"{column}（{label}）が空欄です。0件のときも 0 と入力してください。")
    if not _ascii_digits(text):
        raise LineError(f"{column}: {label}「{value}」は0以上の整数で入力してください。")
    number = int(text)
    if number > 2_147_483_647:
        raise LineError(f"{column}: {label}「{value}」が大きすぎます。")
    return number


class MonthlyStatisticsImport(ImportKind):
    name = "monthly_statistics"
    label = "月次統計"
    model = MonthlyStatistic
    import_permission = "eligibility.import_monthlystatistic"
    export_permission = "eligibility.view_monthlystatistic"
    columns = (
        ("facility_code", True, "医療機関等コードまたは登録記号番号（施設マスタにあること）"),
        ("year_month", True, "年月（例: 2024-05 または 2024/5）"),
        ("receipts", True, "レセプト件数（0以上の整数）"),
        ("card_users", True, "マイナ保険証利用人数（0以上の整数）"),
        ("usage_count", True, "利用件数（0以上の整数）"),
    )

    def parse(self, values: dict[str, str], present: frozenset[str]) -> tuple[Hashable, Any]:
        code = nfkc(values["facility_code"])
        if not code:
            raise LineError("facility_code（施設コード）が空欄です。")
        if not values["year_month"].strip():
            raise LineError("year_month（年月）が空欄です。")
        month = parse_year_month(values["year_month"])
        counts = tuple(parse_count(values[column], column, label) for column, label in COUNTS)
        return (code, month), counts

    def classify(self, lines: list[Line], present: frozenset[str], state: dict) -> Classified:
        result = Classified()
        ids = dict(Facility.objects.filter(code__in={line.key[0] for line in lines})
                   .values_list("code", "id"))
        months = {line.key[1] for line in lines}
        existing = {
            (facility_id, month): counts
            for facility_id, month, imported_at, *counts in MonthlyStatistic.objects.filter(
                facility_id__in=ids.values(), month__in=months,
            ).values_list("facility_id", "month", "imported_at",
                          *(column for column, _ in COUNTS))
            if imported_at is not None  # a month only the counter counted: new to the import
        }
        for line in lines:
            code, month = line.key
            facility_id = ids.get(code)
            if facility_id is None:
                result.errors.append(
                    (line.number, f"facility_code: 施設コード「{code}」は施設マスタにありません。"))
                continue
            line.row = (facility_id, month, line.row)
            current = existing.get((facility_id, month))
            if current is None:
                result.new.append(line)
            elif tuple(current) != line.row[2]:
                result.changed.append(line)
            else:
                result.unchanged += 1
        return result

    def write(self, classified: Classified, present: frozenset[str],
              state: dict) -> list[tuple[int, str]]:
        now = timezone.now()
        rows = [
            MonthlyStatistic(facility_id=facility_id, month=month, receipts=counts[0],
                             card_users=counts[1], usage_count=counts[2], imported_at=now)
            for facility_id, month, counts in (line.row for line in
                                               classified.new + classified.changed)
        ]
        if rows:
            MonthlyStatistic.objects.bulk_create(
                rows, batch_size=2000, update_conflicts=True,
                unique_fields=["facility", "month"],
                update_fields=[*(column for column, _ in COUNTS), "imported_at"])
            # The facilities touched are determined again once the whole file is in.
            request_redetermination({row.facility_id for row in rows}, enqueue=False)
            state["touched"] = True
        return []

    def finish(self, state: dict) -> None:
        if state.get("touched"):
            queue_redetermination()

    previews_effects = True

    def before_write(self, classified: Classified, state: dict) -> None:
        from .import_effects import ResultChanges

        changes = state.setdefault("effects", ResultChanges())
        changes.see(facility_id for facility_id, _month, _counts in
                    (line.row for line in classified.new + classified.changed))

    def effects(self, state: dict) -> list[dict]:
        changes = state.get("effects")
        return changes.summary() if changes is not None else []

    def export_rows(self, queryset) -> Iterator[list[str]]:
        # The official figures only: a month only the counter counted is not exported as
        # zeros (imported again, they would become official).
        rows = queryset.filter(imported_at__isnull=False).order_by(
            "facility__code", "month").values_list(
            "facility__code", "month", *(column for column, _ in COUNTS))
        for code, month, *counts in rows.iterator(chunk_size=5000):
            yield [code, month.strftime("%Y-%m"), *counts]


MONTHLY_STATISTICS = MonthlyStatisticsImport()

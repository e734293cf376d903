"""一時金2024 for medical institutions and pharmacies (DOMAIN §5.2, seed 002)."""

from dataclasses import dataclass
from fractions import Fraction
from functools import cache

from .base import Determination, Reason, yen

TABLE_LABELS = {"hospital": "病院", "clinic": "診療所・薬局", "small": "小規模施設"}
KIND_TABLE = {"hospital": "hospital", "clinic": "clinic", "dental": "clinic",
              "pharmacy": "clinic"}


@dataclass(frozen=True)
class Table:
    columns: tuple[int, ...]  # increase thresholds (users or more), ascending
    ladder: tuple[int, ...]  # V: yen; cell (r, c) holds V[min(r + c, last)]

    def column(self, increase: int) -> int | None:
        index = None
        for position, threshold in enumerate(self.columns):
            if increase >= threshold:
                index = position
        return index

    def cell(self, row: int, column: int) -> int:
        return self.ladder[min(row + column, len(self.ladder) - 1)]

    @property
    def maximum(self) -> int:
        return max(self.ladder)


@dataclass(frozen=True)
class LumpSumParams:
    baseline_month: str  # "2023-10"
    evaluation_months: tuple[str, ...]  # "2024-05" … "2024-08"
    rate_bounds: tuple[Fraction, ...]  # lower bounds of rows r1…r6 (r0 below the first)
    tables: dict[str, Table]  # hospital, clinic, small
    small_max_receipts: int  # ≤ this many October receipts is a 小規模施設
    small_rows: int  # the small table covers rows r0 … r(small_rows-1) fully
    small_partial_row_columns: int  # and row r(small_rows) for its first N columns only
    notice: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "LumpSumParams":
        tables = {
            name: Table(columns=tuple(int(c) for c in spec["columns"]),
                        ladder=tuple(int(v) for v in spec["ladder"]))
            for name, spec in data["tables"].items()
        }
        for name in ("hospital", "clinic", "small"):
            table = tables[name]
            if list(table.columns) != sorted(table.columns) or not table.columns:
                raise ValueError(f"tables.{name}.columns must be ascending")
            if len(table.ladder) != len(table.columns):
                raise ValueError(f"tables.{name}: ladder and columns differ in length")
        bounds = tuple(Fraction(b) for b in data["rate_bounds"])
        if list(bounds) != sorted(bounds):
            raise ValueError("rate_bounds must be ascending")
        return cls(
            baseline_month=str(data["baseline_month"]),
            evaluation_months=tuple(str(m) for m in data["evaluation_months"]),
            rate_bounds=bounds,
            tables=tables,
            small_max_receipts=int(data["small_max_receipts"]),
            small_rows=int(data["small_rows"]),
            small_partial_row_columns=int(data["small_partial_row_columns"]),
            notice=str(data.get("notice", "")),
        )

    def to_dict(self) -> dict:
        return {
            "baseline_month": self.baseline_month,
            "evaluation_months": list(self.evaluation_months),
            "rate_bounds": [f"{b.numerator}/{b.denominator}" for b in self.rate_bounds],
            "tables": {n: {"columns": list(t.columns), "ladder": list(t.ladder)}
                       for n, t in self.tables.items()},
            "small_max_receipts": self.small_max_receipts,
            "small_rows": self.small_rows,
            "small_partial_row_columns": self.small_partial_row_columns,
            "notice": self.notice,
        }


# The real parameters (seed 002): May–July 2024, extended by one month to August.
DEFAULT_LUMP_SUM_2024 = {
    "baseline_month": "2023-10",
    "evaluation_months": ["2024-05", "2024-06", "2024-07", "2024-08"],
    "rate_bounds": ["3/100", "5/100", "10/100", "20/100", "30/100", "40/100"],
    "tables": {
        "hospital": {
            "columns": [10, 40, 80, 150, 250, 350, 450, 540, 720, 900],
            "ladder": [0, 0, 0, 100000, 120000, 150000, 200000, 300000, 350000, 400000],
        },
        "clinic": {
            "columns": [1, 10, 20, 30, 50, 70, 80, 100, 160, 240],
            "ladder": [0, 0, 0, 30000, 50000, 70000, 100000, 150000, 170000, 200000],
        },
        "small": {
            "columns": [1, 5, 10, 15, 25, 35, 40],
            "ladder": [0, 0, 10000, 15000, 25000, 35000, 50000],
        },
    },
    "small_max_receipts": 150,
    "small_rows": 2,
    "small_partial_row_columns": 2,
    "notice": "日薬業発（令和6年）医療機関・薬局におけるマイナ保険証利用促進のための支援について"
    "（集中取組月間の1か月延長を含む）",
}


@dataclass(frozen=True)
class LumpSumFacts:
    kind: str  # hospital | clinic | dental | pharmacy
    oct_receipts: int
    oct_users: int
    best_users: int
    poster: bool
    informed: bool


def rate_row(params: LumpSumParams, receipts: int, users: int) -> tuple[int, Fraction]:
    """The row of the October rate, compared exactly (29/1000 is 2.9% → r0); no receipts → r0."""
    rate = Fraction(users, receipts) if receipts > 0 else Fraction(0)
    row = sum(1 for bound in params.rate_bounds if rate >= bound)
    return row, rate


def _percent(rate: Fraction) -> str:
    tenths = rate * 1000  # one decimal place, rounded down: shown, never compared
    return f"{int(tenths) // 10}.{int(tenths) % 10}%"


@cache
def _bound_labels(bounds: tuple[Fraction, ...]) -> tuple[str, ...]:
    return tuple(_percent(b) for b in bounds)


def _row_label(params: LumpSumParams, row: int) -> str:
    bounds = _bound_labels(params.rate_bounds)
    if row == 0:
        return f"{bounds[0]}未満"
    if row == len(bounds):
        return f"{bounds[-1]}以上"
    return f"{bounds[row - 1]}以上{bounds[row]}未満"


def _table_amount(table: Table, row: int, increase: int) -> tuple[int, int | None]:
    column = table.column(increase)
    if column is None:
        return 0, None
    return table.cell(row, column), column


def determine_lump_sum(params: LumpSumParams, facts: LumpSumFacts) -> Determination:
    row, rate = rate_row(params, facts.oct_receipts, facts.oct_users)
    increase = facts.best_users - facts.oct_users
    small = facts.oct_receipts <= params.small_max_receipts
    base_table = KIND_TABLE.get(facts.kind)
    if base_table is None:
        return Determination(False, 0, (Reason(False, "一時金の対象となる施設の種別ではありません"),))

    table_name, amount, column = base_table, 0, None
    if increase > 0:
        amount, column = _table_amount(params.tables[base_table], row, increase)
        if small and base_table == "clinic":
            small_table = params.tables["small"]
            small_column = small_table.column(increase)
            defined = small_column is not None and (
                row < params.small_rows
                or (row == params.small_rows
                    and small_column < params.small_partial_row_columns)
            )
            if defined:
                small_amount = small_table.cell(row, small_column)
                if small_amount > amount:  # the higher of the two (Decision, DOMAIN §5.2)
                    table_name, amount, column = "small", small_amount, small_column

    label = TABLE_LABELS[table_name]
    reasons = [
        Reason(None, f"令和5年10月: レセプト {facts.oct_receipts:,}件、利用 {facts.oct_users:,}人"
                     f"（利用率 {_percent(rate)}、区分 {_row_label(params, row)}）"
                     + ("、小規模施設" if small and base_table == "clinic" else "")),
    ]
    grew = Reason(
        amount > 0,
        f"増加人数 {increase:+,}人 (基準: {_percent(rate)}, 表: {label}) → {yen(amount)}",
    )
    reasons.append(grew)
    reasons.append(Reason(facts.poster, "共通ポスターの掲示 " + ("確認済" if facts.poster else "未確認")))
    reasons.append(Reason(facts.informed, "声かけ・チラシの配付 " + ("確認済" if facts.informed else "未確認")))
    eligible = amount > 0 and facts.poster and facts.informed
    details = {
        "table": table_name,
        "table_label": label,
        "row": row,
        "row_label": _row_label(params, row),
        "column": column,
        "column_label": (f"{params.tables[table_name].columns[column]}人以上"
                         if column is not None else "対象外"),
        "rate": _percent(rate),
        "increase": increase,
        "table_amount": amount,
    }
    return Determination(eligible, amount if eligible else 0, tuple(reasons), details)

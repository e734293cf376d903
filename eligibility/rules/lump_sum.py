"""一時金2024 for medical institutions and pharmacies (docs/domain.md §5.2, notice seed 002).

The amount is a pure function of (parameters, facts). Every number lives in the parameters
(`DEFAULT_LUMP_SUM_2024` holds the notice's); only the shape of the rule is code:
- the October 2023 rate users ÷ receipts picks a row, compared exactly as a Fraction;
- the increase (best evaluation month − October users) picks a column;
- each table is a staircase: cell (r, c) = V[min(r + c, last)];
- a 小規模施設 (≤ 150 October receipts) gets max(small table where it defines the cell,
  診療所・薬局 table);
- the poster ② and informing patients ③ are required besides the increase.
"""

import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import cache
from typing import Any, NamedTuple

from portal.wareki import to_wareki_month, to_wareki_months

from .base import Determination, Reason, wareki, yen

TABLE_LABELS = {"hospital": "病院", "clinic": "診療所・薬局", "small": "小規模施設"}
# docs/decisions.md D5.2.2: 歯科診療所 use the 診療所・薬局 table.
KIND_TABLE = {"hospital": "hospital", "clinic": "clinic", "dental": "clinic",
              "pharmacy": "clinic"}
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class Table:
    """One of the notice's tables: increase thresholds and the ladder V (yen)."""

    columns: tuple[int, ...]  # "N人以上" thresholds of the increase, strictly ascending
    ladder: tuple[int, ...]  # V, one per column, non-decreasing

    def column(self, increase: int) -> int | None:
        """The last column whose threshold the increase reaches; None below the first."""
        index = bisect_right(self.columns, increase) - 1
        return index if index >= 0 else None

    def cell(self, row: int, column: int) -> int:
        return self.ladder[min(row + column, len(self.ladder) - 1)]

    @property
    def maximum(self) -> int:
        return self.ladder[-1]


@dataclass(frozen=True)
class LumpSumParams:
    baseline_month: str  # "2023-10"
    evaluation_months: tuple[str, ...]  # "2024-05" … "2024-08"
    rate_bounds: tuple[Fraction, ...]  # lower bounds (inclusive) of rows r1…r6; r0 below
    tables: dict[str, Table]  # "hospital", "clinic", "small"
    small_max_receipts: int  # October receipts ≤ this: 小規模施設
    small_rows: int  # the small table defines rows r0 … r(small_rows − 1) entirely
    small_partial_row_columns: int  # and row r(small_rows) for its first N columns only
    notice: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "LumpSumParams":
        """Build from the JSON-able dict kept in a parameter version; ValueError if malformed."""
        if not isinstance(data, dict):
            raise ValueError("parameters must be an object")
        tables_data = _require(data, "tables")
        if not isinstance(tables_data, dict):
            raise ValueError("tables must be an object")
        tables = {}
        for name in ("hospital", "clinic", "small"):
            spec = tables_data.get(name)
            if not isinstance(spec, dict):
                raise ValueError(f"tables.{name} is missing")
            tables[name] = _table(name, spec)
        bounds = _list(data, "rate_bounds")
        rate_bounds = tuple(_fraction(b, f"rate_bounds[{i}]") for i, b in enumerate(bounds))
        if not rate_bounds or rate_bounds[0] <= 0 or any(
            a >= b for a, b in zip(rate_bounds, rate_bounds[1:], strict=False)
        ):
            raise ValueError("rate_bounds must be positive and strictly ascending")
        months = tuple(_month(m, f"evaluation_months[{i}]")
                       for i, m in enumerate(_list(data, "evaluation_months")))
        if not months:
            raise ValueError("evaluation_months must not be empty")
        params = cls(
            baseline_month=_month(_require(data, "baseline_month"), "baseline_month"),
            evaluation_months=months,
            rate_bounds=rate_bounds,
            tables=tables,
            small_max_receipts=_natural(data, "small_max_receipts"),
            small_rows=_natural(data, "small_rows"),
            small_partial_row_columns=_natural(data, "small_partial_row_columns"),
            notice=str(data.get("notice", "")),
        )
        if params.small_rows > len(rate_bounds):
            raise ValueError("small_rows must not exceed the number of rows")
        if params.small_partial_row_columns > len(tables["small"].columns):
            raise ValueError("small_partial_row_columns exceeds the small table's columns")
        return params

    @property
    def baseline_label(self) -> str:
        """令和5年10月: the baseline month as pages and forms name it."""
        return to_wareki_month(_first_day(self.baseline_month))

    @property
    def evaluation_label(self) -> str:
        """令和6年5月〜8月: the evaluation months as pages and forms name them."""
        months = sorted(self.evaluation_months)
        return to_wareki_months(_first_day(months[0]), _first_day(months[-1]))

    def to_dict(self) -> dict:
        return {
            "baseline_month": self.baseline_month,
            "evaluation_months": list(self.evaluation_months),
            "rate_bounds": [_fraction_text(b) for b in self.rate_bounds],
            "tables": {name: {"columns": list(t.columns), "ladder": list(t.ladder)}
                       for name, t in self.tables.items()},
            "small_max_receipts": self.small_max_receipts,
            "small_rows": self.small_rows,
            "small_partial_row_columns": self.small_partial_row_columns,
            "notice": self.notice,
        }


def _first_day(month: str) -> date:
    year, number = month.split("-")
    return date(int(year), int(number), 1)


def _require(data: dict, name: str) -> Any:
    if name not in data:
        raise ValueError(f"{name} is missing")
    return data[name]


def _list(data: dict, name: str) -> list:
    value = _require(data, name)
    if not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be a list")
    return list(value)


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where} must be an integer (yen or people), not {value!r}")
    if value < 0:
        raise ValueError(f"{where} must not be negative")
    return value


def _natural(data: dict, name: str) -> int:
    return _integer(_require(data, name), name)


def _fraction(value: Any, where: str) -> Fraction:
    """"3/100" or an int; a float is refused: rates are exact (docs/architecture.md#layers)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f'{where} must be a fraction written as a string such as "3/100"')
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{where}: {value!r} is not a fraction") from None


def _fraction_text(value: Fraction) -> str:
    """Percent-style where it can be ("5/100", as the notice reads), else "n/d"."""
    if 100 % value.denominator == 0:
        return f"{value.numerator * (100 // value.denominator)}/100"
    return f"{value.numerator}/{value.denominator}"


def _month(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise ValueError(f"{where} must be a month YYYY-MM, not {value!r}")
    return value


def _table(name: str, spec: dict) -> Table:
    columns = tuple(_integer(c, f"tables.{name}.columns[{i}]")
                    for i, c in enumerate(_list(spec, "columns")))
    ladder = tuple(_integer(v, f"tables.{name}.ladder[{i}]")
                   for i, v in enumerate(_list(spec, "ladder")))
    if not columns or columns[0] < 1 or any(
        a >= b for a, b in zip(columns, columns[1:], strict=False)
    ):
        raise ValueError(f"tables.{name}.columns must be ≥ 1 and strictly ascending")
    if len(ladder) != len(columns):
        raise ValueError(f"tables.{name}: ladder and columns differ in length")
    if any(a > b for a, b in zip(ladder, ladder[1:], strict=False)):
        raise ValueError(f"tables.{name}.ladder must not decrease")
    return Table(columns=columns, ladder=ladder)


# The notice's parameters (seed 002: 厚生労働省 報道発表 2024-07-30, forwarded by 日本薬剤師会):
# baseline October 2023, evaluation May–July 2024 extended by one month to August.
# The notice's values (seed 002), written as version 1 by migration 0002 and used by tests;
# never read by the running code (no default from code, docs/domain.md §5.4).
DEFAULT_LUMP_SUM_2024: dict = {
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
    "small_rows": 2,  # r0 (< 3%) and r1 (3–5%)
    "small_partial_row_columns": 2,  # r2 (5–10%) for increases of 1–9 only
    "notice": "日薬業発（令和6年）医療機関・薬局におけるマイナ保険証利用促進のための支援について"
    "（集中取組月間の1か月延長を含む）",
}


@dataclass(frozen=True)
class LumpSumFacts:
    kind: str  # hospital | clinic | dental | pharmacy
    oct_receipts: int  # baseline month's レセプト件数
    oct_users: int  # baseline month's マイナ保険証利用人数
    best_users: int  # the evaluation month with the most users
    poster: bool  # ② common poster at the counter (attested)
    informed: bool  # ③ patients told and flyers handed out (attested)

    def json_text(self) -> str:
        """The facts as kept with a result (JSON; `from_json` reads them back)."""
        return (f'{{"kind": {_json_string(self.kind)}, "oct_receipts": {int(self.oct_receipts)}, '
                f'"oct_users": {int(self.oct_users)}, "best_users": {int(self.best_users)}, '
                f'"poster": {_JSON_BOOL[bool(self.poster)]}, '
                f'"informed": {_JSON_BOOL[bool(self.informed)]}}}')

    @classmethod
    def from_json(cls, data: dict) -> "LumpSumFacts":
        return cls(kind=data["kind"], oct_receipts=data["oct_receipts"],
                   oct_users=data["oct_users"], best_users=data["best_users"],
                   poster=data["poster"], informed=data["informed"])


_JSON_BOOL = {True: "true", False: "false"}
_json_string = cache(json.dumps)  # the few kinds, each quoted once


def _bound_pairs(bounds: tuple[Fraction, ...]) -> tuple[tuple[int, int], ...]:
    return tuple((bound.numerator, bound.denominator) for bound in bounds)


def _row_index(pairs: tuple[tuple[int, int], ...], receipts: int, users: int) -> int:
    """How many lower bounds the rate users ÷ receipts reaches, compared exactly by integer
    cross-multiplication (users × d ≥ n × receipts ⇔ users ÷ receipts ≥ n ÷ d, receipts > 0).
    docs/decisions.md D5.2.2: no October receipts → r0 (the bounds are positive)."""
    if receipts <= 0:
        return 0
    row = 0
    for numerator, denominator in pairs:  # ascending: the first bound not reached ends it
        if users * denominator < numerator * receipts:
            break
        row += 1
    return row


def rate_row(params: LumpSumParams, receipts: int, users: int) -> tuple[int, Fraction]:
    """The row of the October rate, compared exactly (29/1000 is 2.9% → r0), and the rate."""
    rate = Fraction(users, receipts) if receipts > 0 else Fraction(0)
    return _row_index(_bound_pairs(params.rate_bounds), receipts, users), rate


def _percent(rate: Fraction) -> str:
    """One decimal, rounded down (shown only, never compared): 2.9% never reads as 3.0%."""
    tenths = rate.numerator * 1000 // rate.denominator  # a rate is never negative
    return f"{tenths // 10}.{tenths % 10}%"


@cache
def _bound_labels(pairs: tuple[tuple[int, int], ...]) -> tuple[str, ...]:
    # 3.0%, 5.0% … as the rate is shown; keyed by integer pairs (quick to hash).
    return tuple(_percent(Fraction(n, d)) for n, d in pairs)


def _row_label(params: LumpSumParams, row: int) -> str:
    bounds = _bound_labels(_bound_pairs(params.rate_bounds))
    if row == 0:
        return f"{bounds[0]}未満"
    if row == len(bounds):
        return f"{bounds[-1]}以上"
    return f"{bounds[row - 1]}以上{bounds[row]}未満"


@cache
def _month_label(month: str) -> str:
    """令和5年10月."""
    year, number = (int(part) for part in month.split("-"))
    return wareki(date(year, number, 1)).removesuffix("1日")


@dataclass(frozen=True)
class _Judgement:
    table: str  # "hospital" | "clinic" | "small"
    column: int | None  # None: increase ≤ 0 or below the first column
    amount: int  # the table's amount, before the requirements ② ③


@dataclass(frozen=True)
class _SmallRule:
    """The 小規模施設 part of the parameters (hashable, so the hint below can be cached)."""

    table: Table
    rows: int
    partial_row_columns: int


def _judge(base_name: str, base: Table, small: _SmallRule | None, row: int,
           increase: int) -> _Judgement:
    """The table amount (docs/domain.md §5.2), requirements aside. It reads the increase only
    through the columns it reaches (LumpSumJudge memoises on them)."""
    column = base.column(increase) if increase > 0 else None
    main = _Judgement(base_name, column, base.cell(row, column) if column is not None else 0)
    if small is None:
        return main
    small_column = small.table.column(increase) if increase > 0 else None
    # A small facility at ≥ 10%, or at 5–10% with +10 or more, is judged on the 診療所・薬局
    # table: the small table defines rows r0, r1 and r2's first columns (+1..9) only.
    on_small_table = row < small.rows or (
        row == small.rows
        and (small_column is None or small_column < small.partial_row_columns)
    )
    if not on_small_table:
        return main
    small_amount = small.table.cell(row, small_column) if small_column is not None else 0
    # Decision: max(small where defined, 診療所・薬局); a tie stays on the small table.
    if small_amount >= main.amount:
        return _Judgement("small", small_column, small_amount)
    return main


@cache
def _first_paying_increase(base: Table, small: _SmallRule | None, row: int) -> int | None:
    """The smallest increase that pays anything in this row (shown when the amount is 0)."""
    thresholds = set(base.columns) | (set(small.table.columns) if small else set())
    for increase in sorted(thresholds):
        if _judge("", base, small, row, increase).amount > 0:
            return increase
    return None


class LumpSumVerdict(NamedTuple):
    """What the rule decides for one facility, without the words: eligibility, amount and
    the cell of the notice's tables it chose. The batch keeps this with the facts; the
    reasons are written from them by `determine_lump_sum` when a page shows them."""

    eligible: bool
    amount: int
    table: str | None  # None: not a kind the lump sum is for
    row: int | None
    column: int | None
    table_amount: int  # the cell's amount, before the requirements ② ③
    small: bool  # judged as a 小規模施設 (the small table considered)
    increase: int | None

    @property
    def cell(self) -> tuple[tuple[str, object], ...]:
        """The cell chosen, kept with the result (hashable; a JSON object when stored)."""
        return (("table", self.table), ("row", self.row), ("column", self.column))


_NOT_FOR_KIND = LumpSumVerdict(False, 0, None, None, None, 0, False, None)


class LumpSumJudge:
    """The rule's verdict under one set of parameters, for one facility or many in a row
    (the batch): the parameters are prepared once, and the cell of each (table, row,
    columns reached) is judged once and remembered."""

    def __init__(self, params: LumpSumParams):
        self.params = params
        self._pairs = _bound_pairs(params.rate_bounds)
        self._small = _SmallRule(params.tables["small"], params.small_rows,
                                 params.small_partial_row_columns)
        self._cells: dict[tuple, _Judgement] = {}

    def row(self, receipts: int, users: int) -> int:
        return _row_index(self._pairs, receipts, users)

    def __call__(self, facts: LumpSumFacts) -> LumpSumVerdict:
        base = KIND_TABLE.get(facts.kind)
        if base is None:
            return _NOT_FOR_KIND
        params = self.params
        row = _row_index(self._pairs, facts.oct_receipts, facts.oct_users)
        increase = facts.best_users - facts.oct_users
        # 小規模施設 applies to 診療所・薬局 (and 歯科); a hospital is always judged on its table.
        small = base == "clinic" and facts.oct_receipts <= params.small_max_receipts
        table = params.tables[base]
        if increase > 0:
            column = table.column(increase)
            small_column = self._small.table.column(increase) if small else None
        else:
            column = small_column = None
        key = (base, small, row, column, small_column)
        judged = self._cells.get(key)
        if judged is None:
            judged = self._cells[key] = _judge(base, table, self._small if small else None,
                                               row, increase)
        eligible = judged.amount > 0 and facts.poster and facts.informed
        return LumpSumVerdict(bool(eligible), judged.amount if eligible else 0, judged.table,
                              row, judged.column, judged.amount, small, increase)


def judge_lump_sum(params: LumpSumParams, facts: LumpSumFacts) -> LumpSumVerdict:
    return LumpSumJudge(params)(facts)


def determine_lump_sum(params: LumpSumParams, facts: LumpSumFacts) -> Determination:
    """The verdict (`LumpSumJudge`) with the reasons the facility reads."""
    return explain_lump_sum(params, facts, judge_lump_sum(params, facts))


def explain_lump_sum(params: LumpSumParams, facts: LumpSumFacts,
                     verdict: LumpSumVerdict) -> Determination:
    """The reasons and details of a verdict reached on these facts."""
    if verdict.table is None:
        return Determination(
            False, 0,
            (Reason(False, f"一時金の対象となる施設の種別ではありません（{facts.kind}）"),),
            {"table": None, "row": None, "column": None, "rate": None, "increase": None},
        )
    base = KIND_TABLE[facts.kind]
    row, increase, small = verdict.row, verdict.increase, verdict.small
    rate = Fraction(facts.oct_users, facts.oct_receipts) if facts.oct_receipts > 0 else Fraction(0)
    small_rule = (_SmallRule(params.tables["small"], params.small_rows,
                              params.small_partial_row_columns) if small else None)
    label = TABLE_LABELS[verdict.table]
    baseline = _month_label(params.baseline_month)
    first, last = min(params.evaluation_months), max(params.evaluation_months)
    months = f"{_month_label(first)}〜{_month_label(last)}"

    percent, row_label = _percent(rate), _row_label(params, row)
    reasons = [
        Reason(None, f"{baseline}: レセプト {facts.oct_receipts:,}件、利用 {facts.oct_users:,}人"
                     f"（利用率 {percent}、区分 {row_label}）"),
        Reason(None, f"評価対象月（{months}）の最多利用人数 {facts.best_users:,}人"),
    ]
    if small:
        switched = " → 診療所・薬局の表で判定" if verdict.table != "small" else ""
        reasons.append(Reason(None, f"小規模施設（{baseline}のレセプト "
                                    f"{params.small_max_receipts:,}件以下）{switched}"))
    grew = (f"増加人数 {increase:+,}人 (基準: {percent}, 表: {label}) → "
            f"{yen(verdict.table_amount)}")
    if verdict.table_amount == 0:
        needed = _first_paying_increase(params.tables[base], small_rule, row)
        if needed is not None:
            grew += f"（この利用率では +{needed:,}人以上で支給）"
    reasons.append(Reason(verdict.table_amount > 0, grew))
    reasons.append(Reason(facts.poster, "② 窓口での共通ポスターの掲示 "
                                        + ("確認済" if facts.poster else "未確認")))
    reasons.append(Reason(facts.informed, "③ 患者へのお声掛け・チラシ配付 "
                                          + ("確認済" if facts.informed else "未確認")))

    if verdict.table_amount > 0 and not verdict.eligible:
        missing = "・".join(name for name, done in (("②", facts.poster), ("③", facts.informed))
                           if not done)
        reasons.append(Reason(None, f"支給額 {yen(0)}（{missing}の確認があれば "
                                    f"{yen(verdict.table_amount)}）"))
    else:
        reasons.append(Reason(None, f"支給額 {yen(verdict.amount)}"))

    column_label = (f"{params.tables[verdict.table].columns[verdict.column]:,}人以上"
                    if verdict.column is not None else "対象外")
    details = {
        "table": verdict.table,
        "table_label": label,
        "row": row,
        "row_label": row_label,
        "column": verdict.column,
        "column_label": column_label,
        "rate": percent,
        "increase": increase,
        "small_facility": small,
        "table_amount": verdict.table_amount,
    }
    return Determination(verdict.eligible, verdict.amount, tuple(reasons), details)

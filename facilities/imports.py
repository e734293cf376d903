"""The facility master as CSV, read by the import kernel (portal/imports.py): every line
checked with the same code rules as the forms, nothing invented — a missing required column
refuses the file, a blank required cell refuses its line, an absent optional column leaves the
stored value as it is. Written with history (django-simple-history) a chunk at a time."""

from collections.abc import Hashable, Iterator
from typing import Any

from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from portal.contact import normalise_postcode
from portal.errors import ServiceError
from portal.imports import Classified, ImportKind, Line, LineError
from portal.normalize import nfkc

from .codes import CodeError, parse_medical_code
from .fact_changes import facts_changed, facts_settled
from .models import MEDICAL_KINDS, POINT_TABLE_FOR_KIND, Facility, FacilityKind
from .prefectures import PREFECTURE_NAMES
from .services import AnnexSide, annex_refusal, normalize_facility_code, set_main_facility

_TRUE = {"1", "true", "yes", "y", "はい", "○", "〇"}
_FALSE = {"0", "false", "no", "n", "いいえ", ""}
# Stored fields compared and written (main_facility apart: it is a code in the file).
_FIELDS = ("kind", "name", "prefecture", "postcode", "address", "founder_name", "phone",
           "account_last4", "paper_claims")
_OPTIONAL_TEXT = {"address": 300, "founder_name": 100, "phone": 20}
# What a line without a main facility leaves, one tuple per kind shared by all such lines (a
# first import of the whole master remembers every line).
_WITHOUT_MAIN = {kind: (kind, "") for kind in FacilityKind.values}


def _text(value: str) -> str:
    """Free text is kept as typed (full-width brackets and all), without outer spaces."""
    return (value or "").strip()


def _required(values: dict[str, str], column: str, label: str, *, free: bool = False) -> str:
    text = _text(values[column]) if free else nfkc(values[column])
    if not text:
        raise LineError(f"{column}（{label}）が空欄です。")
    return text


class _FileAnnexes:
    """What earlier lines of the file did to the 併設 (kept for the whole run; small: one
    entry per line that creates a facility or changes its kind or main)."""

    def __init__(self):
        self.facts: dict[str, tuple[str, str]] = {}  # code → (kind, main code or "")
        self.subordinates: dict[str, set[str]] = {}  # main code → subordinate codes


class _Facts:
    """The 併設 rules (services.annex_refusal, the pairing's own) read on the facilities as
    the lines checked before leave them (this chunk's and earlier chunks'), then as the
    database holds them."""

    def __init__(self, annexes: _FileAnnexes, existing: dict[str, Facility],
                 named: dict[str, Facility], stored_subordinates):
        self.annexes, self.existing, self.named = annexes, existing, named
        self.stored_subordinates: dict[str, set[str]] = {}
        for main, code in stored_subordinates:
            self.stored_subordinates.setdefault(main, set()).add(code)

    def _stored(self, code: str) -> Facility | None:
        return self.existing.get(code) or self.named.get(code)

    def kind(self, code: str) -> str:
        if code in self.annexes.facts:
            return self.annexes.facts[code][0]
        stored = self._stored(code)
        return stored.kind if stored else ""

    def main(self, code: str) -> str:
        if code in self.annexes.facts:
            return self.annexes.facts[code][1]
        stored = self._stored(code)
        return stored.main_facility.code if stored and stored.main_facility else ""

    def has_subordinates(self, code: str) -> bool:
        stored = {sub for sub in self.stored_subordinates.get(code, ())
                  if sub not in self.annexes.facts or self.annexes.facts[sub][1] == code}
        return bool(stored or self.annexes.subordinates.get(code))

    def refusal(self, code: str, row: dict) -> str | None:
        """(A line's kind never leaves the 施術所 family: the code says which it is.)"""
        main = row.get("main_facility_code", self.main(code))
        if not main or main == self.main(code):
            return None
        refusal = annex_refusal(
            subordinate=AnnexSide(name=f"「{code}」", kind=row["kind"],
                                  has_subordinates=self.has_subordinates(code)),
            main=AnnexSide(name=f"主たる施術所「{main}」", kind=self.kind(main),
                           has_main=bool(self.main(main))))
        return f"main_facility_code: {refusal}" if refusal else None

    def apply(self, code: str, row: dict) -> None:
        """Remember what an accepted line does (only when it creates the facility or changes
        its kind or main: for the others the database already says it)."""
        before = self.main(code)
        after = row.get("main_facility_code", before)
        if code in self.annexes.facts:
            kind = self.annexes.facts[code][0]
        else:
            stored = self.existing.get(code)
            kind = stored.kind if stored else None  # None: a new facility
        if before == after and kind == row["kind"]:
            return
        kind = _WITHOUT_MAIN[row["kind"]][0]
        self.annexes.facts[code] = (kind, after) if after else _WITHOUT_MAIN[kind]
        if before != after:
            self.annexes.subordinates.get(before, set()).discard(code)
            if after:
                self.annexes.subordinates.setdefault(after, set()).add(code)


class FacilityMasterImport(ImportKind):
    name = "facility_master"
    label = "施設マスタ"
    model = Facility
    import_permission = "facilities.import_facility"
    export_permission = "facilities.export_facility"
    columns = (
        ("code", True, "医療機関等コード（数字10桁、検証番号つき）または施術所の登録記号番号（契・協で始まる）"),
        ("kind", True, "種別: " + "、".join(f"{value}（{label}）" for value, label in FacilityKind.choices)),
        ("name", True, "医療機関等名"),
        ("prefecture", False, "都道府県番号（01〜47）。医療機関・薬局で空欄のときはコードの先頭2桁。施術所は必須"),
        ("postcode", False, "郵便番号（数字7桁。100-8916 とも書けます）"),
        ("address", False, "所在地"),
        ("founder_name", False, "開設者氏名"),
        ("phone", False, "電話番号"),
        ("account_last4", True, "請求口座番号の下4桁（数字。Excelで先頭の0が消えた3桁以下は0を補います）"),
        ("paper_claims", False, "紙レセプト請求なら 1、そうでなければ 0 または空欄"),
        ("main_facility_code", False,
         "併設の従たる施術所のとき、主たる施術所のコード（主たる施術所は施設マスタか、このファイルにあること）"),
    )

    def parse(self, values: dict[str, str], present: frozenset[str]) -> tuple[Hashable, Any]:
        try:
            code = normalize_facility_code(_required(values, "code", "コード"))
        except CodeError as error:
            raise LineError(f"code: {error.message}") from error
        kind = _required(values, "kind", "種別")
        if kind not in FacilityKind.values:
            raise LineError(f"kind: 種別「{kind}」は {', '.join(FacilityKind.values)} のいずれかです。")
        row: dict[str, Any] = {"code": code, "kind": kind,
                               "name": _required(values, "name", "医療機関等名", free=True)}
        if len(row["name"]) > 200:
            raise LineError("name: 医療機関等名は200文字以内です。")
        prefecture = nfkc(values.get("prefecture", ""))
        if kind in MEDICAL_KINDS:
            try:
                medical = parse_medical_code(code)
            except CodeError as error:  # a 登録記号番号 given a medical kind
                raise LineError(f"code: 種別「{kind}」の施設のコードは医療機関等コードです。"
                                f"{error.message}") from error
            if medical.point_table != POINT_TABLE_FOR_KIND[kind]:
                raise LineError("code: 点数表番号（3桁目）が種別と一致しません。")
            prefecture = prefecture or medical.prefecture
        elif code[0] not in "契協":
            raise LineError("code: 施術所は登録記号番号（契・協で始まる）で登録します。")
        if not prefecture:
            raise LineError("prefecture（都道府県番号）が空欄です。施術所は都道府県番号が必須です。")
        prefecture = prefecture.zfill(2)
        if prefecture not in PREFECTURE_NAMES:
            raise LineError(f"prefecture: 都道府県番号「{prefecture}」は01〜47です。")
        row["prefecture"] = prefecture
        if "postcode" in present:
            typed = nfkc(values["postcode"])
            row["postcode"] = normalise_postcode(typed) if typed else ""
            if row["postcode"] is None:
                raise LineError(f"postcode: 郵便番号「{values['postcode']}」は数字7桁です（例: 100-8916）。")
        last4 = _required(values, "account_last4", "口座番号下4桁")
        if not (last4.isascii() and last4.isdigit()) or len(last4) > 4:  # not ١٢٣٤ either
            raise LineError("account_last4: 口座番号下4桁は数字4桁です。")
        row["account_last4"] = last4.zfill(4)
        for column, limit in _OPTIONAL_TEXT.items():
            if column in present:
                row[column] = _text(values[column])
                if len(row[column]) > limit:
                    raise LineError(f"{column}: {limit}文字以内で入力してください。")
        if "paper_claims" in present:
            flag = nfkc(values["paper_claims"]).lower()
            if flag not in _TRUE | _FALSE:
                raise LineError(f"paper_claims: 「{values['paper_claims']}」は 1 か 0 で入力してください。")
            row["paper_claims"] = flag in _TRUE
        if "main_facility_code" in present:
            main = nfkc(values["main_facility_code"])
            try:
                row["main_facility_code"] = normalize_facility_code(main) if main else ""
            except CodeError as error:
                raise LineError(f"main_facility_code: {error.message}") from error
            if row["main_facility_code"] == code:
                raise LineError("main_facility_code: 自分自身を主たる施術所にはできません。")
        return code, row

    def classify(self, lines: list[Line], present: frozenset[str], state: dict) -> Classified:
        """Lines are checked in the order they are written: first those that leave the
        併設 as it is (in bulk), then, in the file's order, those that set or change it."""
        result = Classified()
        # What earlier lines did (a dry run has written nothing, yet a later line may name
        # a facility created or changed by an earlier one as its main facility).
        annexes = state.setdefault("annexes", _FileAnnexes())
        existing = {f.code: f for f in Facility.objects.filter(code__in=[line.key for line in lines])
                    .select_related("main_facility")}
        mains = {line.row["main_facility_code"] for line in lines
                 if line.row.get("main_facility_code")}
        named = {f.code: f for f in Facility.objects.filter(code__in=mains)
                 .select_related("main_facility")}
        facts = _Facts(annexes, existing, named,
                       Facility.objects.filter(main_facility__code__in=list(existing))
                       .values_list("main_facility__code", "code"))
        plain, annexing = [], []
        for line in lines:
            current = existing.get(line.key)
            if current is not None and not self._differs(current, line.row):
                result.unchanged += 1
            else:
                (annexing if self._annexing(line, current) else plain).append((line, current))
        for line, current in plain + annexing:
            main = line.row.get("main_facility_code")
            if main and main not in named and main not in annexes.facts:
                result.errors.append((line.number,
                                      f"main_facility_code: 主たる施術所「{main}」が施設マスタにも、"
                                      "このファイルのこの行までにもありません。"))
                continue
            refusal = facts.refusal(line.key, line.row)
            if refusal:
                result.errors.append((line.number, refusal))
                continue
            facts.apply(line.key, line.row)
            (result.new if current is None else result.changed).append(line)
        return result

    @staticmethod
    def _differs(current: Facility, row: dict) -> bool:
        for name in _FIELDS:
            if name in row and getattr(current, name) != row[name]:
                return True
        if "main_facility_code" in row:
            now = current.main_facility.code if current.main_facility else ""
            return now != row["main_facility_code"]
        return False

    @staticmethod
    def _annexing(line: Line, current: Facility | None) -> bool:
        """Does this line set or change the facility's main facility?"""
        main = line.row.get("main_facility_code")
        if current is None:
            return bool(main)
        stored = current.main_facility.code if current.main_facility else ""
        return main is not None and main != stored

    def write(self, classified: Classified, present: frozenset[str],
              state: dict) -> list[tuple[int, str]]:
        """Lines that leave the 併設 as it is are written in bulk; those that set or change
        it go one by one, in the file's order, through services.set_main_facility (the
        pairing's own writer, with its checks), after the bulk: a line it refuses is
        written not at all."""
        now = timezone.now()
        current = {f.code: f for f in Facility.objects.filter(
            code__in=[line.key for line in classified.changed]).select_related("main_facility")}
        annexing = sorted((line for line in classified.new + classified.changed
                           if self._annexing(line, current.get(line.key))),
                          key=lambda line: line.number)
        skip = {line.key for line in annexing}
        created = [Facility(code=line.key, **{name: line.row[name] for name in _FIELDS
                                              if name in line.row})
                   for line in classified.new if line.key not in skip]
        if created:
            bulk_create_with_history(created, Facility, batch_size=1000, default_date=now)
        objects = []
        for line in classified.changed:
            facility = current.get(line.key)
            if facility is None or line.key in skip:
                continue
            for name in _FIELDS:
                if name in line.row:
                    setattr(facility, name, line.row[name])
            facility.updated_at = now
            objects.append(facility)
        if objects:
            bulk_update_with_history(objects, Facility, [*_FIELDS, "updated_at"],
                                     batch_size=1000, default_date=now)
        # Kind and 併設 are facts of the results: the facilities written (and their former
        # and new main facilities) are determined again once the whole file is in.
        touched = {f.pk for f in [*created, *objects]} | {f.main_facility_id for f in objects}
        mains = dict(Facility.objects.filter(code__in={
            line.row["main_facility_code"] for line in annexing
            if line.row["main_facility_code"]}).values_list("code", "pk"))
        problems = []
        for line in annexing:
            problem = self._write_annexing(line, current.get(line.key), mains, now, touched)
            if problem:
                problems.append((line.number, problem))
        touched.discard(None)
        if touched:
            facts_changed(touched, enqueue=False)
            state["touched"] = True
        return problems

    @staticmethod
    def _write_annexing(line: Line, facility: Facility | None, mains: dict[str, int], now,
                        touched: set) -> str | None:
        code = line.row["main_facility_code"]
        if code and code not in mains:  # deleted meanwhile
            return f"main_facility_code: 主たる施術所「{code}」が施設マスタにありません。"
        if facility is None:
            facility = Facility(code=line.key)
        for name in _FIELDS:
            if name in line.row:
                setattr(facility, name, line.row[name])
        facility.updated_at = now
        try:
            set_main_facility(facility=facility, main=Facility(pk=mains[code]) if code else None,
                              fields=tuple(name for name in _FIELDS if name in line.row),
                              changed=touched)
        except ServiceError as error:
            return f"main_facility_code: {error.message}"
        return None

    def finish(self, state: dict) -> None:
        if state.get("touched"):
            facts_settled()

    def export_rows(self, queryset) -> Iterator[list[str]]:
        for facility in queryset.select_related("main_facility").order_by("code").iterator(
                chunk_size=2000):
            yield [facility.code, facility.kind, facility.name, facility.prefecture,
                   facility.postcode, facility.address, facility.founder_name, facility.phone,
                   facility.account_last4, "1" if facility.paper_claims else "0",
                   facility.main_facility.code if facility.main_facility else ""]


FACILITY_MASTER = FacilityMasterImport()

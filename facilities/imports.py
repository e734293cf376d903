"""The facility master as CSV, read by the import kernel (portal/imports.py): every line
checked with the same code rules as the forms, nothing invented — a missing required column
refuses the file, a blank required cell refuses its line, an absent optional column leaves the
stored value as it is. Written with history (django-simple-history) a chunk at a time."""

from collections.abc import Hashable, Iterator
from typing import Any

from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from portal.imports import Classified, ImportKind, Line, LineError
from portal.normalize import nfkc

from .codes import CodeError, parse_medical_code
from .fact_changes import facts_changed, facts_settled
from .models import MEDICAL_KINDS, POINT_TABLE_FOR_KIND, Facility, FacilityKind
from .prefectures import PREFECTURE_NAMES
from .services import normalize_facility_code

_TRUE = {"1", "true", "yes", "y", "はい", "○", "〇"}
_FALSE = {"0", "false", "no", "n", "いいえ", ""}
# Stored fields compared and written (main_facility apart: it is a code in the file).
_FIELDS = ("kind", "name", "prefecture", "address", "founder_name", "phone", "account_last4",
           "paper_claims")
_OPTIONAL_TEXT = {"address": 300, "founder_name": 100, "phone": 20}


def _text(value: str) -> str:
    """Free text is kept as typed (full-width brackets and all), without outer spaces."""
    return (value or "").strip()


def _required(values: dict[str, str], column: str, label: str, *, free: bool = False) -> str:
    text = _text(values[column]) if free else nfkc(values[column])
    if not text:
        raise LineError(f"{column}（{label}）が空欄です。")
    return text


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
            medical = parse_medical_code(code)
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
        last4 = _required(values, "account_last4", "口座番号下4桁")
        if not last4.isdigit() or len(last4) > 4:
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
        result = Classified()
        # New codes of earlier chunks: a dry run has not written them, yet a later line may
        # name one as its main facility (only new ones are kept, not the whole file).
        new_codes: set[str] = state.setdefault("new_codes", set())
        existing = {f.code: f for f in Facility.objects.filter(code__in=[line.key for line in lines])
                    .select_related("main_facility")}
        mains = {line.row["main_facility_code"] for line in lines
                 if line.row.get("main_facility_code")}
        known = set(Facility.objects.filter(code__in=mains).values_list("code", flat=True))
        known |= {line.key for line in lines} | new_codes
        for line in lines:
            main = line.row.get("main_facility_code")
            if main and main not in known:
                result.errors.append((line.number,
                                      f"main_facility_code: 主たる施術所「{main}」が施設マスタにも、"
                                      "このファイルのこの行までにもありません。"))
                continue
            current = existing.get(line.key)
            if current is None:
                result.new.append(line)
                new_codes.add(line.key)
            elif self._differs(current, line.row):
                result.changed.append(line)
            else:
                result.unchanged += 1
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

    def write(self, classified: Classified, present: frozenset[str],
              state: dict) -> list[tuple[int, str]]:
        now = timezone.now()
        lines = {line.key: line for line in classified.new + classified.changed}
        mains = {line.row.get("main_facility_code") for line in lines.values()} - {None, ""}
        ids = dict(Facility.objects.filter(code__in=mains).values_list("code", "id"))
        created, later = [], []
        for line in classified.new:
            facility = Facility(code=line.key, **{name: line.row[name] for name in _FIELDS
                                                  if name in line.row})
            main = line.row.get("main_facility_code")
            if main and main not in ids:
                later.append(line.key)  # its main is created in this same chunk
            else:
                facility.main_facility_id = ids.get(main)
            created.append(facility)
        if created:
            bulk_create_with_history(created, Facility, batch_size=1000, default_date=now)
        ids = dict(Facility.objects.filter(code__in=mains).values_list("code", "id"))
        changed = [line.key for line in classified.changed] + later
        objects, problems = [], []
        former_mains: set[int | None] = set()
        for facility in Facility.objects.filter(code__in=changed):
            line = lines[facility.code]
            former_mains.add(facility.main_facility_id)
            for name in _FIELDS:
                if name in line.row:
                    setattr(facility, name, line.row[name])
            main = line.row.get("main_facility_code")
            if main and main not in ids:  # deleted meanwhile
                problems.append((line.number, f"main_facility_code: 主たる施術所「{main}」が"
                                              "施設マスタにありません。"))
                continue
            if "main_facility_code" in line.row:
                facility.main_facility_id = ids.get(main)
            facility.updated_at = now
            objects.append(facility)
        if objects:
            bulk_update_with_history(objects, Facility, [*_FIELDS, "main_facility", "updated_at"],
                                     batch_size=1000, default_date=now)
        # Kind and 併設 are facts of the results: the facilities written (and their former
        # and new main facilities) are determined again once the whole file is in.
        touched = {facility.pk for facility in objects} | former_mains
        touched |= {facility.main_facility_id for facility in [*created, *objects]}
        touched |= {facility.pk for facility in created if facility.pk is not None}
        touched.discard(None)
        if touched:
            facts_changed(touched, enqueue=False)
            state["touched"] = True
        return problems

    def finish(self, state: dict) -> None:
        if state.get("touched"):
            facts_settled()

    def export_rows(self, queryset) -> Iterator[list[str]]:
        for facility in queryset.select_related("main_facility").order_by("code").iterator(
                chunk_size=2000):
            yield [facility.code, facility.kind, facility.name, facility.prefecture,
                   facility.address, facility.founder_name, facility.phone,
                   facility.account_last4, "1" if facility.paper_claims else "0",
                   facility.main_facility.code if facility.main_facility else ""]


FACILITY_MASTER = FacilityMasterImport()

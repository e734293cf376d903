"""The facility master as CSV for django-import-export: every row validated with the same
code rules as the forms; a dry run lists errors by line before anything is written."""

from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget

from .codes import CodeError, parse_medical_code
from .models import MEDICAL_KINDS, POINT_TABLE_FOR_KIND, Facility, FacilityKind
from .prefectures import PREFECTURE_NAMES
from .services import normalize_facility_code


class FacilityResource(resources.ModelResource):
    main_facility = fields.Field(
        attribute="main_facility",
        column_name="main_facility_code",
        widget=ForeignKeyWidget(Facility, field="code"),
    )

    class Meta:
        model = Facility
        import_id_fields = ("code",)
        fields = (
            "code", "kind", "name", "prefecture", "address", "founder_name", "phone",
            "account_last4", "paper_claims", "main_facility",
        )
        export_order = fields
        skip_unchanged = True
        report_skipped = False
        use_bulk = False

    def before_import_row(self, row, **kwargs):
        try:
            row["code"] = normalize_facility_code(str(row.get("code") or ""))
        except CodeError as error:
            raise ValueError(f"code: {error.message}") from error
        kind = (row.get("kind") or "").strip()
        if kind not in FacilityKind.values:
            raise ValueError(f"kind: 種別 '{kind}' は {', '.join(FacilityKind.values)} のいずれかです")
        if kind in MEDICAL_KINDS:
            code = parse_medical_code(row["code"])
            if code.point_table != POINT_TABLE_FOR_KIND[kind]:
                raise ValueError("code: 点数表番号（3桁目）が種別と一致しません")
            if not row.get("prefecture"):
                row["prefecture"] = code.prefecture
        elif row["code"][0] not in "契協":
            raise ValueError("code: 施術所は登録記号番号（契・協で始まる）で登録します")
        prefecture = str(row.get("prefecture") or "").strip().zfill(2)
        if prefecture not in PREFECTURE_NAMES:
            raise ValueError(f"prefecture: 都道府県番号 '{prefecture}' は01〜47です")
        row["prefecture"] = prefecture
        last4 = str(row.get("account_last4") or "").strip().zfill(4)
        if len(last4) != 4 or not last4.isdigit():
            raise ValueError("account_last4: 口座番号下4桁は数字4桁です")
        row["account_last4"] = last4
        row["main_facility_code"] = (row.get("main_facility_code") or "").strip()

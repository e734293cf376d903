"""Monthly statistics as CSV (facility code, year-month, receipts, card users, usage
count), imported by administrators with a dry run that lists errors by line."""

from datetime import date

from import_export import fields, resources, widgets

from facilities.models import Facility
from portal.normalize import nfkc

from .models import MonthlyStatistic


class YearMonthWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        text = nfkc(str(value or "")).replace("/", "-")
        parts = text.split("-")
        if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
            raise ValueError(f"年月 '{value}' は YYYY-MM の形で入力してください")
        year, month = int(parts[0]), int(parts[1])
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            raise ValueError(f"年月 '{value}' は実在する年月ではありません")
        return date(year, month, 1)

    def render(self, value, obj=None, **kwargs):
        return value.strftime("%Y-%m") if value else ""


class CountWidget(widgets.IntegerWidget):
    def clean(self, value, row=None, **kwargs):
        text = nfkc(str(value if value is not None else "")).replace(",", "")
        if not text.isdigit():
            raise ValueError(f"件数 '{value}' は0以上の整数で入力してください")
        return int(text)


class FacilityCodeWidget(widgets.ForeignKeyWidget):
    def clean(self, value, row=None, **kwargs):
        code = nfkc(str(value or ""))
        try:
            return super().clean(code, row, **kwargs)
        except Facility.DoesNotExist as error:
            raise ValueError(f"施設コード '{value}' は施設マスタにありません") from error


class MonthlyStatisticResource(resources.ModelResource):
    facility = fields.Field(attribute="facility", column_name="facility_code",
                            widget=FacilityCodeWidget(Facility, field="code"))
    month = fields.Field(attribute="month", column_name="year_month", widget=YearMonthWidget())
    receipts = fields.Field(attribute="receipts", column_name="receipts", widget=CountWidget())
    card_users = fields.Field(attribute="card_users", column_name="card_users",
                              widget=CountWidget())
    usage_count = fields.Field(attribute="usage_count", column_name="usage_count",
                               widget=CountWidget())

    class Meta:
        model = MonthlyStatistic
        import_id_fields = ("facility", "month")
        fields = ("facility", "month", "receipts", "card_users", "usage_count")
        export_order = fields
        skip_unchanged = True
        use_bulk = True
        batch_size = 2000

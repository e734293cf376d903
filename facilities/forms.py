import re
import uuid

from django import forms

from portal.forms import EmailField, ISODateField, NormalizedForm, NumberField
from portal.normalize import digits
from portal.wareki import to_wareki

from .models import EndAction, FacilityKind
from .prefectures import PREFECTURES
from .services import LINK_CODE_LENGTH, MAX_DEVICES, normalize_link_code

_PHONE = re.compile(r"0\d{1,4}-?\d{1,4}-?\d{3,4}")


class FacilityLinkForm(NormalizedForm):
    code = forms.CharField(
        label="医療機関等コード または 登録記号番号",
        max_length=40,
        help_text="医療機関・薬局は10桁のコード（例: 0110113719）、施術所は受領委任の登録記号番号"
        "（例: 契1234567）を入力してください。全角数字でも入力できます。",
    )
    account_last4 = forms.CharField(
        label="口座番号の下4桁",
        max_length=8,
        help_text="診療報酬等の請求に使用している口座番号の下4桁です。施設の確認にのみ使用します。",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class LinkCodeForm(NormalizedForm):
    code = forms.CharField(
        label="確認コード",
        max_length=40,
        help_text="施設の所在地に郵送した「担当者の登録の確認コードのお知らせ」に記載の"
        "英数字8文字です（例: ABCD-2345）。ハイフンは省略でき、小文字でも入力できます。",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                      "spellcheck": "false"}),
    )

    def clean_code(self) -> str:
        code = normalize_link_code(self.cleaned_data["code"])
        if len(code) != LINK_CODE_LENGTH or not code.isascii() or not code.isalnum():
            raise forms.ValidationError("確認コードは英字と数字の8文字で入力してください"
                                        "（例: ABCD-2345）。")
        return code


class _ApplicationBase(NormalizedForm):
    keep_width = ("contact_name", "founder_name")

    token = forms.UUIDField(widget=forms.HiddenInput)
    contact_name = forms.CharField(label="担当者名", max_length=100)
    founder_name = forms.CharField(label="開設者氏名（漢字）", max_length=100)
    phone = forms.CharField(
        label="電話番号", max_length=20, help_text="例: 03-1234-5678",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    email = EmailField(label="メールアドレス", help_text="審査結果をお知らせします。")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("token", uuid.uuid4())

    def confirm_rows(self) -> list[tuple[str, str]]:
        """What the confirmation page shows: each value as the portal read it (「1,200人」 typed
        as 「１２００」), not as typed (call after is_valid())."""
        rows = []
        for field in self.visible_fields():
            value = self.cleaned_data.get(field.name)
            if isinstance(field.field, forms.ChoiceField):
                value = dict(field.field.choices).get(value, "")
            elif isinstance(field.field, NumberField) and value is not None:
                value = f"{value:,}{field.field.unit}"
            elif hasattr(value, "isoformat"):
                value = f"{to_wareki(value)}（{value.isoformat()}）"
            rows.append((field.label, str(value) if value not in (None, "") else "（なし）"))
        return rows

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"].replace("ー", "-")
        if not _PHONE.fullmatch(phone) or not 10 <= len(phone.replace("-", "")) <= 11:
            raise forms.ValidationError("電話番号は0から始まる10桁または11桁の数字で入力してください。")
        return phone


class UsageStartForm(_ApplicationBase):
    staff_count = NumberField(
        label="職員数", min_value=1, max_value=9999, unit="人",
        help_text="マイナ資格確認アプリを利用する職員の数です。",
    )
    device_count = NumberField(
        label="申請台数", min_value=1, max_value=MAX_DEVICES, unit="台",
        help_text="アプリを利用する端末の台数です。業務に必要な台数のみ申請してください。"
        "台数分の資格確認アカウントが発行されます。",
    )


class UsageChangeForm(_ApplicationBase):
    device_count = NumberField(
        label="変更後の台数", min_value=1, max_value=MAX_DEVICES, required=False, unit="台",
        help_text="台数を変更する場合のみ入力してください（増やす・減らすどちらも可）。",
    )
    end_action = forms.ChoiceField(
        label="利用終了", choices=EndAction.choices, required=False, widget=forms.RadioSelect,
    )
    planned_end_date = ISODateField(
        label="利用終了予定年月日", required=False,
        help_text="「利用終了予定日を申請する」「変更する」場合に入力してください。YYYY-MM-DD",
    )

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("end_action") or ""
        if action in (EndAction.END, EndAction.CHANGE) and not cleaned.get("planned_end_date"):
            self.add_error("planned_end_date", "利用終了予定年月日を入力してください。")
        if not action and cleaned.get("device_count") is None and not self.errors:
            raise forms.ValidationError("台数の変更か利用終了のいずれかを入力してください。")
        if action == EndAction.CANCEL:
            cleaned["planned_end_date"] = None
        return cleaned


class GoLiveForm(NormalizedForm):
    date = ISODateField(
        label="運用開始日",
        help_text="オンライン資格確認の運用開始日（又は運用開始予定日）を選択（入力）してください。"
        "例: 2025-06-10",
    )


class PublicListFilterForm(NormalizedForm):
    keep_width = ("name",)
    prefecture = forms.ChoiceField(
        label="都道府県", choices=[("", "すべて"), *PREFECTURES], required=False
    )
    kind = forms.ChoiceField(
        label="種別", choices=[("", "すべて"), *FacilityKind.choices], required=False
    )
    name = forms.CharField(
        label="名称・所在地", max_length=100, required=False,
        help_text="名称や所在地の一部を入力してください。ひらがな・カタカナ、全角・半角は区別しません。",
    )
    code = forms.CharField(
        label="医療機関等コード・登録記号番号", max_length=24, required=False,
        help_text="先頭から何桁でも検索できます（例: 0113）。全角数字でも入力できます。",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_code(self) -> str:
        return digits(self.cleaned_data["code"])

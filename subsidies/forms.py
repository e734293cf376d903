from datetime import date

from django import forms
from django.utils import timezone

from portal.forms import ISODateField, NormalizedForm, NumberField


class ClaimItemForm(NormalizedForm):
    keep_width = ("description", "vendor")

    description = forms.CharField(label="品名・内容", max_length=200,
                                  help_text="例: タブレット端末、汎用カードリーダー")
    quantity = NumberField(label="数量", min_value=1, max_value=999)
    unit_price = NumberField(label="単価（税抜・円）", min_value=0, max_value=100_000_000,
                             unit="円")
    tax = NumberField(label="消費税（円）", min_value=0, max_value=100_000_000, initial=0,
                      unit="円")
    vendor = forms.CharField(label="購入先", max_length=200)
    # Not before the online-qualification programs began, and not in the future.
    purchase_date = ISODateField(label="購入日", help_text="例: 2025-01-10",
                                 earliest=date(2019, 1, 1), latest=timezone.localdate)


class ItemWithReceiptForm(ClaimItemForm):
    receipt = forms.FileField(label="領収書（PDF・JPEG・PNG、10MBまで）", required=True)
    invoice = forms.FileField(label="請求書・納品書（あれば）", required=False)


class ItemEditForm(ClaimItemForm):
    receipt = forms.FileField(label="領収書を差し替える（任意）", required=False,
                              help_text="新しい領収書を添付すると、前の領収書は削除されます。")
    invoice = forms.FileField(label="請求書・納品書を追加する（任意）", required=False)


class ReadersForm(NormalizedForm):
    readers = NumberField(label="増設する顔認証付きカードリーダーの台数", min_value=1,
                          max_value=3, unit="台")


class ReviewForm(forms.Form):
    """The administrator's decision on one claim."""

    DECISIONS = [("approve", "交付を決定する"), ("return", "修正を依頼する（差戻し）"),
                 ("reject", "不交付とする")]
    decision = forms.ChoiceField(label="決定", choices=DECISIONS, widget=forms.RadioSelect)
    amount = NumberField(label="交付決定額（円）", required=False, min_value=1, unit="円")
    reason = forms.CharField(label="理由（差戻し・不交付・減額のとき必須）", required=False,
                             widget=forms.Textarea(attrs={"rows": 3}))

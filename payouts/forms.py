from django import forms

from portal.forms import NormalizedForm


class BankAccountForm(NormalizedForm):
    """Bank and branch by code or by name; Japan Post Bank by 記号・番号."""

    keep_width = ("holder_name", "bank", "branch")

    METHOD_CHOICES = [("bank", "銀行・信用金庫など（金融機関コード・支店コード）"),
                      ("japan_post", "ゆうちょ銀行（記号・番号）")]
    method = forms.ChoiceField(label="口座の種類", choices=METHOD_CHOICES, widget=forms.RadioSelect,
                               initial="bank")
    bank = forms.CharField(label="金融機関（コード4桁または名称）", required=False, max_length=40,
                           help_text="例: 0001 または みずほ")
    branch = forms.CharField(label="支店（コード3桁または名称）", required=False, max_length=40,
                             help_text="例: 001 または 東京営業部")
    account_type = forms.ChoiceField(label="預金種目", required=False,
                                     choices=[("1", "普通"), ("2", "当座"), ("4", "貯蓄")])
    account_number = forms.CharField(label="口座番号", required=False, max_length=12,
                                     widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    kigo = forms.CharField(label="ゆうちょ銀行の記号（5桁）", required=False, max_length=10,
                           widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    bango = forms.CharField(label="ゆうちょ銀行の番号（8桁まで）", required=False, max_length=12,
                            widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    holder_name = forms.CharField(
        label="口座名義（カナ）", max_length=60,
        help_text="通帳に記載の名義。ひらがな・全角カナでも入力できます（半角カナに直して登録します）。",
    )

    BANK_FIELDS = ("bank", "branch", "account_number")
    JAPAN_POST_FIELDS = ("kigo", "bango")

    def clean(self):
        """Only the block the radio chose is read (both are shown when JavaScript is off);
        the other block filled in while this one is empty means the radio was left on the
        wrong choice: one message saying so, not the empty block's three errors."""
        cleaned = super().clean()
        method = cleaned.get("method")
        chosen, other = ((self.BANK_FIELDS, self.JAPAN_POST_FIELDS) if method == "bank"
                         else (self.JAPAN_POST_FIELDS, self.BANK_FIELDS))
        if method and not any(cleaned.get(f) for f in chosen) and any(
                cleaned.get(f) for f in other):
            message = ("ゆうちょ銀行の記号・番号が入力されています。ゆうちょ銀行の口座なら、"
                       "「口座の種類」で「ゆうちょ銀行」を選んでください。" if method == "bank" else
                       "銀行・信用金庫などの口座が入力されています。その口座なら、"
                       "「口座の種類」で「銀行・信用金庫など」を選んでください。")
            self.add_error("method", message)
        return cleaned

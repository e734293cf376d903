from django import forms

from eligibility.rules.lump_sum import LumpSumParams
from facilities.kinds import MEDICAL_KINDS
from facilities.models import FacilityKind
from portal.forms import ISODateField, NormalizedForm


class ActivityReportForm(NormalizedForm):
    voice = forms.BooleanField(label="① 患者等へのマイナ保険証利用のお声掛けを行った", required=False)
    flyer = forms.BooleanField(label="② マイナ保険証に関するチラシを配付した", required=False)
    poster = forms.BooleanField(label="② マイナ保険証に関するポスターを掲示した", required=False)
    activity_from = ISODateField(label="実施期間（開始日）", help_text="例: 2025-05-01")
    activity_to = ISODateField(label="実施期間（終了日）", help_text="例: 2025-07-31")

    def __init__(self, *args, period=None, **kwargs):
        """`period` (incentives.selectors.ReportablePeriod): the dates this facility may
        report, stated on both date fields before anything is typed."""
        super().__init__(*args, **kwargs)
        if period is not None:
            for name in ("activity_from", "activity_to"):
                self.fields[name].help_text = (
                    f"報告できる期間: {period.text}。例: {period.start.isoformat()} または "
                    "令和7年6月10日"
                )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("activity_from"), cleaned.get("activity_to")
        if start and end and start > end:
            self.add_error("activity_to", "終了日は開始日以降の日付にしてください。")
        if not any(cleaned.get(k) for k in ("voice", "flyer", "poster")):
            raise forms.ValidationError("実施した取組を1つ以上選んでください。")
        return cleaned


class AttestationForm(NormalizedForm):
    poster = forms.BooleanField(label="共通ポスターを受付等に掲示した", required=False)
    informed = forms.BooleanField(label="患者へのお声掛け・チラシ配付を行った", required=False)


SIMULATOR_KINDS = [(k.value, k.label) for k in FacilityKind if k.value in MEDICAL_KINDS]


class LumpSumSimulatorForm(NormalizedForm):
    """The months in the labels come from the parameters in force (`params`), not from here."""

    kind = forms.ChoiceField(label="施設の種別", choices=SIMULATOR_KINDS)
    oct_receipts = forms.IntegerField(label="基準月のレセプト件数", min_value=0,
                                      max_value=10_000_000)
    oct_users = forms.IntegerField(label="基準月のマイナ保険証利用人数", min_value=0,
                                   max_value=10_000_000)
    best_users = forms.IntegerField(
        label="評価対象月のうち最も多い月の利用人数", min_value=0, max_value=10_000_000,
    )
    poster = forms.BooleanField(label="共通ポスターを掲示している", required=False, initial=True)
    informed = forms.BooleanField(label="お声掛け・チラシ配付を行っている", required=False,
                                  initial=True)

    def __init__(self, *args, params: LumpSumParams, **kwargs):
        super().__init__(*args, **kwargs)
        baseline, evaluation = params.baseline_label, params.evaluation_label
        self.fields["oct_receipts"].label = f"{baseline}のレセプト件数"
        self.fields["oct_users"].label = f"{baseline}のマイナ保険証利用人数"
        self.fields["best_users"].label = f"評価対象月（{evaluation}）のうち最も多い月の利用人数"


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

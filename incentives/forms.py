from django import forms

from eligibility.rules.lump_sum import LumpSumParams
from facilities.kinds import MEDICAL_KINDS
from facilities.models import FacilityKind
from portal.forms import ISODateField, NormalizedForm, NumberField


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
        if period is not None and not period.closed:
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
    oct_receipts = NumberField(label="基準月のレセプト件数", min_value=0,
                               max_value=10_000_000, unit="件")
    oct_users = NumberField(label="基準月のマイナ保険証利用人数", min_value=0,
                            max_value=10_000_000, unit="人")
    best_users = NumberField(
        label="評価対象月のうち最も多い月の利用人数", min_value=0, max_value=10_000_000,
        unit="人",
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

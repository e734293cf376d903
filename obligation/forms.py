"""The obligation's forms: the exemption declaration (with its practitioners), the 併設
proposal, the pairing moves and the public explanation-session request. Every form keeps
what was typed (the confirmation pages post it back in hidden fields)."""

import re
import uuid
from datetime import date, timedelta

from django import forms
from django.utils import timezone

from portal.forms import EmailField, ISODateField, NormalizedForm, NumberField
from portal.wareki import to_wareki

from .rules import AHAKI_KINDS, JUDO_KINDS, ExemptionReason

_PHONE = re.compile(r"0\d{1,4}-?\d{1,4}-?\d{3,4}")
# ひらがな (with the long-vowel mark and iteration marks), words separated by one space.
_HIRAGANA = re.compile(r"[ぁ-ゖゝゞー]+( [ぁ-ゖゝゞー]+)*")
TEXT_LIMIT = 2000


def _clean_phone(value: str, *, required: bool) -> str:
    phone = (value or "").replace("ー", "-")
    if not phone and not required:
        return ""
    if not _PHONE.fullmatch(phone) or not 10 <= len(phone.replace("-", "")) <= 11:
        raise forms.ValidationError("電話番号は0から始まる10桁または11桁の数字で入力してください。")
    return phone


def _phone_field(*, required: bool) -> forms.CharField:
    return forms.CharField(
        label="電話番号", max_length=20, required=required, help_text="例: 03-1234-5678",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))


class _WithToken(NormalizedForm):
    """A hidden submission token: the final submit made twice makes one record."""

    token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("token", uuid.uuid4())


# ---------------------------------------------------------------- exemption declaration


def reasons_for(kind: str) -> list[tuple[str, str]]:
    """1-1 only for 柔道整復, 1-2 only for あはき (the rule refuses a wrong one anyway)."""
    offered = []
    for code, label in ExemptionReason.LABELS.items():
        if code == ExemptionReason.JUDO_ELDERLY and kind not in JUDO_KINDS:
            continue
        if code == ExemptionReason.AHAKI_ELDERLY and kind not in AHAKI_KINDS:
            continue
        offered.append((code, label))
    return offered


class DeclarationForm(_WithToken):
    keep_width = ("contact_name",)

    reason = forms.ChoiceField(label="やむを得ない事由", widget=forms.RadioSelect,
                               help_text="当てはまる事由を一つ選んでください。")
    contact_name = forms.CharField(label="担当者名", max_length=100)
    phone = _phone_field(required=False)
    planned_date = ISODateField(
        label="廃止・休止または受領委任の取扱いをやめる予定日", required=False,
        help_text="事由2・3を選んだときに入力してください。令和7年12月2日までの日付が対象です"
                  "（すでに過ぎた日付も入力できます）。例: 2025-11-30 または 令和7年11月30日")

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = reasons_for(kind)

    def clean_phone(self) -> str:
        return _clean_phone(self.cleaned_data.get("phone"), required=False)

    def clean(self):
        cleaned = super().clean()
        reason = cleaned.get("reason")
        if (reason in (ExemptionReason.CLOSING, ExemptionReason.ENDING)
                and not cleaned.get("planned_date") and "planned_date" not in self.errors):
            self.add_error("planned_date", "事由2・3では予定日を入力してください。")
        return cleaned


class PractitionerForm(NormalizedForm):
    """One practitioner; a row left blank (no name, no birth date) is ignored."""

    name = forms.CharField(label="氏名", max_length=100, required=False)
    birth_date = ISODateField(label="生年月日", required=False, earliest=date(1900, 1, 1),
                              latest=timezone.localdate,
                              help_text="例: 1950-04-01 または 昭和25年4月1日")
    full_time = forms.BooleanField(label="常勤（施術所が定める時間すべてに勤務）", required=False)
    visually_impaired = forms.BooleanField(label="視覚障害者（あはきの事由1-2のみ）",
                                           required=False)

    def __init__(self, data=None, *args, **kwargs):
        # Names are kept as typed (the prefix is part of each key in a formset).
        prefix = kwargs.get("prefix")
        self.keep_width = (f"{prefix}-name",) if prefix else ("name",)
        super().__init__(data, *args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        name, birth = cleaned.get("name"), cleaned.get("birth_date")
        if "birth_date" in self.errors:
            return cleaned
        if name and not birth:
            self.add_error("birth_date", "生年月日を入力してください。")
        elif birth and not name:
            self.add_error("name", "氏名を入力してください。")
        return cleaned

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not data.get("name") and not data.get("birth_date")


PRACTITIONER_ROWS = 5
MAX_PRACTITIONERS = 30

PractitionerFormSet = forms.formset_factory(
    PractitionerForm, extra=PRACTITIONER_ROWS, max_num=MAX_PRACTITIONERS,
    absolute_max=MAX_PRACTITIONERS, validate_max=True)


def practitioner_formset(data=None) -> forms.BaseFormSet:
    return PractitionerFormSet(data, prefix="practitioners")


# ---------------------------------------------------------------- 併設 (annex)


class AnnexProposalForm(NormalizedForm):
    ROLE_CHOICES = [("main", "この施術所が主たる施術所（相手が従たる施術所）"),
                    ("subordinate", "この施術所が従たる施術所（相手が主たる施術所）")]

    partner_code = forms.CharField(
        label="相手の施術所の登録記号番号", max_length=40,
        help_text="受領委任の登録記号番号です（例: 契1234567）。全角でも入力できます。")
    role = forms.ChoiceField(label="この施術所の立場", choices=ROLE_CHOICES,
                             widget=forms.RadioSelect)


class DissolveForm(NormalizedForm):
    keep_width = ("reason",)

    reason = forms.CharField(label="解除の理由（任意）", max_length=1000, required=False,
                             widget=forms.Textarea(attrs={"rows": 3}))


# ---------------------------------------------------------------- explanation session


# A session is asked for between today and a year from now; the example is a month ahead.
SESSION_LATEST_DAYS = 365
SESSION_EXAMPLE_DAYS = 30


def session_date_example(today: date | None = None) -> date:
    """A date the form accepts, for its help text (never a past one)."""
    return (today or timezone.localdate()) + timedelta(days=SESSION_EXAMPLE_DAYS)


class SessionRequestForm(_WithToken):
    keep_width = ("organisation", "contact_name", "occupation", "topics", "notes")

    organisation = forms.CharField(label="団体名", max_length=200)
    address = forms.CharField(label="住所", max_length=300)
    contact_furigana = forms.CharField(label="担当者氏名（ふりがな）", max_length=100,
                                       help_text="ひらがなで入力してください。例: やまだ はなこ")
    contact_name = forms.CharField(label="担当者氏名", max_length=100)
    phone = _phone_field(required=True)
    email = EmailField(
        label="メールアドレス", max_length=254,
        help_text="受付と日程のお知らせをこのアドレスにお送りします。")
    preferred_date = ISODateField(
        label="希望日", earliest=timezone.localdate,
        latest=lambda: timezone.localdate() + timedelta(days=SESSION_LATEST_DAYS))
    preferred_start = forms.TimeField(label="希望開始時刻", help_text="例: 14:00",
                                      widget=forms.TimeInput(attrs={"type": "time"},
                                                             format="%H:%M"))
    preferred_end = forms.TimeField(label="希望終了時刻", help_text="例: 15:30",
                                    widget=forms.TimeInput(attrs={"type": "time"},
                                                           format="%H:%M"))
    attendees = NumberField(label="参加予定人数", min_value=1, max_value=1000, unit="人")
    occupation = forms.CharField(label="参加される方の属性（職業）", max_length=200,
                                 help_text="例: 柔道整復師、はり師・きゅう師")
    topics = forms.CharField(label="説明を受けたい内容", max_length=TEXT_LIMIT, required=False,
                             widget=forms.Textarea(attrs={"rows": 4}))
    notes = forms.CharField(
        label="備考（希望するWeb会議の方式など）", max_length=TEXT_LIMIT, required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="説明会はWebで行います（Zoom、Teams、Webexなど）。ご希望の方式があれば"
                  "お書きください。")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        example = session_date_example()
        self.fields["preferred_date"].help_text = (
            f"今日から1年以内の日付です。例: {example:%Y-%m-%d} または {to_wareki(example)}")

    def clean_contact_furigana(self) -> str:
        text = " ".join(self.cleaned_data["contact_furigana"].split())
        if not _HIRAGANA.fullmatch(text):
            raise forms.ValidationError("ふりがなは、ひらがなで入力してください。")
        return text

    def clean_phone(self) -> str:
        return _clean_phone(self.cleaned_data.get("phone"), required=True)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("preferred_start"), cleaned.get("preferred_end")
        if start and end and end <= start:
            self.add_error("preferred_end", "終了時刻は開始時刻より後にしてください。")
        return cleaned

    def session_data(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "token"}


from django import forms

from .selectors import DUE_SOON_DAYS


class ReminderPreferenceForm(forms.Form):
    receives_reminders = forms.BooleanField(
        label="期限が近い手続きのお知らせメールを受け取る", required=False,
        help_text=f"期限まで{DUE_SOON_DAYS}日以内の手続きがあるときに、週に1回までお送りします。",
    )

"""allauth's account forms with the portal's wording: the password rule stated once (as the
first password's help text), the second password labelled for what it is, and a mismatch
always reported next to the second password — also when the first one breaks a rule."""

from allauth.account import forms as allauth_forms
from allauth.mfa.base import forms as mfa_forms
from allauth.mfa.totp import forms as totp_forms

from .passwords import MAX_LENGTH
from .signup import SignupForm as TimingSafeSignupForm

PASSWORD_RULE = (
    f"半角の英字と数字で8文字以上{MAX_LENGTH}文字以下。数字だけのもの、よく使われるもの、"
    "メールアドレスに似たものは使えません。"
)
PASSWORD_AGAIN_HELP = "確認のため、同じパスワードをもう一度入力してください。"  # noqa: S105 - a help text
MISMATCH = "1回目に入力したパスワードと一致しません。同じパスワードを入力してください。"


def _word_new_password(form, first: str, second: str, first_label: str, second_label: str):
    form.fields[first].label = first_label
    form.fields[first].help_text = PASSWORD_RULE
    form.fields[second].label = second_label
    form.fields[second].help_text = PASSWORD_AGAIN_HELP


def _report_mismatch(form, first: str, second: str) -> None:
    typed_first, typed_second = form.data.get(first), form.data.get(second)
    if typed_first and typed_second and typed_first != typed_second:
        # allauth compares the two only when the first one passed the rules, and in words of
        # its own; one message, ours, in either case.
        form.errors.pop(second, None)
        form.add_error(second, MISMATCH)


class LoginForm(allauth_forms.LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The page links to the password reset itself; the help text would hold raw HTML.
        self.fields["password"].help_text = ""
        self.fields["remember"].label = "このブラウザでログインしたままにする"


class SignupForm(TimingSafeSignupForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _word_new_password(self, "password1", "password2", "パスワード", "パスワード（確認用）")
        self.fields["email"].help_text = "ログインと、審査結果などのお知らせに使います。"

    def clean(self):
        cleaned = super().clean()
        _report_mismatch(self, "password1", "password2")
        return cleaned


class ResetPasswordKeyForm(allauth_forms.ResetPasswordKeyForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _word_new_password(self, "password1", "password2", "新しいパスワード",
                           "新しいパスワード（確認用）")

    def clean(self):
        cleaned = super().clean()
        _report_mismatch(self, "password1", "password2")
        return cleaned


class ChangePasswordForm(allauth_forms.ChangePasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["oldpassword"].label = "現在のパスワード"
        self.fields["oldpassword"].help_text = ""
        _word_new_password(self, "password1", "password2", "新しいパスワード",
                           "新しいパスワード（確認用）")

    def clean(self):
        cleaned = super().clean()
        _report_mismatch(self, "password1", "password2")
        return cleaned


# Two-factor (allauth.mfa): the code is named for what the user sees in the app.
CODE_LABEL = "確認コード"
CODE_HELP = "認証アプリに表示されている6桁の数字（またはリカバリーコード）。"


class AuthenticateForm(mfa_forms.AuthenticateForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].label = CODE_LABEL
        self.fields["code"].help_text = CODE_HELP


class ReauthenticateForm(mfa_forms.ReauthenticateForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].label = CODE_LABEL
        self.fields["code"].help_text = CODE_HELP


class ActivateTOTPForm(totp_forms.ActivateTOTPForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].label = CODE_LABEL
        self.fields["code"].help_text = "認証アプリに表示されている6桁の数字。"

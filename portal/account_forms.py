"""allauth's account forms with the portal's wording: the password rule stated once (as the
first password's help text), the second password labelled for what it is, and a mismatch
always reported next to the second password — also when the first one breaks a rule."""

from allauth.account import forms as allauth_forms
from allauth.mfa.base import forms as mfa_forms
from allauth.mfa.totp import forms as totp_forms

from .forms import HalfWidthEmails
from .passwords import MAX_LENGTH
from .signup import SignupForm as TimingSafeSignupForm

PASSWORD_RULE = (
    f"半角の英字と数字で8文字以上{MAX_LENGTH}文字以下。数字だけのもの、よく使われるもの、"
    "メールアドレスに似たものは使えません。"
)
PASSWORD_AGAIN_HELP = "確認のため、同じパスワードをもう一度入力してください。"  # noqa: S105 - a help text
MISMATCH = "1回目に入力したパスワードと一致しません。同じパスワードを入力してください。"


class NewPasswordWording:
    """Mixin for a form with a new password typed twice (password1, password2): labels,
    the rule stated once, and a mismatch always reported next to the second password."""

    new_password_labels = ("新しいパスワード", "新しいパスワード（確認用）")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        first_label, second_label = self.new_password_labels
        self.fields["password1"].label, self.fields["password1"].help_text = (
            first_label, PASSWORD_RULE)
        self.fields["password2"].label, self.fields["password2"].help_text = (
            second_label, PASSWORD_AGAIN_HELP)

    def clean(self):
        cleaned = super().clean()
        typed_first, typed_second = self.data.get("password1"), self.data.get("password2")
        if typed_first and typed_second and typed_first != typed_second:
            # allauth compares the two only when the first one passed the rules, and in
            # words of its own; one message, ours, in either case.
            self.errors.pop("password2", None)
            self.add_error("password2", MISMATCH)
        return cleaned


class LoginForm(HalfWidthEmails, allauth_forms.LoginForm):
    email_fields = ("login",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The page links to the password reset itself; the help text would hold raw HTML.
        self.fields["password"].help_text = ""
        self.fields["remember"].label = "このブラウザでログインしたままにする"


class SignupForm(HalfWidthEmails, NewPasswordWording, TimingSafeSignupForm):
    new_password_labels = ("パスワード", "パスワード（確認用）")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].help_text = "ログインと、審査結果などのお知らせに使います。"


class ResetPasswordForm(HalfWidthEmails, allauth_forms.ResetPasswordForm):
    pass


class AddEmailForm(HalfWidthEmails, allauth_forms.AddEmailForm):
    pass


class ResetPasswordKeyForm(NewPasswordWording, allauth_forms.ResetPasswordKeyForm):
    pass


class ChangePasswordForm(NewPasswordWording, allauth_forms.ChangePasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["oldpassword"].label = "現在のパスワード"
        self.fields["oldpassword"].help_text = ""


# Two-factor (allauth.mfa): the code is named for what the user sees in the app.
CODE_LABEL = "確認コード"
CODE_HELP = "認証アプリに表示されている6桁の数字（またはリカバリーコード）。"


class CodeWording:
    """Mixin: the two-factor code named for what the user sees in the app."""

    code_help = CODE_HELP

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].label = CODE_LABEL
        self.fields["code"].help_text = self.code_help


class AuthenticateForm(CodeWording, mfa_forms.AuthenticateForm):
    pass


class ReauthenticateForm(CodeWording, mfa_forms.ReauthenticateForm):
    pass


class ActivateTOTPForm(CodeWording, totp_forms.ActivateTOTPForm):
    code_help = "認証アプリに表示されている6桁の数字。"

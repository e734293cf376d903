"""Sign-up that does not reveal a registered address by its timing.

With ACCOUNT_PREVENT_ENUMERATION, allauth answers a sign-up for a registered address as it
answers a new one, but skips saving a user, and with it hashing the password — the slowest
step (about 0.25 s with PBKDF2), so the response time told the addresses apart. This form
spends the same hashing work on that path."""

from allauth.account.forms import SignupForm as AllauthSignupForm
from django.contrib.auth.hashers import make_password
from django.utils.crypto import get_random_string


class SignupForm(AllauthSignupForm):
    def try_save(self, request):
        if self.account_already_exists:
            # Hashed and dropped: the work a new user's set_password() does.
            make_password(self.cleaned_data.get("password1") or get_random_string(32))
        return super().try_save(request)

"""Settings of the `manage.py payout` processes the command tests start
(tests/payouts/test_command.py), and of those tests themselves: the test settings, with the
authenticator's code of the previous 30 seconds still accepted (MFA_TOTP_TOLERANCE 1). A
process takes a second or two to start: a code typed near the end of its 30 seconds must not
expire on its way to being checked (production accepts the current code only)."""

from portal.settings.test import *  # noqa: F403

MFA_TOTP_TOLERANCE = 1

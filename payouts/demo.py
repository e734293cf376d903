"""The demo's part of payouts (portal/demo.py): the 振込依頼人 (the portal's side of every
transfer), so that a payout run can be made and its transfer file written. A made-up account
(the figures of no real one); one kept already is left as it is."""

from .models import Consignor

DEMO_CONSIGNOR = {
    "code": "1234567890", "name": "ｺｳｾｲﾛｳﾄﾞｳｼﾖｳ", "bank_code": "0001", "bank_name": "ﾐｽﾞﾎ",
    "branch_code": "001", "branch_name": "ﾄｳｷﾖｳｴｲｷﾞﾖｳﾌﾞ", "account_type": "1",
    "account_number": "1000001", "recovery_due_days": 30,
}


def load_demo() -> None:
    consignor = Consignor(pk=1, **DEMO_CONSIGNOR)
    if not Consignor.objects.filter(pk=1).exists():
        consignor.full_clean()
        consignor.save()

"""The payouts' part of the synthetic national dataset (eligibility/dataset.py, which calls
the parts the apps above it add: PayoutsConfig.ready): a bank account for nine facilities in
ten."""

import random

from portal.bulk_copy import copy_rows

from .models import BankAccount


def bank_accounts(rng: random.Random, planned: list[tuple], *, now) -> dict[str, int]:
    count = copy_rows(
        BankAccount,
        ["facility_id", "bank_code", "bank_name", "bank_kana", "branch_code", "branch_name",
         "branch_kana", "account_type", "account_number", "holder_name", "japan_post_kigo",
         "japan_post_bango", "updated_at"],
        ((pk, "0001", "みずほ銀行", "ﾐｽﾞﾎ", "001", "東京営業部", "ﾄｳｷﾖｳ", "1",
          f"{pk % 10_000_000:07d}", f"ｺﾞｳｾｲ{pk}"[:30], "", "", now)
         for pk, *_ in planned if rng.random() < 0.9),
    )
    return {"bank_accounts": count}

from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "支払"

    def ready(self) -> None:
        # The synthetic dataset's bank accounts (eligibility/dataset.py calls the part).
        from eligibility.dataset import add_part
        from portal.demo import add_part as add_demo_part

        from .dataset import bank_accounts
        from .demo import load_demo

        add_part(bank_accounts)
        add_demo_part(load_demo)  # the 振込依頼人

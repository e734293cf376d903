"""振込先口座 (DOMAIN §5.3): where a facility's money is paid. Every change is kept in the
history; a payout copies the account it pays to, so a later change never alters it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from facilities.models import Facility


class AccountType(models.TextChoices):
    ORDINARY = "1", "普通"
    CURRENT = "2", "当座"
    SAVINGS = "4", "貯蓄"


class BankAccount(models.Model):
    facility = models.OneToOneField(
        Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="bank_account"
    )
    bank_code = models.CharField("金融機関コード", max_length=4)
    bank_name = models.CharField("金融機関名", max_length=100)
    branch_code = models.CharField("支店コード", max_length=3)
    branch_name = models.CharField("支店名", max_length=100)
    account_type = models.CharField("預金種目", max_length=1, choices=AccountType.choices)
    account_number = models.CharField("口座番号", max_length=7)
    holder_name = models.CharField("口座名義（カナ）", max_length=30)
    japan_post_kigo = models.CharField("ゆうちょ記号", max_length=5, blank=True)
    japan_post_bango = models.CharField("ゆうちょ番号", max_length=8, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="更新者", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "振込先口座"
        permissions = [("view_account_number", "口座番号を全桁表示する（支払担当）")]
        verbose_name_plural = "振込先口座"
        constraints = [
            models.CheckConstraint(
                condition=Q(bank_code__regex=r"^[0-9]{4}$")
                & Q(branch_code__regex=r"^[0-9]{3}$")
                & Q(account_number__regex=r"^[0-9]{7}$"),
                name="bank_account_digits",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.branch_name} {self.get_account_type_display()} ****{self.account_number[-3:]}"

    @property
    def masked_number(self) -> str:
        return "****" + self.account_number[-3:]

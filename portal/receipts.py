"""受付番号 (receipt numbers): one per submission, shown on its confirmation page, in its
e-mail and in its history. Derived from the row's primary key so it is unique without a
lottery, and from the date so staff can read it over the phone: e.g. A20261125-0000123."""

from datetime import datetime

from django.utils import timezone


def format_receipt_number(prefix: str, created_at: datetime, pk: int) -> str:
    local = timezone.localtime(created_at) if timezone.is_aware(created_at) else created_at
    return f"{prefix}{local:%Y%m%d}-{pk:07d}"

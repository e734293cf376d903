"""A released run's transfer file read back by the layout's own reader (tests/payouts/
test_zengin.py, written from the table, not from the writer): every line of the run once,
with its frozen account and amount, the trailer's count and total matching the lines; and
the names the file must carry are refused at registration, never at payout time."""

import pytest

from payouts import banking, services
from payouts.banking import BankInputErrors, validate_account
from payouts.zengin import zengin_encodable
from tests.factories import FacilityFactory
from tests.payouts.helpers import (
    eligible,
    lump_sum,
    officers,
    set_consignor,
    transfer_day,
    with_account,
)
from tests.payouts.test_zengin import read_transfer_file

pytestmark = pytest.mark.django_db


def test_the_runs_file_holds_each_line_once_as_frozen_and_the_trailer_matches():
    set_consignor()
    creator, releaser = officers()
    amounts = [200_000, 150_000, 50_000, 400_000, 30_000]
    for amount in amounts:
        eligible(FacilityFactory(kind="clinic"), amount=amount)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    lines = {line.pk: line for line in run.lines.all()}
    # An account changed after the run was built: the file still pays the frozen one.
    with_account(next(iter(lines.values())).facility, number="9999999")
    run = services.release_run(run=run, actor=releaser)
    records = read_transfer_file(services.transfer_file(run=run, actor=releaser))
    header, data, trailer = records[0], records[1:-2], records[-2]
    assert header["種別コード"] == "21" and header["コード区分"] == "0"
    assert header["振込依頼人コード"] == "1234567890"
    assert header["取組日"] == run.transfer_date.strftime("%m%d")
    seen = [int(record["顧客コード1"]) for record in data]
    assert sorted(seen) == sorted(lines) and len(set(seen)) == len(seen)
    for record in data:
        line = lines[int(record["顧客コード1"])]
        assert record["被仕向銀行番号"] == line.bank_code
        assert record["被仕向支店番号"] == line.branch_code
        assert record["口座番号"] == line.account_number != "9999999"
        assert record["受取人名"].rstrip() == line.holder_name
        assert record["被仕向銀行名"].rstrip() == "ﾐｽﾞﾎ"
        assert int(record["振込金額"]) == line.amount
    assert int(trailer["合計件数"]) == len(lines) == run.line_count
    assert int(trailer["合計金額"]) == sum(amounts) == run.total_amount


def test_every_bank_and_branch_of_the_master_can_be_written_to_the_file():
    """What registration checks (the kana of the bank and branch fit the file) holds for the
    whole bank master, so no facility is turned away for its bank's name."""
    unwritable = []
    for bank in banking._master().banks.values():
        if banking.transfer_kana(bank.kana) is None:
            unwritable.append(bank.code)
        for entry in banking._branch_entries(bank.code):
            if banking.transfer_kana(entry.item.kana) is None:
                unwritable.append(f"{bank.code}-{entry.item.code}")
    assert unwritable == []


def test_a_bank_whose_name_the_file_cannot_carry_is_refused_at_registration(monkeypatch):
    real = banking.lookup_bank

    def odd_bank(code):
        found = real(code)
        return found and banking.Bank(found.code, found.name, "みずほ銀行（漢字）")

    monkeypatch.setattr(banking, "lookup_bank", odd_bank)
    with pytest.raises(BankInputErrors) as caught:
        validate_account("0001", "001", "1", "1234567", "ﾃｽﾄ")
    assert "振込データに書けない" in caught.value.errors["bank_code"]


def test_a_holder_name_outside_the_file_characters_is_refused_at_registration():
    with pytest.raises(BankInputErrors) as caught:
        validate_account("0001", "001", "1", "1234567", "山田＆カンパニー")
    assert "holder_name" in caught.value.errors


def test_registration_stores_the_names_as_the_file_writes_them():
    account = with_account(FacilityFactory())
    branch = banking.lookup_branch("0001", "001")
    assert (account.bank_kana, account.branch_kana) == ("ﾐｽﾞﾎ", banking.transfer_kana(branch.kana))
    assert account.branch_kana and zengin_encodable(account.branch_kana)

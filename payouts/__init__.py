"""Money leaving the portal (docs/domain.md §5.3, §5.4): the facility's bank accounts, payout runs
and their payment lines, the 全銀協 transfer file, the bank's results and payment notices."""

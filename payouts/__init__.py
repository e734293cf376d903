"""Money leaving the portal (DOMAIN §5.4, issue 10). For now only the pure foundations:
``payouts.calendar`` (bank business days) and ``payouts.zengin`` (the 全銀協 総合振込 file).
Not yet a Django app: no models, no migrations, not in INSTALLED_APPS."""

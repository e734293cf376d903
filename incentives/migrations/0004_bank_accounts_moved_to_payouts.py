# The bank accounts now belong to the payouts app (its 0001 took them over); this drops them
# from this app's state only: the tables are the payouts app's.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('incentives', '0003_bank_account_tables_to_payouts'),
        ('payouts', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
        migrations.RemoveField(
            model_name='historicalbankaccount',
            name='facility',
        ),
        migrations.RemoveField(
            model_name='historicalbankaccount',
            name='history_user',
        ),
        migrations.RemoveField(
            model_name='historicalbankaccount',
            name='updated_by',
        ),
        migrations.DeleteModel(
            name='BankAccount',
        ),
        migrations.DeleteModel(
            name='HistoricalBankAccount',
        ),
        ]),
    ]

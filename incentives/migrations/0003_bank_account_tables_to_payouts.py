# The bank accounts move to the payouts app, which pays the money: first their tables take the
# payouts app's names, then payouts 0001 takes the models over (state only) and 0004 drops
# them from this app's state. No row is copied.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('incentives', '0002_admin_labels_and_assignment'),
    ]

    operations = [
        migrations.AlterModelTable(name='bankaccount', table='payouts_bankaccount'),
        migrations.AlterModelTable(name='historicalbankaccount',
                                   table='payouts_historicalbankaccount'),
    ]

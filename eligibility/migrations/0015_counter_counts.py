"""docs/decisions.md D8.1: imported monthly statistics are the official figure of their month; the
counter's confirmations are kept beside them (counter_card_users, counter_usage_count), are
the month's figure, provisional, until it is imported (imported_at), and an import never
overwrites them.

Existing rows: their counts are taken as official, imported now (the migration's time).
Before this, the counter added to the same columns the import overwrote, so what a row holds
cannot be split into imported and counted; the figures the rules read stay what they were,
and the counter's counts from now on are kept apart."""

from django.db import migrations, models
from django.utils import timezone


def existing_rows_are_official(apps, schema_editor):
    MonthlyStatistic = apps.get_model("eligibility", "MonthlyStatistic")
    MonthlyStatistic.objects.filter(imported_at__isnull=True).update(imported_at=timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        ('eligibility', '0014_frozen_reasons'),
    ]

    operations = [
        migrations.AddField(
            model_name='monthlystatistic',
            name='counter_card_users',
            field=models.PositiveIntegerField(db_default=0, default=0, verbose_name='利用人数（暫定・窓口の確認）'),
        ),
        migrations.AddField(
            model_name='monthlystatistic',
            name='counter_usage_count',
            field=models.PositiveIntegerField(db_default=0, default=0, verbose_name='利用件数（暫定・窓口の確認）'),
        ),
        migrations.AddField(
            model_name='monthlystatistic',
            name='imported_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='取込日時'),
        ),
        migrations.AlterField(
            model_name='monthlystatistic',
            name='card_users',
            field=models.PositiveIntegerField(default=0, verbose_name='利用人数（公式・取込）'),
        ),
        migrations.AlterField(
            model_name='monthlystatistic',
            name='usage_count',
            field=models.PositiveIntegerField(default=0, verbose_name='利用件数（公式・取込）'),
        ),
        migrations.RunPython(existing_rows_are_official, migrations.RunPython.noop),
    ]

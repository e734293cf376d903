"""Parameters with a history (docs/domain.md §5.4 "Parameters at a date"): the version in force on a
date is the most recently applied one starting on or before it, so every applied version
keeps when it was applied, and two applied versions may start on the same day (only one of
them can still be waiting). The preview counts the paid results that would change."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def applied_at_of_every_applied_version(apps, schema_editor):
    ParameterVersion = apps.get_model("eligibility", "ParameterVersion")
    ParameterVersion.objects.exclude(status="draft").filter(applied_at__isnull=True).update(
        applied_at=F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('eligibility', '0011_adjustments'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(applied_at_of_every_applied_version, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='parameterversion',
            name='one_applied_version_per_effective_date',
        ),
        migrations.AddField(
            model_name='parameterpreview',
            name='paid_down_count',
            field=models.PositiveIntegerField(default=0, verbose_name='支払済みで減額になる施設'),
        ),
        migrations.AddField(
            model_name='parameterpreview',
            name='paid_down_yen',
            field=models.PositiveBigIntegerField(default=0, verbose_name='支払済みの減額の合計（円）'),
        ),
        migrations.AddField(
            model_name='parameterpreview',
            name='paid_up_count',
            field=models.PositiveIntegerField(default=0, verbose_name='支払済みで増額になる施設'),
        ),
        migrations.AddField(
            model_name='parameterpreview',
            name='paid_up_yen',
            field=models.PositiveBigIntegerField(default=0, verbose_name='支払済みの増額の合計（円）'),
        ),
        migrations.AlterField(
            model_name='program',
            name='rule',
            field=models.CharField(choices=[('cooperation', '協力金（施術所）'), ('lump_sum', '一時金（医療機関・薬局）'), ('device_sejutsu', '補助金: 施術所の端末（実費・上限あり）'), ('device_limited', '補助金: 義務化対象外機関の端末（3/4・上限あり）'), ('reader_expansion', '補助金: 顔認証付きカードリーダー増設（1/2）'), ('rececom', '補助金: レセコン連携改修'), ('obligation', '義務化の猶予（やむを得ない事由）')], max_length=20, verbose_name='判定ルール'),
        ),
        migrations.AddConstraint(
            model_name='parameterversion',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'scheduled')), fields=('program', 'effective_from'), name='one_scheduled_version_per_effective_date'),
        ),
        migrations.AddConstraint(
            model_name='parameterversion',
            constraint=models.CheckConstraint(condition=models.Q(('status', 'draft'), ('applied_at__isnull', False), _connector='OR'), name='applied_version_has_applied_at'),
        ),
    ]

"""Revocation fails closed (docs/decisions.md D8.2): the CRLs of the trusted CAs (RevocationList), a
CA's own validity start kept beside its expiry, and a card counted at most once per facility per day
(docs/domain.md §8).

Counted confirmations already written twice or more for one card, facility and day keep the
first as counted; the later ones are marked not counted (outcome "repeat") so that the new
constraint holds. The monthly statistics they were added to are left as they were: the
counter's counts are provisional until the month's statistics are imported (docs/domain.md §8)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def fill_not_before(apps, schema_editor):
    from cryptography import x509

    TrustedIssuer = apps.get_model("cardreader", "TrustedIssuer")
    for row in TrustedIssuer.objects.filter(not_before__isnull=True):
        try:
            certificate = x509.load_pem_x509_certificate(row.certificate_pem.encode("ascii"))
        except ValueError:
            continue
        TrustedIssuer.objects.filter(pk=row.pk).update(
            not_before=certificate.not_valid_before_utc)


def uncount_repeats(apps, schema_editor):
    Confirmation = apps.get_model("cardreader", "Confirmation")
    seen = set()
    repeats = []
    for pk, facility_id, day, serial_hash in (
            Confirmation.objects.filter(counted=True).order_by("at", "pk")
            .values_list("pk", "facility_id", "day", "serial_hash").iterator()):
        key = (facility_id, day, serial_hash)
        if key in seen:
            repeats.append(pk)
        seen.add(key)
    Confirmation.objects.filter(pk__in=repeats).update(counted=False, outcome="repeat")


class Migration(migrations.Migration):

    dependencies = [
        ('cardreader', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='RevocationList',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('compressed', models.BinaryField(verbose_name='CRL（DER、zlib圧縮）')),
                ('fingerprint', models.CharField(editable=False, max_length=95, unique=True, verbose_name='SHA-256 フィンガープリント')),
                ('this_update', models.DateTimeField(editable=False, verbose_name='発行日時（thisUpdate）')),
                ('next_update', models.DateTimeField(editable=False, verbose_name='次回更新予定日時（nextUpdate）')),
                ('revoked_count', models.PositiveIntegerField(editable=False, verbose_name='失効した証明書の数')),
                ('uploaded_at', models.DateTimeField(auto_now_add=True, verbose_name='登録日時')),
            ],
            options={
                'verbose_name': '失効リスト（CRL）',
                'verbose_name_plural': '失効リスト（CRL）',
                'ordering': ['-this_update', '-pk'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='confirmation',
            name='confirmation_counted_once_per_request',
        ),
        migrations.AddField(
            model_name='historicaltrustedissuer',
            name='not_before',
            field=models.DateTimeField(editable=False, null=True, verbose_name='CA証明書の有効期間の開始'),
        ),
        migrations.AddField(
            model_name='trustedissuer',
            name='not_before',
            field=models.DateTimeField(editable=False, null=True, verbose_name='CA証明書の有効期間の開始'),
        ),
        migrations.RunPython(fill_not_before, migrations.RunPython.noop),
        migrations.RunPython(uncount_repeats, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='confirmation',
            constraint=models.UniqueConstraint(condition=models.Q(('counted', True)), fields=('facility', 'day', 'serial_hash'), name='confirmation_counted_once_per_day'),
        ),
        migrations.AddField(
            model_name='revocationlist',
            name='issuer',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='revocation_lists', to='cardreader.trustedissuer', verbose_name='発行元CA'),
        ),
        migrations.AddField(
            model_name='revocationlist',
            name='uploaded_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='登録者'),
        ),
        migrations.AddConstraint(
            model_name='revocationlist',
            constraint=models.UniqueConstraint(fields=('issuer', 'this_update'), name='revocation_list_once_per_issue'),
        ),
        migrations.AddConstraint(
            model_name='revocationlist',
            constraint=models.CheckConstraint(condition=models.Q(('next_update__gt', models.F('this_update'))), name='revocation_list_next_after_this'),
        ),
    ]

"""Demo facts for the incentive programs: monthly statistics for the demo's medical
facilities (one at the seed's worked example), a report and an attestation, a bank account;
then their results. Idempotent, and touches only the demo's facilities: a database that also
holds the synthetic national dataset (generate_dataset) keeps that data as it is."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from facilities.demo import DEMO_FACILITIES
from facilities.models import MEDICAL_KINDS, Facility, GoLive

from . import services
from .models import ActivityReport, Attestation, MonthlyStatistic, Program

MONTHS = [date(2023, 10, 1), date(2023, 11, 1), date(2023, 12, 1)] + [
    date(2024, m, 1) for m in range(1, 9)
]
# (October receipts, October users, best-month users) per demo facility, by kind.
FIGURES = {"hospital": (8000, 240, 700), "clinic": (1000, 40, 200), "dental": (120, 4, 30),
           "pharmacy": (1500, 30, 90)}


@transaction.atomic
def load_demo_incentives() -> None:
    lump_sum = Program.objects.get(code="lump-sum-2024")
    cooperation = Program.objects.get(code="cooperation-2025")
    demo = Facility.objects.filter(code__in=[code for _, code, *_ in DEMO_FACILITIES])
    for facility in demo.filter(kind__in=MEDICAL_KINDS):
        if facility.kind not in FIGURES or facility.statistics.exists():
            continue
        receipts, oct_users, best = FIGURES[facility.kind]
        for index, month in enumerate(MONTHS):
            users = oct_users + (best - oct_users) * max(0, index - 6) // 4
            MonthlyStatistic.objects.create(facility=facility, month=month, receipts=receipts,
                                            card_users=users, usage_count=users + users // 3,
                                            imported_at=timezone.now())  # as imported
        Attestation.objects.get_or_create(facility=facility, program=lump_sum,
                                          defaults={"poster": True, "informed": True})
    for golive in GoLive.objects.select_related("facility").filter(
        facility__in=demo, facility__kind__in=["judo", "ama", "acupuncture", "ama_acupuncture"]
    ):
        ActivityReport.objects.get_or_create(
            facility=golive.facility, program=cooperation,
            defaults={"voice": True, "flyer": True, "poster": False,
                      "activity_from": max(golive.date, date(2025, 5, 1)),
                      "activity_to": date(2025, 7, 31)},
        )
    facility_ids = sorted(demo.values_list("pk", flat=True))
    for program in services.open_batch_programs():
        services.run_eligibility(program=program, facility_ids=facility_ids)

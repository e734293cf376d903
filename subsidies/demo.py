"""The subsidies' part of the demo (portal/demo.py): the demo hospital received one
face-recognition reader free (§6.3). Idempotent."""

from facilities.demo import DEMO_FACILITIES
from facilities.models import Facility

from .models import FreeReaderGrant


def load_demo_grants() -> None:
    demo_codes = [code for _, code, *_ in DEMO_FACILITIES]
    for hospital in Facility.objects.filter(kind="hospital", code__in=demo_codes):
        FreeReaderGrant.objects.get_or_create(facility=hospital, defaults={"free_readers": 1})

"""Recording what happened, for the facility's history and the administrators' audit."""

from django.contrib.contenttypes.models import ContentType

from .models import Activity, Facility


def record_activity(
    *,
    facility: Facility,
    actor,
    verb: str,
    summary: str,
    target=None,
    receipt_number: str = "",
    from_state: str = "",
    to_state: str = "",
    visible_to_facility: bool = True,
) -> Activity:
    return Activity.objects.create(
        facility=facility,
        actor=actor if getattr(actor, "pk", None) else None,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=target.pk if target is not None else None,
        verb=verb,
        summary=summary,
        receipt_number=receipt_number,
        from_state=from_state,
        to_state=to_state,
        visible_to_facility=visible_to_facility,
    )

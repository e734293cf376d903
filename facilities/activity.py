"""Recording what happened, for the facility's history and the administrators' audit."""

from django.contrib.contenttypes.models import ContentType


def record_activity(
    *,
    facility,
    actor,
    verb: str,
    summary: str,
    target=None,
    receipt_number: str = "",
    from_state: str = "",
    to_state: str = "",
    visible_to_facility: bool = True,
):
    from .models import Activity

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


# How many history rows one INSERT writes (record_activities).
ACTIVITY_BATCH = 1000


def record_activities(rows) -> int:
    """Many rows of facilities' history at once (a payout run's lines, a letter to many
    施術所, the adjustments a batch proposed): each row a dict of `record_activity`'s
    arguments (`facility` or `facility_id`, `actor`, `verb`, `summary`, `target` or
    `target_type` and `target_id`, …), written as `record_activity` would, in bulk INSERTs of
    `ACTIVITY_BATCH`. `rows` may be a generator (read once, a batch at a time); the count
    written."""
    from .models import Activity

    types: dict[type, ContentType] = {}

    def content_type(target):
        model = type(target)
        if model not in types:
            types[model] = ContentType.objects.get_for_model(target)
        return types[model]

    def activity(row: dict) -> Activity:
        row = dict(row)
        actor = row.pop("actor", None)
        target = row.pop("target", None)
        if target is not None:
            row["target_type"], row["target_id"] = content_type(target), target.pk
        return Activity(actor=actor if getattr(actor, "pk", None) else None, **row)

    written = 0
    batch = []
    for row in rows:
        batch.append(activity(row))
        if len(batch) >= ACTIVITY_BATCH:
            Activity.objects.bulk_create(batch)
            written += len(batch)
            batch = []
    if batch:
        Activity.objects.bulk_create(batch)
        written += len(batch)
    return written


def is_facility_staff(obj, user) -> bool:
    """The permission of the facility's own moves (submit, resubmit): its staff only."""
    from .models import Membership

    return bool(
        user is not None and user.is_authenticated
        and Membership.objects.filter(user=user, facility_id=obj.facility_id).exists()
    )


class FacilityMoveEffects:
    """What every move of a facility's object does besides changing its state (the
    workflow kernel calls it): an entry in the facility's history and, when the move names
    one, an e-mail to the facility's staff (and `extra_recipients()`)."""

    activity_prefix = ""

    def extra_recipients(self) -> list[str]:
        return []

    def email_context(self) -> dict:
        return {}

    def after_move(self, *, move, actor, summary: str) -> None:
        from portal.notifications import notify

        from .selectors import facility_emails

        record_activity(
            facility=self.facility, actor=actor, verb=f"{self.activity_prefix}_{move.target}",
            summary=summary, target=self, receipt_number=getattr(self, "receipt_number", "") or "",
            from_state=move.source, to_state=move.target,
            visible_to_facility=move.visible_to_facility,
        )
        if move.email:
            notify(to=[*self.extra_recipients(), *facility_emails(self.facility)],
                   name=move.email,
                   context={"facility": self.facility, "detail": summary, "summary": summary,
                            **self.email_context()})


# The facility reads its history from its own side: the administrator's record says what the
# administrator did (修正をお願いしました), the facility's page what happened to it
# (修正のお願いがありました). The record itself is not changed; only its display is.
_FACILITY_WORDING: dict[str, tuple[tuple[str, str], ...]] = {
    "claim_under_review": (("審査を開始しました", "審査が始まりました"),),
    "claim_returned": (("修正をお願いしました", "修正のお願いがありました"),),
    "claim_approved": (("交付を決定しました", "交付が決定しました"),),
    "claim_rejected": (("不交付としました", "不交付となりました"),),
    "claim_paid": (("円を振り込みました", "円が振り込まれました"),),
    "application_returned": (("を差し戻しました", "が差し戻されました"),),
    "application_accepted": (("を承認しました", "が承認されました"),),
}


def facility_summary(activity) -> str:
    """An activity's summary as the facility's own history shows it."""
    text = activity.summary
    for admin_words, facility_words in _FACILITY_WORDING.get(activity.verb, ()):
        text = text.replace(admin_words, facility_words, 1)
    return text

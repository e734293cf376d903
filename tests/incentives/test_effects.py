"""Consequences before a change (docs/decisions.md D5.4.5): the effect on each money program in yen,
told before the change is made, and nothing changes without the confirmation."""

from datetime import date

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from eligibility.engine import parameters_in_force
from eligibility.models import ActivityReport, Attestation, Determination, MonthlyStatistic, Program
from facilities import services as facility_services
from facilities.models import GoLive
from incentives import effects, services
from portal import confirmation
from tests.factories import accepted_facility, make_staff

pytestmark = pytest.mark.django_db

COOPERATION = "cooperation-2025"
LUMP_SUM = "lump-sum-2024"


@pytest.fixture
def reported(client):
    """A 施術所 live from 2025-06-10 that reported its activity: 協力金 50,000円."""
    facility, user, _ = accepted_facility("judo")
    facility_services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    services.submit_activity_report(
        user=user, facility=facility, program=Program.objects.get(code=COOPERATION),
        data=services.ReportInput(voice=True, flyer=True, poster=False,
                                  activity_from=date(2025, 6, 10), activity_to=date(2025, 7, 31)))
    client.force_login(user)
    mail.outbox.clear()
    return facility, user


def _golive_change(facility, user, day):
    return lambda: facility_services.set_golive_date(user=user, facility=facility,
                                                     golive_date=day)


def _by_code(found):
    return {effect.code: effect for effect in found}


def test_moving_golive_after_the_period_loses_the_cooperation_payment(reported):
    facility, user = reported
    found = _by_code(effects.effects_of_change(
        facility=facility, change=_golive_change(facility, user, date(2025, 8, 15))))
    effect = found[COOPERATION]
    assert (effect.before, effect.after, effect.difference, effect.paid) == (50000, 0, -50000, False)
    assert effect.sentences == ["この変更で協力金（施術所・2025年）は支給対象外になります（−50,000円）。"]
    # Nothing was written, nothing sent.
    assert GoLive.objects.get(facility=facility).date == date(2025, 6, 10)
    assert not mail.outbox


def test_moving_golive_back_into_the_period_gains_the_payment(reported):
    facility, user = reported
    GoLive.objects.filter(facility=facility).update(date=date(2025, 8, 15))
    effect = _by_code(effects.effects_of_change(
        facility=facility, change=_golive_change(facility, user, date(2025, 6, 1))))[COOPERATION]
    assert (effect.before, effect.after, effect.difference) == (0, 50000, 50000)
    assert effect.sentences == [
        "この変更で協力金（施術所・2025年）は支給対象になります（50,000円、+50,000円）。"]


def test_a_change_within_the_period_changes_nothing(reported):
    facility, user = reported
    effect = _by_code(effects.effects_of_change(
        facility=facility, change=_golive_change(facility, user, date(2025, 6, 1))))[COOPERATION]
    assert effect.difference == 0
    assert effect.sentences == ["この変更で協力金（施術所・2025年）の金額は変わりません（50,000円）。"]


def test_a_paid_result_says_the_difference_becomes_an_adjustment(reported,
                                                                 django_capture_on_commit_callbacks):
    facility, user = reported
    determination = _paid_determination(facility)
    assert determination.amount == 50000
    effect = _by_code(effects.effects_of_change(
        facility=facility, change=_golive_change(facility, user, date(2025, 8, 15))))[COOPERATION]
    assert (effect.before, effect.after, effect.difference, effect.paid) == (50000, 0, -50000, True)
    assert effect.sentences[1].startswith("支払済みのため、差額は調整として審査されます")
    assert "返還" in effect.sentences[1]


def _paid_determination(facility):
    """The facility's 協力金 result as the batch stores it, put into a payout run."""
    from eligibility.engine import result_under

    program = Program.objects.get(code=COOPERATION)
    version = parameters_in_force(program)
    result = result_under(version, facility.pk)
    return Determination.objects.create(
        facility=facility, program=program, parameter_version=version,
        eligible=result.eligible, amount=result.amount, determined_at=timezone.now(),
        payout_locked=True)


def _token(response) -> str:
    body = response.content.decode()
    return body.split('name="confirmation" value="', 1)[1].split('"', 1)[0]


# ------------------------------------------------------------------ go-live (facilities)

def test_golive_change_is_confirmed_with_its_effect_before_anything_changes(client, reported):
    facility, _ = reported
    url = reverse("facilities:golive", args=[facility.pk])
    response = client.post(url, {"date": "2025-08-15"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "この変更で協力金（施術所・2025年）は支給対象外になります（−50,000円）。" in body
    assert "この内容で登録する" in body and "戻って修正する" in body
    assert GoLive.objects.get(facility=facility).date == date(2025, 6, 10)  # not yet
    assert not mail.outbox
    response = client.post(url, {"confirmation": _token(response), "confirm": ""})
    assert response.status_code == 302
    assert GoLive.objects.get(facility=facility).date == date(2025, 8, 15)


def test_golive_back_keeps_the_typed_value_and_changes_nothing(client, reported):
    facility, _ = reported
    url = reverse("facilities:golive", args=[facility.pk])
    token = _token(client.post(url, {"date": "２０２５／０８／１５"}))
    body = client.post(url, {"confirmation": token, "back": ""}).content.decode()
    assert 'value="２０２５／０８／１５"' in body or 'value="2025/08/15"' in body
    assert "この内容で登録する" not in body
    assert GoLive.objects.get(facility=facility).date == date(2025, 6, 10)


def test_a_tampered_or_foreign_confirmation_is_refused(client, reported):
    facility, user = reported
    url = reverse("facilities:golive", args=[facility.pk])
    token = _token(client.post(url, {"date": "2025-08-15"}))
    forged = signing.dumps({"user": user.pk, "facility": facility.pk,
                            "values": {"date": "2025-07-01"}, "shown": None},
                           salt="portal.confirmation.other")
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "x"):
        body = client.post(url, {"confirmation": bad, "confirm": ""}).content.decode()
        assert confirmation.REFUSED in body
    # Another person's confirmation (same facility) is not theirs to use.
    other = make_staff(facility)
    client.force_login(other)
    body = client.post(url, {"confirmation": token, "confirm": ""}).content.decode()
    assert confirmation.REFUSED in body
    assert GoLive.objects.get(facility=facility).date == date(2025, 6, 10)


def test_an_expired_confirmation_is_refused(client, reported, settings, monkeypatch):
    facility, _ = reported
    url = reverse("facilities:golive", args=[facility.pk])
    token = _token(client.post(url, {"date": "2025-08-15"}))
    monkeypatch.setattr(confirmation, "MAX_AGE_SECONDS", -1)
    body = client.post(url, {"confirmation": token, "confirm": ""}).content.decode()
    assert confirmation.REFUSED in body
    assert GoLive.objects.get(facility=facility).date == date(2025, 6, 10)


def test_a_change_by_someone_else_between_the_steps_asks_again(client, reported):
    facility, user = reported
    url = reverse("facilities:golive", args=[facility.pk])
    token = _token(client.post(url, {"date": "2025-08-15"}))
    # Someone else moves the date meanwhile: the effect is not what was shown any more.
    GoLive.objects.filter(facility=facility).update(date=date(2025, 8, 1))
    response = client.post(url, {"confirmation": token, "confirm": ""})
    body = response.content.decode()
    assert response.status_code == 200
    assert confirmation.CHANGED in body
    assert "この変更で協力金（施術所・2025年）の金額は変わりません（0円）。" in body
    assert GoLive.objects.get(facility=facility).date == date(2025, 8, 1)
    # Confirmed again on the new page: now it is registered.
    assert client.post(url, {"confirmation": _token(response), "confirm": ""}).status_code == 302
    assert GoLive.objects.get(facility=facility).date == date(2025, 8, 15)


def test_the_confirm_step_validates_again(client, reported):
    """A service refusal at the confirm step (the date left the window meanwhile) goes to
    the form, nothing written."""
    facility, user = reported
    url = reverse("facilities:golive", args=[facility.pk])
    token = _token(client.post(url, {"date": "2025-08-15"}))
    from facilities import services as fs

    original = fs.usage_window
    fs.usage_window = lambda: (date(2025, 1, 1), date(2025, 8, 1))
    try:
        body = client.post(url, {"confirmation": token, "confirm": ""}).content.decode()
    finally:
        fs.usage_window = original
    assert "までの日付を入力してください" in body
    assert GoLive.objects.get(facility=facility).date == date(2025, 6, 10)


# ------------------------------------------------------------------ money page (impossible range)

def test_report_page_after_a_late_golive_says_why_not_eligible(client, reported):
    facility, _ = reported
    GoLive.objects.filter(facility=facility).update(date=date(2025, 8, 15))
    body = client.get(reverse("incentives:report", args=[facility.pk, COOPERATION])
                      ).content.decode()
    assert "運用開始日が実施期間の終了（令和7年7月31日）より後のため、協力金の対象外です" in body
    assert "令和7年8月15日（この施設の運用開始日）から令和7年7月31日まで" not in body
    assert "令和7年8月15日〜令和7年7月31日" not in body


# ------------------------------------------------------------------ 実施報告 / attestation

REPORT = {"voice": "on", "flyer": "on", "activity_from": "2025-06-10",
          "activity_to": "2025-07-31"}


def test_report_change_that_loses_the_payment_is_confirmed_first(client, reported):
    facility, _ = reported
    url = reverse("incentives:report", args=[facility.pk, COOPERATION])
    data = {"voice": "on", "activity_from": "2025-06-10", "activity_to": "2025-07-31"}
    response = client.post(url, data)  # no flyer, no poster: ② missing
    body = response.content.decode()
    assert "この変更で協力金（施術所・2025年）は支給対象外になります（−50,000円）。" in body
    assert ActivityReport.objects.get(facility=facility).flyer is True  # not yet
    back = client.post(url, {"confirmation": _token(response), "back": ""}).content.decode()
    assert 'name="voice" checked' in back.replace('" checked', ' checked') or "checked" in back
    assert 'value="2025-06-10"' in back
    assert ActivityReport.objects.get(facility=facility).flyer is True
    assert client.post(url, {"confirmation": _token(response), "confirm": ""}).status_code == 302
    assert ActivityReport.objects.get(facility=facility).flyer is False


def test_first_report_shows_the_payment_it_brings(client):
    facility, user, _ = accepted_facility("judo")
    facility_services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    client.force_login(user)
    url = reverse("incentives:report", args=[facility.pk, COOPERATION])
    response = client.post(url, REPORT)
    assert ("この変更で協力金（施術所・2025年）は支給対象になります（50,000円、+50,000円）。"
            in response.content.decode())
    assert not ActivityReport.objects.exists()
    client.post(url, {"confirmation": _token(response), "confirm": ""})
    assert ActivityReport.objects.filter(facility=facility).exists()


def test_report_confirmation_of_another_program_or_form_is_refused(client, reported):
    facility, _ = reported
    url = reverse("incentives:report", args=[facility.pk, COOPERATION])
    token = _token(client.post(reverse("facilities:golive", args=[facility.pk]),
                               {"date": "2025-06-01"}))
    body = client.post(url, {"confirmation": token, "confirm": ""}).content.decode()
    assert confirmation.REFUSED in body


def _clinic_with_statistics(best_users: int):
    """A clinic at 4% in October 2023 (1,000 receipts, 40 users)."""
    facility, user, _ = accepted_facility("clinic")
    MonthlyStatistic.objects.create(facility=facility, month=date(2023, 10, 1), receipts=1000,
                                    card_users=40, usage_count=40,
                                    imported_at=timezone.now())
    MonthlyStatistic.objects.create(facility=facility, month=date(2024, 6, 1), receipts=1000,
                                    card_users=best_users, usage_count=best_users,
                                    imported_at=timezone.now())
    return facility, user


def test_attestation_that_completes_the_lump_sum_shows_the_amount(client):
    facility, user = _clinic_with_statistics(best_users=200)  # +160: 200,000円 (docs/domain.md §5.2)
    client.force_login(user)
    url = reverse("incentives:attest", args=[facility.pk, LUMP_SUM])
    response = client.post(url, {"poster": "on", "informed": "on"})
    body = response.content.decode()
    assert ("この変更で一時金（医療機関・薬局・2024年）は支給対象になります（200,000円、+200,000円）。"
            in body)
    assert not Attestation.objects.exists()
    client.post(url, {"confirmation": _token(response), "confirm": ""})
    assert Attestation.objects.get(facility=facility).informed is True


def test_a_statistics_change_from_one_amount_to_another(client):
    facility, user = _clinic_with_statistics(best_users=110)  # +70: 100,000円
    services.submit_attestation(user=user, facility=facility,
                                program=Program.objects.get(code=LUMP_SUM),
                                poster=True, informed=True)

    def change():
        MonthlyStatistic.objects.filter(facility=facility, month=date(2024, 6, 1)).update(
            card_users=120)  # +80: 150,000円

    effect = _by_code(effects.effects_of_change(facility=facility, change=change))[LUMP_SUM]
    assert (effect.before, effect.after, effect.difference) == (100000, 150000, 50000)
    assert effect.sentences == [
        "この変更で一時金（医療機関・薬局・2024年）は 100,000円 から 150,000円 になります（+50,000円）。"]
    assert MonthlyStatistic.objects.get(facility=facility, month=date(2024, 6, 1)).card_users == 110


def test_withdrawing_the_attestation_after_payment_is_an_adjustment(client):
    facility, user = _clinic_with_statistics(best_users=200)
    program = Program.objects.get(code=LUMP_SUM)
    services.submit_attestation(user=user, facility=facility, program=program,
                                poster=True, informed=True)
    from django.utils import timezone

    from eligibility.engine import parameters_in_force

    Determination.objects.create(facility=facility, program=program,
                                 parameter_version=parameters_in_force(program), eligible=True,
                                 amount=200000, determined_at=timezone.now(),
                                 payout_locked=True)
    client.force_login(user)
    body = client.post(reverse("incentives:attest", args=[facility.pk, LUMP_SUM]),
                       {"poster": "on"}).content.decode()
    assert "この変更で一時金（医療機関・薬局・2024年）は支給対象外になります（−200,000円）。" in body
    assert "支払済みのため、差額は調整として審査されます" in body
    assert Attestation.objects.get(facility=facility).informed is True

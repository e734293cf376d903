"""Demo data for a newcomer's portal: facilities of every kind, an annexed pair, staff users,
an administrator, and one facility at each step of the journey. Idempotent."""

import uuid
from dataclasses import dataclass
from datetime import date

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from portal import invitations, roles
from portal.demo import demo_user

from . import services
from .codes import with_check_digit
from .models import ApplicationKind, Facility, UsageApplication

# (kind, code, name, prefecture, address, founder, last4)
DEMO_FACILITIES = [
    ("hospital", with_check_digit("131000001"), "みなと中央病院", "13", "港区芝公園1-1-1", "港 太郎", "1234"),
    ("clinic", with_check_digit("131000002"), "さくら内科クリニック", "13", "新宿区西新宿2-2-2", "桜 花子", "2345"),
    ("dental", with_check_digit("273000003"), "なにわ歯科医院", "27", "大阪市北区梅田3-3-3", "難波 次郎", "3456"),
    ("pharmacy", with_check_digit("014000004"), "ほっかい調剤薬局", "01", "札幌市中央区北1条西4-4", "北 三郎", "4567"),
    ("judo", "契1300001", "あおば整骨院", "13", "世田谷区三軒茶屋5-5-5", "青葉 四郎", "5678"),
    ("ama_acupuncture", "協1300002", "ひかり鍼灸マッサージ院", "13", "杉並区高円寺6-6-6", "光 五郎", "6789"),
    ("ama_acupuncture", "協1300003", "ひかり鍼灸マッサージ院 分院", "13", "杉並区高円寺6-6-7", "光 五郎", "6790"),
    ("acupuncture", "協4000004", "はかた鍼灸院", "40", "福岡市博多区博多駅前7-7-7", "博多 六郎", "7890"),
    ("ama", "協2300005", "なごやマッサージ指圧院", "23", "名古屋市中区栄8-8-8", "栄 七子", "8901"),
]

# Postcodes of the demo's addresses (made up, in the shape of real ones): printed with 〒 on
# their letters.
DEMO_POSTCODES = {"13": "105-0011", "27": "530-0001", "01": "060-0001", "40": "812-0011",
                  "23": "460-0008"}


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    facility: str
    # Administrators: the one-time link that sets up their two-factor (empty once set up).
    invitation: str = ""


# One administrator per role (portal/roles.py), besides the superuser who manages accounts.
DEMO_ADMINISTRATORS = [
    ("reviewer@example.jp", roles.REVIEWER),
    ("approver@example.jp", roles.APPROVER),
    ("payout@example.jp", roles.PAYOUT_OFFICER),
    ("viewer@example.jp", roles.VIEWER),
    ("sysadmin@example.jp", roles.SYSTEM_ADMIN),
]


def _invite(user) -> str:
    """An administrator sets up two-factor only through an invitation (portal/invitations.py):
    a fresh link for one not set up yet (its e-mail is not sent by load_demo), else ""."""
    if invitations.has_authenticator(user):
        return ""
    return invitations.issue_invitation(user=user)[1]


@transaction.atomic
def load_demo() -> list[DemoLogin]:
    facilities = {}
    for kind, code, name, prefecture, address, founder, last4 in DEMO_FACILITIES:
        facility, _ = Facility.objects.update_or_create(
            code=code,
            defaults={"kind": kind, "name": name, "prefecture": prefecture, "address": address,
                      "postcode": DEMO_POSTCODES[prefecture],
                      "founder_name": founder, "phone": "03-1234-5678",
                      "account_last4": last4},
        )
        facilities[code] = facility
    main, sub = facilities["協1300002"], facilities["協1300003"]
    if sub.main_facility_id != main.pk:
        services.set_main_facility(facility=sub, main=main)

    admin, admin_password = demo_user("admin@example.jp", staff=True, full_name="実施機関 管理者")
    logins = [DemoLogin("管理者（全権限）", admin.email, admin_password, "—", _invite(admin))]
    for email, role in DEMO_ADMINISTRATORS:
        user, password = demo_user(email, staff=True, superuser=False, full_name=f"実施機関 {role}")
        user.groups.set(Group.objects.filter(name=role))
        logins.append(DemoLogin(role, email, password, "—", _invite(user)))
    journeys = [
        # (facility code, staff e-mail, how far along)
        (DEMO_FACILITIES[4][1], "seikotsu@example.jp", "new"),
        (DEMO_FACILITIES[1][1], "clinic@example.jp", "submitted"),
        (DEMO_FACILITIES[5][1], "shinkyu@example.jp", "live"),
        (DEMO_FACILITIES[0][1], "hospital@example.jp", "accepted"),
    ]
    for code, email, stage in journeys:
        facility = facilities[code]
        user, password = demo_user(email, staff=False, full_name=f"{facility.name} 担当")
        # Trusted setup: the demo's staff are made staff directly, not through a request.
        services.add_staff(user=user, facility=facility)
        if stage == "live":
            services.add_staff(user=user, facility=sub)
        logins.append(DemoLogin("施設担当者", email, password, facility.name))
        if stage == "new" or UsageApplication.objects.filter(
            facility=facility, kind=ApplicationKind.START
        ).exists():
            continue
        application = services.submit_usage_application(
            user=user, facility=facility, kind=ApplicationKind.START, token=uuid.uuid4(),
            data=services.ApplicationInput(
                contact_name=user.full_name, founder_name=facility.founder_name,
                phone=facility.phone, email=email, staff_count=3, device_count=2,
            ),
        )
        if stage in ("accepted", "live"):
            services.accept_application(application=application, actor=admin)
        if stage == "live":
            services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
            for account in facility.device_accounts.all():
                services.issue_device_credentials(account=account, actor=user)
    logins += _demo_link_requests(facilities)
    services.rebuild_public_list()
    return logins


def unlinked_notes() -> list[str]:
    """The demo's facilities nobody serves yet: their code and the last four digits of their
    claims account (what 「施設の確認」 asks), so that a newcomer can link one. Only the last
    four digits: the master keeps no more."""
    unlinked = Facility.objects.filter(
        code__in=[code for _kind, code, *_ in DEMO_FACILITIES], memberships__isnull=True,
    ).order_by("code")
    if not unlinked:
        return []
    lines = ["担当者がまだいない施設（ユーザー登録のあと「施設を追加する（施設の確認）」で試せます）:"]
    lines += [f"  {f.code:<12} 口座番号下4桁: {f.account_last4}  {f.name}（{f.get_kind_display()}）"
              for f in unlinked]
    return lines


def _demo_link_requests(facilities: dict) -> list[DemoLogin]:
    """Two users who asked to become staff, through the form's own service: one of a
    facility with staff (its staff approve it on 「担当者」), one of a facility without any (a
    reviewer prints its letter in the admin)."""
    logins = []
    for email, code in (("newstaff@example.jp", DEMO_FACILITIES[5][1]),
                        ("firststaff@example.jp", DEMO_FACILITIES[2][1])):
        facility = facilities[code]
        user, password = demo_user(email, staff=False, full_name=f"{facility.name} 新任")
        if not (user.memberships.filter(facility=facility).exists()
                or user.link_requests.filter(facility=facility, state="pending",
                                             expires_at__gt=timezone.now()).exists()):
            services.request_facility_link(user=user, code=code,
                                           account_last4=facility.account_last4)
        logins.append(DemoLogin("登録の申請中", email, password, facility.name))
    return logins

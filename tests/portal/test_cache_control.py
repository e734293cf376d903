"""`Cache-Control: private, no-store` on every answer to a signed-in user
(docs/decisions.md D1.2): no shared cache keeps マイページ, a facility's pages, its payments,
bank account, receipts or decision notices, nor any admin page, file or export, and the browser
keeps none of it on disk; the public pages keep their caching (portal.middleware.PrivateResponsesNotStored)."""

import pytest
from django.test import Client
from django.urls import reverse

from portal import roles
from subsidies import services as claim_services
from tests.facilities.test_access_control import FACILITY_SCOPED, _victim, with_a_check
from tests.factories import claim_under_review, login_admin, make_admin
from tests.portal import test_permission_matrix as matrix

pytestmark = pytest.mark.django_db

# The facility's private files: (URL name, method). The settings PDF is issued by a POST.
FILES = {"facilities:account_settings_pdf": "post", "payouts:notice": "get",
         "subsidies:document": "get"}
# Signed-in pages outside a facility.
ACCOUNT_PAGES = ["/dashboard/", "/facilities/link/", "/todos/reminders/", "/accounts/2fa/",
                 "/accounts/email/", "/accounts/password/change/"]
PUBLIC_PAGES = ["/", "/public/", "/public/facilities.csv", "/simulator/",
                "/simulator/?kind=clinic&oct_receipts=1000&oct_users=40&best_users=200",
                "/obligation/sessions/apply/"]


def _private(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= directives


@pytest.fixture
def victim():
    """The access-control test's facility with an object behind every facility-scoped URL,
    made for the test (this module's other tests make the permission matrix's world)."""
    return with_a_check(_victim())


def test_every_facility_page_and_file_is_private_and_not_stored(client, victim):
    client.force_login(victim["application"].submitted_by)
    stored, files = [], []
    for name, more in sorted(FACILITY_SCOPED.items()):
        url = reverse(name, kwargs={"facility_id": victim["facility"].pk, **more(victim)})
        response = getattr(client, FILES.get(name, "get"))(url)
        if name in FILES:
            files.append((name, response.status_code, response["Content-Type"]))
        if not _private(response):
            stored.append(f"{name} {url}: {response.status_code} "
                          f"{response.get('Cache-Control')!r}")
    assert not stored, "\n".join(stored)
    assert files == [(name, 200, "application/pdf") for name in sorted(FILES)]


def test_the_decision_notice_pdf_is_private_and_not_stored(client):
    claim = claim_under_review()
    claim = claim_services.approve_claim(claim=claim, actor=make_admin(roles.APPROVER))
    client.force_login(claim.facility.memberships.first().user)
    response = client.get(reverse("subsidies:notice", args=[claim.facility_id, claim.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert _private(response)


@pytest.mark.parametrize("url", ACCOUNT_PAGES)
def test_the_signed_in_pages_outside_a_facility_are_private(staff_client, url):
    response = staff_client.get(url)
    assert response.status_code == 200, url
    assert _private(response), response.get("Cache-Control")


def test_a_redirect_or_refusal_to_a_signed_in_user_is_private_too(staff_client):
    for response in (staff_client.get("/"), staff_client.get("/facilities/99999999/"),
                     staff_client.get("/admin/")):
        assert response.status_code in (302, 404), response.status_code
        assert _private(response)


def test_every_admin_page_file_and_export_is_private_and_not_stored():
    """The permission matrix's world, every admin URL of it (lists, change pages, history,
    the review page, receipts, the 全銀 file, letter ZIPs, CSV exports), as the superuser."""
    world = matrix._world()
    client = login_admin(Client(), make_admin(superuser=True))
    stored, answered = [], 0
    for label, obj in world.items():
        if label not in matrix.POLICY:
            continue
        for what, url, _allowed in matrix._urls(label, obj, world):
            response = client.get(url)
            answered += response.status_code == 200
            if not _private(response):
                stored.append(f"{label} {what} {url}: {response.status_code}")
    assert not stored, "\n".join(stored)
    assert answered > 200


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_the_public_pages_keep_their_caching(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    assert "no-store" not in response.get("Cache-Control", ""), response.get("Cache-Control")
    assert "private" not in response.get("Cache-Control", "")

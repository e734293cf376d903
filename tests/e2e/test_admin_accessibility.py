"""Accessibility of the administrators' pages: axe-core's WCAG 2.1 A and AA rules (as
test_accessibility runs them) on the log-in with its two-factor step (with errors shown), the
admin index, every registered model's list, change form and history, the add forms, every
custom page (previews, imports, dashboards, letters, payout runs, workflow moves) and forms
with their errors shown, and the delete confirmations (of every object a superuser may delete,
and of the "delete selected" action; never confirmed). The objects are the permission matrix's
world: one of every model."""

import pytest
from django.contrib import admin
from django.urls import reverse
from playwright.sync_api import expect

from eligibility.models import ParameterPreview, ParameterVersion, PreviewState
from eligibility.services import params_hash
from obligation.models import LetterBatch, LetterBatchState
from tests.e2e.conftest import current_totp_code, stop_reloading
from tests.e2e.test_accessibility import _check, _report
from tests.factories import PASSWORD, AdminFactory
from tests.portal.test_permission_matrix import FORM_PAGES, POLICY, SU, _urls, _world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Pages that answer with a file, not a page.
FILES = ("_csv", "_export", "_file", "_download", "_notice")

# Violations in Django's own admin markup that no template override or CSS can reach
# (rule id, axe's selector) → why. Empty while none is known.
DJANGO_ADMIN_EXCLUSIONS: dict[tuple[str, str], str] = {}


def _admin_pages(world) -> list[tuple[str, str]]:
    """(label, url) of every admin page a superuser opens: the standard pages of every
    model (the delete confirmation of those it may delete), its custom pages and its
    workflow moves, but for the files."""
    pages = [("index", reverse("admin:index")),
             ("an app's index", reverse("admin:app_list", args=["facilities"]))]
    for label in POLICY:
        for what, url, allowed in _urls(label, world[label], world):
            # Every history page is one template (portal/admin_history.py): a claim's (all
            # three trails) and a facility's (its whole history, linked entries) are enough.
            if what == "history" and label not in ("subsidies.claim", "facilities.facility"):
                continue
            if SU not in allowed or what.endswith(FILES):
                continue
            pages.append((f"{label} {what}", url))
    # Pages that follow a running background job (they reload themselves, with a button
    # that stops it): a parameter preview and a letter batch, as they look while running.
    version = world["eligibility.parameterversion"]
    draft = ParameterVersion.objects.create(
        program=version.program, version=version.version + 100, params=version.params,
        effective_from=version.effective_from, notice="確認中の下書き")
    ParameterPreview.objects.create(version=draft, params_hash=params_hash(draft.params), total=10, done=4,
                                    state=PreviewState.RUNNING)
    letters = world["obligation.letterbatch"]
    running = LetterBatch.objects.create(kind=letters.kind, state=LetterBatchState.RUNNING,
                                         facility_ids=letters.facility_ids, total=4, done=1,
                                         created_by=letters.created_by)
    pages += [("a running preview", reverse("admin:eligibility_parameterversion_preview",
                                            args=[draft.pk])),
              ("a running letter batch", reverse("admin:obligation_letterbatch_change",
                                                 args=[running.pk]))]
    job = world["portal.importjob"]  # a statistics import's job: its page and confirmation
    pages += [("import job", reverse("admin:eligibility_monthlystatistic_import_job",
                                     args=[job.pk])),
              ("import confirm", reverse("admin:eligibility_monthlystatistic_import_confirm",
                                         args=[job.pk]))]
    return pages


# Custom pages with a form, sent empty (their errors shown), and an action that asks for more
# on a page of its own.
FORMS_SENT_EMPTY = FORM_PAGES | {"facilities_facility_import",
                                 "eligibility_monthlystatistic_import"}
# Django's "delete selected" is offered wherever the superuser may delete; its confirmation
# is one template for every model (a facility's is refused: its evidence may not be deleted).
ACTION_PAGES = [("obligation.compliancestatus", "request_letters"),
                ("obligation.compliancestatus", "guidance_letters"),
                ("facilities.membership", "delete_selected")]


def test_admin_log_in_with_two_factor(new_page):
    administrator = AdminFactory()
    problems = {}
    page = new_page()
    page.goto("/admin/")
    _check(page, "admin log-in", problems)
    page.locator("input[name=login]").fill(administrator.email)
    page.locator("input[name=password]").fill("Wrong2025Password")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    _check(page, "admin log-in with an error", problems)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("input[name=code]")).to_be_visible()
    _check(page, "admin two-factor code", problems)
    page.locator("input[name=code]").fill("000000")
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator(".error-summary")).to_be_visible()
    _check(page, "admin two-factor code with an error", problems)
    page.locator("input[name=code]").fill(current_totp_code(administrator.email))
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("#site-name")).to_contain_text("オンライン資格確認ポータル 管理")
    _check(page, "admin index", problems)
    assert not problems, _report(problems)


# The walk is cut into parts that xdist's workers share (each part logs in once and opens
# every WALK_PARTS-th step of the same list), instead of one test of a minute or more.
WALK_PARTS = 4


def _walk(world) -> list[tuple[str, str, str]]:
    """(kind, label, url or action) of every step of the walk: the pages, the custom forms
    sent empty, the actions that ask for more on a page of their own."""
    steps = [("page", label, url) for label, url in _admin_pages(world)]
    for label in POLICY:
        for what, url, _allowed in _urls(label, world[label], world):
            if what in FORMS_SENT_EMPTY:
                steps.append(("form", what, url))
    steps += [("action", label, action) for label, action in ACTION_PAGES]
    return steps


@pytest.mark.parametrize("part", range(WALK_PARTS), ids=lambda part: f"part{part + 1}")
def test_every_admin_page(new_page, admin_log_in, part):
    world = _world()
    administrator = AdminFactory()
    page = new_page()
    admin_log_in(page, administrator.email)
    problems = {}
    steps = _walk(world)
    assert sum(kind == "page" for kind, _label, _url in steps) > 100, len(steps)
    for kind, label, url in steps[part::WALK_PARTS]:
        if kind == "page":
            response = page.goto(url)
            assert response.ok, f"{label} {url}: {response.status}"
            assert response.headers["content-type"].startswith("text/html"), (label, url)
            if label.startswith("a running"):  # shown as running, reloading itself
                expect(page.locator("[data-auto-refresh] [data-refresh-toggle]")).to_be_visible()
            refresh = page.get_by_role("button", name="自動更新を止める")
            if refresh.count():  # a running job's page: its reloading can be stopped (and stays so)
                stop_reloading(page)
            _check(page, label, problems, exclude=DJANGO_ADMIN_EXCLUSIONS)
        elif kind == "form":
            page.goto(url)
            with page.expect_navigation():
                page.locator("#content form [type=submit]").first.click()
            _check(page, f"{label} sent empty", problems, exclude=DJANGO_ADMIN_EXCLUSIONS)
        else:
            app, model = label.split(".")
            page.goto(reverse(f"admin:{app}_{model}_changelist"))
            page.locator("#result_list input.action-select").first.check()
            page.locator("select[name=action]").select_option(url)
            with page.expect_navigation():
                page.locator("button[name=index], input[name=index]").first.click()
            expect(page.locator("#content form").first).to_be_visible()
            _check(page, f"{label} action {url}", problems, exclude=DJANGO_ADMIN_EXCLUSIONS)
    # The delete confirmations were only looked at.
    assert all(type(obj).objects.filter(pk=obj.pk).exists() for obj in world.values())
    assert not problems, _report(problems)


def test_admin_forms_with_their_errors(new_page, admin_log_in):
    """Every add form of a model that has one, sent empty: its errors shown."""
    administrator = AdminFactory()
    page = new_page()
    admin_log_in(page, administrator.email)
    problems = {}
    sent = 0
    for model in admin.site._registry:
        label = model._meta.label_lower
        if SU not in POLICY[label][1]:
            continue
        page.goto(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add"))
        with page.expect_navigation():
            page.locator("#content-main form input[name=_save]").click()
        if page.locator(".errornote").count():
            sent += 1
            _check(page, f"{label} add with errors", problems,
                   exclude=DJANGO_ADMIN_EXCLUSIONS)
    assert sent >= 5, sent
    assert not problems, _report(problems)

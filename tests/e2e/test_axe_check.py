"""The accessibility check itself (test_accessibility._check): a page whose style sheets were
already checked is checked without axe's preloading, and every rule still finds what it must
(a missing alternative text, a colour contrast of 1.16:1)."""

import pytest

from tests.e2e.test_accessibility import _check

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BREAK_THE_PAGE = """() => {
    document.querySelector("main").insertAdjacentHTML("beforeend", "<img src=/x.png>");
    const faint = document.createElement("div");
    faint.textContent = "薄い文字";
    faint.style.color = "#eee";
    faint.style.background = "#fff";
    document.querySelector("main").appendChild(faint);
}"""


def test_a_page_checked_without_preloading_still_shows_its_violations(new_page):
    page = new_page()
    page.goto("/")
    problems = {}
    _check(page, "home", problems)  # its style sheets are now known
    assert not problems
    page.evaluate(BREAK_THE_PAGE)
    _check(page, "home broken", problems)
    found = " ".join(line for lines in problems.values() for line in lines)
    assert "image-alt" in found and "color-contrast" in found, found

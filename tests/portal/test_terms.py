"""One spelling of each term (docs/domain.md §10, portal/terms.py) on every page, e-mail and
message."""

from pathlib import Path

import pytest

from portal.terms import wrong_variants_in

ROOT = Path(__file__).resolve().parents[2]
# Templates users read, and the code that writes messages, summaries and labels.
SOURCES = [
    *sorted((ROOT / "templates").rglob("*.html")),
    *sorted((ROOT / "templates").rglob("*.txt")),
    *sorted((ROOT / "portal" / "templates").rglob("*.html")),
    *(path for app in ("portal", "facilities", "incentives", "subsidies", "eligibility",
                       "eligibility/rules", "todos")
      for path in sorted((ROOT / app).glob("*.py")) if path.name != "terms.py"),
]


def test_no_template_or_message_uses_a_wrong_variant():
    found = []
    for path in SOURCES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for variant, term in wrong_variants_in(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: 「{variant}」→「{term}」")
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("患者へのお声かけ", [("お声かけ", "お声掛け"), ("声かけ", "お声掛け")]),
        ("チラシの配布", [("チラシの配布", "チラシ配付"), ("配布", "配付")]),
        ("ユーザ登録", [("ユーザ", "ユーザー")]),
        ("多要素認証", [("多要素認証", "二段階認証")]),
        ("ユーザー登録・お声掛け・チラシ配付・二段階認証", []),
        ("マイナ資格確認アプリ ユーザ設定情報", []),  # the app's document title
    ],
)
def test_the_glossary_finds_wrong_variants(text, expected):
    assert wrong_variants_in(text) == expected

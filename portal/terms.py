"""The portal's glossary (docs/domain.md §10): one spelling of each term on every page, e-mail, PDF
and admin screen. Pages and e-mails write the term itself; this module keeps the list, with the
variants that must not appear, and tests/portal/test_terms.py greps the templates and code
for those variants."""

# The spelling to use → variants that must not appear anywhere users read.
TERMS: dict[str, tuple[str, ...]] = {
    "お声掛け": ("お声かけ", "お声がけ", "声かけ"),
    "チラシ配付": ("チラシ配布", "チラシの配布"),
    "配付": ("配布",),
    "ポスター掲示": (),
    "ユーザー": ("ユーザ",),
    "二段階認証": ("多要素認証", "二要素認証", "2段階認証", "２段階認証"),
    "運用開始日": (),
    "利用開始申請": (),
    "利用終了・変更申請": (),
    "振込先口座": (),
    "受付番号": (),
    "差戻し": (),
    "交付決定": (),
    "不交付": (),
    "振込済": ("振込済み",),
    "振込不能": (),
    "資格確認アカウント": (),
    "マイナ資格確認アプリ": (),
    "施術所": (),
    "医療機関・薬局": (),
    "協力金": (),
    "一時金": (),
    "補助金": (),
}

# Names of documents that are written as their issuer writes them: the app's own
# 「マイナ資格確認アプリ ユーザ設定情報」 is a title, not our wording of ユーザー.
DOCUMENT_TITLES: tuple[str, ...] = ("ユーザ設定情報",)


def wrong_variants_in(text: str) -> list[tuple[str, str]]:
    """(variant found, term to write instead) for every wrong variant in `text`; a variant
    that is part of the right term (ユーザ in ユーザー) or of a document title is not one."""
    for title in DOCUMENT_TITLES:
        text = text.replace(title, "")
    found = []
    for term, variants in TERMS.items():
        cleaned = text.replace(term, "")
        for variant in variants:
            if variant in cleaned:
                found.append((variant, term))
    return found

"""The facility kinds each program family is about (docs/domain.md §2), in one place. Pure Python
(no Django), so that the rules in eligibility/rules can use them too."""

MEDICAL_KINDS = frozenset({"hospital", "clinic", "dental", "pharmacy"})  # 医療機関・薬局
SEJUTSU_KINDS = frozenset({"judo", "ama", "acupuncture", "ama_acupuncture"})  # 施術所

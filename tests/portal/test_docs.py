"""The repository cites only its own documentation (docs/README.md, "Citing").

Code, tests and READMEs cite the specification as "docs/domain.md §N", decisions as
"docs/decisions.md D…" and the other documents by a heading's anchor
("docs/architecture.md#layers"). These tests fail when a file outside docs/ cites the
specification's old home or the tracker's numbers instead, and when a citation names a section,
decision or anchor that docs/ does not have. Pure file reading: no database.
"""

import os
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SKIPPED_DIRS = {".venv", "venv", "node_modules", "docs", "__pycache__", "staticfiles", "media"}
THIS_FILE = Path(__file__).resolve()

# What must not be cited outside docs/ in *.py and *.md: a folder named "shared" beside the
# repository, or an issue number of the tracker (either case). Spelt in pieces so that this file
# does not match itself.
FORBIDDEN = re.compile("shared" + "/" + "|" + "[Ii]ssue" + " [0-9]")
# The old names of the specification and the style guide, as citations.
OLD_CITATION = re.compile(r"\bDOMAIN(?:\.md\b|\s+§)|\bSTYLE\.md\b")

# "docs/domain.md §5.4", "[docs/domain.md](../docs/domain.md) §2–§4", "docs/domain.md §8 → §5.2,
# §6.3": every § number that follows.
DOMAIN_CITATION = re.compile(
    r"docs/domain\.md(?:\]\([^)]*\))?\s+((?:§[0-9][0-9a-z.]*(?:\s*(?:,|–|-|→|and)\s*)?)+)")
SECTION = re.compile(r"§([0-9][0-9a-z.]*[0-9a-z])")
DECISION_CITATION = re.compile(r"docs/decisions\.md\s+((?:D[0-9][0-9a-z.]*[0-9a-z](?:,\s*)?)+)")
DECISION_ID = re.compile(r"D[0-9][0-9a-z.]*[0-9a-z]")
# "docs/architecture.md#layers", "../docs/operations.md#scheduled-jobs".
ANCHOR_CITATION = re.compile(r"docs/([a-z_]+\.md)#([\w-]+)")
# Links inside docs/: "[roles](architecture.md#roles)", "[notices](#the-notices)".
DOCS_LINK = re.compile(r"\]\(([a-z_]+\.md)?#([\w-]+)\)")


def _files(*suffixes: str):
    """The repository's files with these suffixes, outside docs/ and the virtualenv."""
    for directory, subdirectories, names in os.walk(ROOT):
        subdirectories[:] = sorted(name for name in subdirectories
                                   if name not in SKIPPED_DIRS and not name.startswith("."))
        for name in sorted(names):
            path = Path(directory) / name
            if path.suffix in suffixes and path.resolve() != THIS_FILE:
                yield path, path.relative_to(ROOT)


def _hits(pattern: re.Pattern, *suffixes: str) -> list[str]:
    found = []
    for path, relative in _files(*suffixes):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped (letters, digits,
    "_", "-" and spaces kept, Japanese included), each space a hyphen."""
    text = heading.strip().lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in "_- ")
    return text.replace(" ", "-")


def _headings(document: Path) -> list[str]:
    inside_fence = False
    headings = []
    for line in document.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside_fence = not inside_fence
        elif not inside_fence and (match := re.match(r"#{1,6} (.+)", line)):
            headings.append(match.group(1))
    return headings


def anchors(document: Path) -> set[str]:
    """Every anchor of the document, a repeated heading numbered as GitHub numbers it."""
    seen: Counter[str] = Counter()
    result = set()
    for heading in _headings(document):
        slug = github_slug(heading)
        result.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return result


def domain_sections() -> set[str]:
    """The § numbers of docs/domain.md: "## 5. Money" is 5, "### 5.4 Payouts" 5.4, "## 8a." 8a."""
    sections = set()
    for heading in _headings(DOCS / "domain.md"):
        if match := re.match(r"([0-9]+[a-z]?(?:\.[0-9]+)?)\.?\s", heading):
            sections.add(match.group(1))
    return sections


def decision_ids() -> set[str]:
    text = (DOCS / "decisions.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\*\*(D[0-9][0-9a-z.]*[0-9a-z]) ", text, flags=re.MULTILINE))


def _citations(pattern: re.Pattern, *suffixes: str):
    for path, relative in _files(*suffixes):
        text = path.read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield f"{relative}:{line}", match


def test_the_slug_is_githubs():
    assert github_slug("Layers") == "layers"
    assert github_slug("The workflow kernel (`portal/workflow.py`)") == (
        "the-workflow-kernel-portalworkflowpy")
    assert github_slug("The eligibility batch (協力金, 一時金)") == "the-eligibility-batch-協力金-一時金"
    assert github_slug("Rotating `SECRET_KEY`") == "rotating-secret_key"


def test_the_documents_have_the_sections_code_relies_on():
    assert {"1", "5", "5.1", "5.4", "6.4", "8", "8a", "8b", "10"} <= domain_sections()
    assert {"D1.1", "D5.4.1", "D5.4.4", "D8.1"} <= decision_ids()
    assert {"layers", "roles", "parameters-at-a-date"} <= anchors(DOCS / "architecture.md")


def test_nothing_outside_docs_cites_the_tracker_or_a_shared_folder():
    assert _hits(FORBIDDEN, ".py", ".md") == []


def test_nothing_outside_docs_cites_the_old_specification_files():
    assert _hits(OLD_CITATION, ".py", ".md", ".html", ".txt") == []


def test_every_cited_domain_section_exists():
    sections = domain_sections()
    cited = missing = 0
    problems = []
    for where, match in _citations(DOMAIN_CITATION, ".py", ".md", ".html", ".txt"):
        for number in SECTION.findall(match.group(1)):
            cited += 1
            if number not in sections:
                missing += 1
                problems.append(f"{where}: §{number}")
    assert cited > 100  # the code cites the domain everywhere; a broken pattern finds nothing
    assert problems == [], f"{missing} citations of a section docs/domain.md does not have"


def test_every_cited_decision_exists():
    decisions = decision_ids()
    cited = [(where, number) for where, match in _citations(DECISION_CITATION, ".py", ".md")
             for number in DECISION_ID.findall(match.group(1))]
    assert len(cited) > 20
    assert [f"{where}: {number}" for where, number in cited if number not in decisions] == []


def test_every_cited_anchor_exists():
    known = {document.name: anchors(document) for document in DOCS.glob("*.md")}
    cited = list(_citations(ANCHOR_CITATION, ".py", ".md", ".html", ".txt"))
    assert cited
    problems = [f"{where}: docs/{match.group(1)}#{match.group(2)}" for where, match in cited
                if match.group(2) not in known.get(match.group(1), set())]
    assert problems == []


def test_every_link_between_the_documents_exists():
    known = {document.name: anchors(document) for document in DOCS.glob("*.md")}
    problems = []
    for document in sorted(DOCS.glob("*.md")):
        text = document.read_text(encoding="utf-8")
        for match in DOCS_LINK.finditer(text):
            target = match.group(1) or document.name
            if match.group(2) not in known.get(target, set()):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"docs/{document.name}:{line}: {target}#{match.group(2)}")
    assert problems == []

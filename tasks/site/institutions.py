"""Affiliations as countable institutions: "Tsinghua Univ." and "Tsinghua University" are one.

The LLM prints affiliations as the paper does, so one institution comes in several spellings. Cards keep the
printed name; counting (the month's leaderboard, the institution filter) uses a canonical name found by:

1. a key: Unicode NFKC, case and accents folded, "&" read as "and", common abbreviations written out
   (Univ. → university, Inst. → institute, Tech. → technology, Lab → laboratory, Natl. → national,
   Acad. → academy, Sci. → sciences, Dept. → department), punctuation and a leading "the" dropped, a leading
   department ("Department of …, X" / "School of …, X") cut away so that the institution after it counts;
2. the alias table `templates/institutions.json` (canonical name → other names, acronyms and names in other
   scripts) maps known keys to one canonical name;
3. the similarity rule, for spellings the table does not know: two keys are one institution when they share
   their first word and their digits, both are at least MIN_SIMILAR_LEN characters long, and difflib's ratio
   of the two keys is at least SIMILARITY (a typo or a dropped letter, not another word: "Universty" joins
   "University", while "Beijing University of Technology" and "Beijing University of Posts and
   Telecommunications" stay apart, as do "University of Washington" and "Washington University", whose
   first words differ).

A group's display name is the alias table's canonical name, else its most frequent printed form.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

SIMILARITY = 0.92
MIN_SIMILAR_LEN = 12

_ABBREVIATIONS = {
    "univ": "university", "uni": "university", "inst": "institute", "tech": "technology",
    "technol": "technology", "lab": "laboratory", "labs": "laboratories", "natl": "national",
    "nat": "national", "acad": "academy", "sci": "sciences", "dept": "department", "coll": "college",
    "intl": "international", "res": "research", "ctr": "center", "centre": "center",
}
_DEPARTMENT = re.compile(r"^(department|dept\.?|school|faculty|division)\s+(of|for)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


def key(printed: str) -> str:
    """The comparison key of a printed affiliation (step 1 of the module's rule)."""
    parts = [p.strip() for p in printed.split(",") if p.strip()]
    # "Department of Computer Science, Stanford University" counts as Stanford University; but not
    # "University of California, Berkeley", whose first part is the institution itself.
    while len(parts) > 1 and _DEPARTMENT.match(parts[0]):
        parts = parts[1:]
    text = _fold(", ".join(parts)).replace("&", " and ")
    if _CJK.search(text):  # no word spaces: keep the characters, drop punctuation and spaces
        return "".join(_WORD.findall(text))
    words = [_ABBREVIATIONS.get(w, w) for w in _WORD.findall(text)]
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


@lru_cache(maxsize=4)
def load_aliases(path: Path) -> dict[str, str]:
    """key of every name in the alias table (canonical names included) -> canonical name."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    out: dict[str, str] = {}
    for canonical, others in table.items():
        if canonical.startswith("_"):  # "_comment" and the like
            continue
        for name in (canonical, *others):
            out[key(name)] = canonical
    return out


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _similar(a: str, b: str) -> bool:
    if min(len(a), len(b)) < MIN_SIMILAR_LEN or _digits(a) != _digits(b):
        return False
    m = SequenceMatcher(None, a, b, autojunk=False)
    return m.real_quick_ratio() >= SIMILARITY and m.quick_ratio() >= SIMILARITY and m.ratio() >= SIMILARITY


class Institutions:
    """Canonical names for every printed affiliation of a site, built once from all of them."""

    def __init__(self, printed: Iterable[str], aliases: dict[str, str]) -> None:
        counts = Counter(p.strip() for p in printed if p and p.strip())
        by_key: dict[str, Counter[str]] = {}
        for name, n in counts.items():
            by_key.setdefault(key(name), Counter())[name] += n
        by_key.pop("", None)
        parent = {k: k for k in by_key}

        def find(k: str) -> str:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        # Keys the alias table knows join their canonical group; then keys are compared within blocks of the same
        # first word (so the work stays near-linear however many spellings there are). Two groups the table
        # names differently are never joined by similarity.
        anchors: dict[str, str] = {}
        blocks: dict[str, list[str]] = {}
        for k in sorted(by_key):
            canonical = aliases.get(k)
            if canonical is not None:
                anchor = anchors.setdefault(canonical, k)
                parent[find(k)] = find(anchor)
            blocks.setdefault(k.split(" ", 1)[0], []).append(k)
        named = {find(anchor): canonical for canonical, anchor in anchors.items()}
        for block in blocks.values():
            for i, a in enumerate(block):
                for b in block[i + 1:]:
                    ra, rb = find(a), find(b)
                    if ra != rb and not (ra in named and rb in named) and _similar(a, b):
                        root, child = (ra, rb) if ra in named else (rb, ra)
                        parent[child] = root

        groups: dict[str, list[str]] = {}
        for k in by_key:
            groups.setdefault(find(k), []).append(k)
        self._name: dict[str, str] = {}  # printed (stripped) -> display name
        for members in groups.values():
            canonical = next((aliases[k] for k in members if k in aliases), None)
            if canonical is None:
                printed_forms = Counter[str]()
                for k in members:
                    printed_forms.update(by_key[k])
                # The most printed form; on a tie one without a department before it, then one written out.
                canonical = min(printed_forms, key=lambda p: (-printed_forms[p], bool(_DEPARTMENT.match(p)),
                                                              "." in p, -len(p), p))
            for k in members:
                for name in by_key[k]:
                    self._name[name] = canonical

    def name(self, printed: str) -> str | None:
        """The canonical name of a printed affiliation (None for an empty one)."""
        return self._name.get(printed.strip())

    def of(self, affiliations: Iterable[str]) -> list[str]:
        """A paper's distinct institutions, in the order printed."""
        return list(dict.fromkeys(n for a in affiliations if (n := self.name(a))))

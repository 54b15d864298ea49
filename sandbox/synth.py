"""Deterministic synthetic papers: the same date or arXiv id always gives the same invented paper."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, replace
from datetime import date as Date
from datetime import timedelta

from sandbox import words

_ID_RE = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})(?:v\d+)?$")
_SMALL_DAY = 300  # ids below 10000: 300 a day; beyond that the 1xxxx+ range, 2800 a day


@dataclass(frozen=True)
class SynthPaper:
    arxiv_id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    hidden_author: int | None  # index of the author the feed marks hidden
    affiliations: tuple[str, ...]  # in order of first appearance on page 1
    author_affs: tuple[tuple[int, ...], ...]  # per author: 0-based indices into affiliations
    layout: str  # "one-column" | "two-column"
    upvotes: int
    published_at: str
    submitted_at: str
    num_comments: int
    github_repo: str | None
    github_stars: int | None
    project_page: str | None
    organization: tuple[str, str] | None  # (name, fullname)
    ai_summary: str
    ai_keywords: tuple[str, ...]
    filler_seed: int


def stable_hash(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def base_id(arxiv_id: str) -> str:
    """The id without a `vN` suffix (and without a trailing `.pdf`)."""
    arxiv_id = arxiv_id.strip().removesuffix(".pdf")
    return re.sub(r"v\d+$", "", arxiv_id)


def parse_date(text: str) -> Date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
        return None
    try:
        return Date.fromisoformat(text)
    except ValueError:
        return None


def id_for(day: Date, index: int) -> str:
    """The arXiv-like id of the `index`-th synthetic paper of `day` (unique per date)."""
    if index < _SMALL_DAY:
        number = (day.day - 1) * _SMALL_DAY + index
    else:
        number = 10000 + (day.day - 1) * 2800 + (index - _SMALL_DAY) % 2800
    return f"{day:%y%m}.{number:05d}"


def _day_of(arxiv_id: str) -> Date:
    m = _ID_RE.match(arxiv_id)
    if not m:
        return Date(2020, 1, 1) + timedelta(days=stable_hash("day", arxiv_id) % 1800)
    year, month, number = 2000 + int(m.group(1)), int(m.group(2)), int(m.group(3))
    month = min(max(month, 1), 12)
    if len(m.group(3)) == 5 and number < 10000:
        day = number // _SMALL_DAY + 1
    elif len(m.group(3)) == 5 and number < 10000 + 31 * 2800:
        day = (number - 10000) // 2800 + 1
    else:
        day = stable_hash("day", arxiv_id) % 28 + 1
    try:
        return Date(year, month, day)
    except ValueError:
        return Date(year, month, 28)


def papers_for_date(date: str, count: int) -> list[SynthPaper]:
    day = parse_date(date)
    if day is None:
        raise ValueError(f"invalid date: {date!r}")
    return [synth_paper(id_for(day, i)) for i in range(max(0, count))]


def planted_affiliations(arxiv_id: str) -> list[str]:
    return list(synth_paper(arxiv_id).affiliations)


def _acronym(rng: random.Random) -> str:
    return "".join(rng.sample(words.ACRONYM_PARTS, 2)) + rng.choice(["", "-2", "X", "Net", "LM"])


def _title(rng: random.Random, acro: str) -> str:
    adj, noun, task = rng.choice(words.ADJECTIVES), rng.choice(words.NOUNS), rng.choice(words.TASKS)
    patterns = (
        f"{acro}: {adj} {noun} for {task.title()}",
        f"{acro}: Towards {adj} {task.title()} via {noun}",
        f"Rethinking {noun} for {task.title()}",
        f"{acro}: When {noun} Meet {adj} Training",
    )
    return rng.choice(patterns)


def _abstract(rng: random.Random, acro: str) -> str:
    slots = {
        "task": rng.choice(words.TASKS),
        "noun": rng.choice(words.NOUNS).lower(),
        "noun2": rng.choice(words.NOUNS).lower(),
        "adj": rng.choice(words.ADJECTIVES).lower(),
        "adj2": rng.choice(words.ADJECTIVES).lower(),
        "acro": acro,
        "gain": f"{rng.uniform(1.2, 9.8):.1f}",
        "pct": str(rng.randint(12, 71)),
    }
    count = rng.randint(5, 8)
    picked = sorted(rng.sample(range(len(words.ABSTRACT_SENTENCES)), count))
    return " ".join(words.ABSTRACT_SENTENCES[i].format(**slots) for i in picked)


def _author_affs(rng: random.Random, n_auth: int, n_aff: int) -> tuple[tuple[int, ...], ...]:
    """Markers per author: non-decreasing primary index, so affiliations first appear in list order."""
    out: list[tuple[int, ...]] = []
    for i in range(n_auth):
        primary = i * n_aff // n_auth
        marks = [primary]
        if i == n_auth - 1:
            marks += list(range(primary + 1, n_aff))
        elif primary + 1 < n_aff and rng.random() < 0.25:
            marks.append(primary + 1)
        out.append(tuple(marks))
    return tuple(out)


def synth_paper(arxiv_id: str) -> SynthPaper:
    """The invented paper behind any arXiv id (works for ids from recorded feeds too)."""
    arxiv_id = base_id(arxiv_id)
    rng = random.Random(stable_hash("paper", arxiv_id))
    acro = _acronym(rng)
    n_auth = rng.randint(3, 14)
    names: list[str] = []
    while len(names) < n_auth:
        name = f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}"
        if name not in names:
            names.append(name)
    authors = tuple(names)
    n_aff = rng.choice((1, 2, 2, 3, 3, 3, 4, 5))
    affiliations = tuple(rng.sample(words.INSTITUTIONS, n_aff))
    day = _day_of(arxiv_id)
    published = day - timedelta(days=rng.randint(1, 3))
    has_repo = rng.random() < 0.5
    user = rng.choice(words.GITHUB_USERS)
    org = affiliations[0] if rng.random() < 0.4 else None
    ai_task = rng.choice(words.TASKS)
    return SynthPaper(
        arxiv_id=arxiv_id,
        title=_title(rng, acro),
        abstract=_abstract(rng, acro),
        authors=authors,
        hidden_author=rng.randrange(n_auth) if n_auth >= 4 and rng.random() < 0.2 else None,
        affiliations=affiliations,
        author_affs=_author_affs(rng, n_auth, n_aff),
        layout=rng.choice(("one-column", "two-column")),
        upvotes=min(400, int(rng.paretovariate(1.1) * 6) + rng.randint(0, 5)),
        published_at=f"{published.isoformat()}T00:00:00.000Z",
        submitted_at=f"{day.isoformat()}T{rng.randint(0, 9):02d}:{rng.randint(0, 59):02d}:00.000Z",
        num_comments=rng.randint(0, 6),
        github_repo=f"https://github.com/{user}/{acro.lower()}" if has_repo else None,
        github_stars=rng.randint(0, 900) if has_repo else None,
        project_page=f"https://{user}.github.io/{acro.lower()}/" if rng.random() < 0.4 else None,
        organization=(org.lower().replace(" ", "-").replace("'", ""), org) if org else None,
        ai_summary=f"{acro} uses {rng.choice(words.NOUNS).lower()} to make {ai_task} cheaper and more "
        "accurate across several benchmarks.",
        ai_keywords=tuple(rng.sample(words.KEYWORDS, rng.randint(4, 8))),
        filler_seed=rng.getrandbits(32),
    )


def with_feed_facts(paper: SynthPaper, title: str, authors: list[str]) -> SynthPaper:
    """The paper with a recorded feed's title and authors; affiliations and layout stay planted."""
    if not authors:
        return replace(paper, title=title or paper.title)
    rng = random.Random(stable_hash("affs", paper.arxiv_id, len(authors)))
    return replace(
        paper,
        title=title or paper.title,
        authors=tuple(authors),
        hidden_author=None,
        author_affs=_author_affs(rng, len(authors), len(paper.affiliations)),
    )

"""Synthetic day files for the renderer's tests and benchmark: invented text built from the pydantic models.

`small_store()` is a hand-made 3-day store with known topics and upvotes (and a hostile paper);
`synthetic_store()` generates any number of realistic-sized days.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from tasks.models import DayFile, Localized, PaperRecord, RunRecord, StepState, Usage, VocabItem, ZhReading

XSS = '</script><img src=x onerror=alert(1)>'
XSS_ID = "2501.06666"

# Topic words with the share of papers that use them: on 390 real HF daily papers (January 2025, the shared
# fixtures) the share whose title or abstract holds the word (its plural counted with it). A synthetic paper draws
# each word with these odds, so a search for "diffusion" matches about as many papers as on the real archive; the
# rest of its text is filler from a long-tailed vocabulary of invented words (`_filler`).
_EN_DF = {"model": 0.86, "learning": 0.28, "agents": 0.33, "benchmark": 0.48, "reasoning": 0.26, "diffusion": 0.11,
          "tokens": 0.20, "vision": 0.12, "policy": 0.18, "retrieval": 0.09, "scaling": 0.12, "alignment": 0.08,
          "dataset": 0.14, "training": 0.41, "inference": 0.20, "latent": 0.10, "sparse": 0.06, "robust": 0.08}
# The same words in Russian and Chinese, at the odds of the English ones they translate (data, method, task: the
# odds of their English words in the same papers).
_RU_DF = {"модель": 0.86, "обучение": 0.28, "агенты": 0.33, "оценка": 0.48, "рассуждение": 0.26,
          "диффузия": 0.11, "токены": 0.20, "зрение": 0.12, "политика": 0.18, "поиск": 0.09, "масштаб": 0.12,
          "данные": 0.50, "вывод": 0.20, "скрытый": 0.10, "разреженный": 0.06, "устойчивый": 0.08, "метод": 0.60,
          "задача": 0.50}
_ZH_DF = {"模型": 0.86, "学习": 0.28, "智能体": 0.33, "基准": 0.48, "推理": 0.26, "扩散": 0.11, "视觉": 0.12,
          "策略": 0.18, "检索": 0.09, "对齐": 0.08, "数据": 0.50, "训练": 0.41}
_EN, _RU, _ZH = tuple(_EN_DF), tuple(_RU_DF), tuple(_ZH_DF)
_TOPICS = ("AGENTS", "CV", "RL", "RAG", "INFERENCE", "3D", "AUDIO", "VIDEO", "MULTIMODAL", "MATH",
           "TRAINING", "REASONING", "DIFFUSION", "ALIGNMENT", "LONG_CONTEXT", "BENCHMARK", "DATASET")
_ORGS = ("Example University", "Institute of Imaginary Science", "Acme AI Lab", "Northern Technical College",
         "Blue Lake Research", "City Data Institute", "Open Models Group", "Harbor Robotics")


def at(day: str, hour: int = 6, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def paper(
    arxiv_id: str,
    title: str,
    *,
    upvotes: int = 0,
    topics: list[str] | None = None,
    rank: int = 0,
    published: str | None = "2025-01-01",
    enriched: bool = True,
    authors: list[str] | None = None,
    affiliations: list[str] | None = None,
    **extra: object,
) -> PaperRecord:
    """One stored paper; `enriched=False` mimics a paper whose LLM steps all failed."""
    fields: dict[str, object] = dict(
        arxiv_id=arxiv_id,
        title=title,
        abstract=f"Abstract of {title}. We study the problem and report results.",
        authors=authors if authors is not None else ["Ada Example", "Bo Sample"],
        upvotes=upvotes,
        published_at=at(published) if published else None,
        feed_rank=rank,
        affiliations=affiliations if affiliations is not None else ["Example University"],
        topics=topics or [],
    )
    if enriched:
        fields.update(
            emoji="🧪",
            ru=Localized(title=f"RU {title}", desc=f"Описание статьи {title} на русском."),
            en=Localized(title=f"EN {title}", desc=f"An English description of {title}."),
            zh=Localized(title=f"ZH {title}", desc=f"{title} 的中文描述。"),
            steps={s: StepState(status="ok") for s in ("pdf", "affiliations", "topics", "review_ru")},
        )
    else:
        fields["steps"] = {"review_ru": StepState(status="error", error="provider answered []")}
    fields.update(extra)
    return PaperRecord.model_validate(fields)


def day_file(
    day: str, papers: list[PaperRecord], *, zh: bool = True, updated: datetime | None = None
) -> DayFile:
    reading = None
    if zh and papers:
        reading = ZhReading(
            arxiv_id=papers[0].arxiv_id,
            text="我们研究模型。它很有用！",
            pinyin="Wǒmen yánjiū móxíng. Tā hěn yǒuyòng!",
            vocab=[VocabItem(word="模型", pinyin="móxíng", trans="model")],
            translation="We study models. It is useful!",
        )
    finished = updated or at(day, 7)
    run = RunRecord(started_at=finished - timedelta(minutes=3), finished_at=finished, new=len(papers))
    return DayFile(date=day, papers=papers, zh_reading=reading, runs=[run], usage=Usage(calls=3))


def small_store() -> list[DayFile]:
    """Three days (2025-01-20, -21, -23: the 22nd is missing on purpose), six papers each.

    Day 2025-01-21 — topics and upvotes the tests count on:
      A 2501.00001  up 50  RL, AGENTS     rank 3  pub 2025-01-10
      B 2501.00002  up 40  RL             rank 0  pub 2025-01-19
      C 2501.00003  up 30  AGENTS, CV     rank 1  pub 2025-01-15
      D 2501.00004  up 20  CV             rank 5  pub 2025-01-18  (enrichment failed)
      E 2501.00005  up 10  RL, CV         rank 2  pub 2025-01-12  (vanished: moved)
      X 2501.06666  up  5  XSS topic      rank 4  pub 2025-01-01  (hostile text everywhere)
    Day 2025-01-20: six papers, odd ones RL, even ones CV. Day 2025-01-23: B again with 77 upvotes, and five
    MATH papers. Month totals with B counted once: RL 6, CV 6, MATH 5, AGENTS 2, the hostile topic 1.
    """
    d20 = [paper(f"2501.1000{i}", f"Monday paper {i}", upvotes=10 * i, topics=["RL"] if i % 2 else ["CV"],
                 rank=i, published="2025-01-15") for i in range(1, 7)]
    d21 = [
        paper("2501.00001", "Alpha agents learn", upvotes=50, topics=["RL", "AGENTS"], rank=3,
              published="2025-01-10", github_repo="https://github.com/example/alpha", github_stars=1234,
              project_page="https://alpha.example.org",
              authors=[f"Author {n}" for n in range(1, 15)],
              affiliations=[f"Lab {n}" for n in range(1, 13)]),
        paper("2501.00002", "Beta policy gradients", upvotes=40, topics=["RL"], rank=0,
              published="2025-01-19"),
        paper("2501.00003", "Gamma vision agents", upvotes=30, topics=["AGENTS", "CV"], rank=1,
              published="2025-01-15"),
        paper("2501.00004", "Delta segmentation", upvotes=20, topics=["CV"], rank=5, published="2025-01-18",
              enriched=False),
        paper("2501.00005", "Epsilon robot vision", upvotes=10, topics=["RL", "CV"], rank=2,
              published="2025-01-12", vanished_at=at("2025-01-21", 9)),
        paper(XSS_ID, f"Hostile {XSS}", upvotes=5, topics=[f"X{XSS}"], rank=4,
              authors=[f"Mallory {XSS}"], affiliations=[f"Evil Corp {XSS}"], emoji=XSS,
              ru=Localized(title=f"RU {XSS}", desc=f"Описание {XSS}"),
              en=Localized(title=f"EN {XSS}", desc=f"Desc {XSS} \u2028 line sep"),
              zh=Localized(title=f"ZH {XSS}", desc=f"描述 {XSS}"),
              github_repo="javascript:alert(1)", project_page="data:text/html,<b>x</b>"),
    ]
    d23 = [paper(f"2501.3000{i}", f"Thursday paper {i}", upvotes=i, topics=["MATH"], rank=i,
                 published="2025-01-22") for i in range(1, 7)]
    d23[0] = d21[1].model_copy(update={"upvotes": 77, "feed_rank": 1})  # B listed again, with more votes
    return [day_file("2025-01-20", d20), day_file("2025-01-21", d21), day_file("2025-01-23", d23)]


def write_store(days_dir: Path, days: list[DayFile]) -> None:
    days_dir.mkdir(parents=True, exist_ok=True)
    for day in days:
        (days_dir / f"{day.date}.json").write_text(day.model_dump_json(indent=1), encoding="utf-8")


def _invent(rng: random.Random, syllables: list[str], draws: int, shortest: int, longest: int) -> list[str]:
    """Distinct invented words of `shortest` to `longest` syllables, in the order first drawn."""
    return list(dict.fromkeys("".join(rng.choice(syllables) for _ in range(rng.randint(shortest, longest)))
                              for _ in range(draws)))


@lru_cache(maxsize=3)
def _filler(script: str) -> tuple[tuple[str, ...], list[float]]:
    """3,000 invented words of one script and their cumulative Zipf weights (the k-th word's weight 1/k): a few
    are in nearly every paper, like "the", most in a few. The Chinese ones leave out 中, which the search tests
    look for in the hand-made papers only."""
    syllables = {
        "en": [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ar", "en")],
        "ru": [c + v for c in "бвгдклмнпрст" for v in ("а", "е", "и", "о", "у", "ан", "ер")],
        "zh": list("的一是在不了有和人这大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
                   "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点"),
    }[script]
    rng = random.Random(script)
    size = 2 if script == "zh" else 3
    words = tuple(_invent(rng, syllables, 3600, size - 1, size + 1))[:3000]
    total, cumulative = 0.0, []
    for k in range(1, len(words) + 1):
        total += 1 / k
        cumulative.append(total)
    return words, cumulative


def _text(rng: random.Random, topic: list[str], script: str, n: int, sep: str) -> list[str]:
    """`n` words: the paper's topic words once or twice each, among filler, in random order."""
    words = [w for w in topic for _ in range(rng.randint(1, 2))][:n]
    vocab, cumulative = _filler(script)
    words += rng.choices(vocab, cum_weights=cumulative, k=n - len(words))
    rng.shuffle(words)
    return words


def _sentences(rng: random.Random, topic: list[str], script: str, count: int) -> str:
    """`count` sentences of 10–18 words, holding the paper's topic words."""
    end, sep = ("。", "") if script == "zh" else (".", " ")
    lengths = [rng.randint(10, 18) for _ in range(count)]
    words = _text(rng, topic, script, sum(lengths), sep)
    out, at_word = [], 0
    for length in lengths:
        out.append(sep.join(words[at_word:at_word + length]).capitalize() + end)
        at_word += length
    return " ".join(out) if sep else "".join(out)


@lru_cache(maxsize=1)
def _names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Invented given names (300) and family names (5,000), none of them a filler word: an author's name is as
    rare in the archive as a real one."""
    rng = random.Random("names")
    filler = set(_filler("en")[0])
    syllables = [c + v for c in "bcdfghjklmnprstvwyz" for v in ("a", "e", "i", "o", "u", "an", "el", "or")]
    names = [w for w in _invent(rng, syllables, 8000, 2, 3) if w not in filler]
    return tuple(n.capitalize() for n in names[:300]), tuple(n.capitalize() for n in names[300:5300])


def _person(rng: random.Random) -> str:
    given, family = _names()
    return f"{rng.choice(given)} {rng.choice(family)}"


def _topic(rng: random.Random, odds: dict[str, float]) -> list[str]:
    return [w for w, share in odds.items() if rng.random() < share]


def synthetic_paper(rng: random.Random, arxiv_id: str, day: str, rank: int) -> PaperRecord:
    """A paper with realistic field sizes (title, 4-sentence descriptions in 3 languages, long abstract) and
    realistic word odds (`_EN_DF`)."""
    en, ru, zh = _topic(rng, _EN_DF), _topic(rng, _RU_DF), _topic(rng, _ZH_DF)
    title = " ".join(_text(rng, en[:3], "en", rng.randint(6, 12), " ")).capitalize()
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=_sentences(rng, en, "en", 8),
        authors=[_person(rng) for _ in range(rng.choice((3, 6, 9, 14, 30)))],
        upvotes=rng.randint(0, 200),
        published_at=at(day) - timedelta(days=rng.randint(0, 5)),
        feed_rank=rank,
        github_repo=f"https://github.com/example/{arxiv_id}" if rng.random() < 0.5 else None,
        github_stars=rng.randint(0, 5000) if rng.random() < 0.5 else None,
        project_page=f"https://example.org/{arxiv_id}" if rng.random() < 0.3 else None,
        affiliations=rng.sample(_ORGS, rng.randint(1, len(_ORGS))),
        topics=rng.sample(_TOPICS, rng.randint(1, 5)),
        emoji=rng.choice("🧠🤖📊🔬🎨🧩⚡📚"),
        ru=Localized(title=" ".join(_text(rng, ru[:3], "ru", 7, " ")).capitalize(), desc=_sentences(rng, ru, "ru", 4)),
        en=Localized(title=" ".join(_text(rng, en[:3], "en", 7, " ")).capitalize(), desc=_sentences(rng, en, "en", 4)),
        zh=Localized(title="".join(_text(rng, zh[:3], "zh", 6, "")), desc=_sentences(rng, zh, "zh", 4)),
        steps={"review_ru": StepState(status="ok", provider="sandbox", model="fake")},
        usage=Usage(calls=6, input_tokens=4000, output_tokens=900, cost_usd=0.004),
    )


def synthetic_store(
    n_days: int = 250, per_day: int = 25, start: str = "2025-01-01", seed: int = 7
) -> list[DayFile]:
    """`n_days` weekdays of `per_day` papers; about one paper in twenty re-appears on the next day."""
    rng = random.Random(seed)
    days: list[DayFile] = []
    current = date.fromisoformat(start)
    serial = 0
    previous: list[PaperRecord] = []
    while len(days) < n_days:
        if current.weekday() < 5:
            iso = current.isoformat()
            papers = []
            for rank in range(per_day):
                if previous and rng.random() < 0.05:
                    again = rng.choice(previous)
                    papers.append(again.model_copy(update={"upvotes": again.upvotes + 5, "feed_rank": rank}))
                    continue
                serial += 1
                papers.append(synthetic_paper(rng, f"{current:%y%m}.{serial:05d}", iso, rank))
            papers = list({p.arxiv_id: p for p in papers}.values())
            days.append(day_file(iso, papers, updated=at(iso, 7, rng.randint(0, 59))))
            previous = papers
        current += timedelta(days=1)
    return days


def attach_pictures(store: list[DayFile], data_dir: Path, distinct: int = 8) -> int:
    """Give every paper a first-page picture: the record's `image` field and its WebP in `data_dir/images`, as the
    picture step leaves them. The pictures are drawn (in this process) from `distinct` sandbox PDFs and reused, so
    a year of papers costs seconds. Returns the bytes written."""
    import base64

    from sandbox.pdfgen import build_pdf
    from sandbox.synth import papers_for_date
    from tasks.pdf.image import first_page

    pictures = []
    for synth in papers_for_date("2025-01-23", distinct):
        reply = first_page(build_pdf(synth))
        pictures.append((base64.b64decode(reply["webp"]), reply["width"], reply["height"]))
    folder = Path(data_dir, "images")
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i, p in enumerate(p for day in store for p in day.papers):
        webp, width, height = pictures[i % len(pictures)]
        name = f"{p.arxiv_id.replace('/', '_')}.{i % len(pictures):010d}.webp"
        if not (folder / name).exists():
            (folder / name).write_bytes(webp)
            total += len(webp)
        p.image = {"path": f"img/{name}", "width": width, "height": height, "bytes": len(webp)}
    return total

"""Synthetic day files for the renderer's tests and benchmark: invented text built from the pydantic models.

`small_store()` is a hand-made 3-day store with known topics and upvotes (and a hostile paper);
`synthetic_store()` generates any number of realistic-sized days.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tasks.models import DayFile, Localized, PaperRecord, RunRecord, StepState, Usage, VocabItem, ZhReading

XSS = '</script><img src=x onerror=alert(1)>'
XSS_ID = "2501.06666"

_EN = ("model", "learning", "agents", "benchmark", "reasoning", "diffusion", "tokens", "vision", "policy",
       "retrieval", "scaling", "alignment", "dataset", "training", "inference", "latent", "sparse", "robust")
_RU = ("модель", "обучение", "агенты", "оценка", "рассуждение", "диффузия", "токены", "зрение", "политика",
       "поиск", "масштаб", "данные", "вывод", "скрытый", "разреженный", "устойчивый", "метод", "задача")
_ZH = ("模型", "学习", "智能体", "基准", "推理", "扩散", "视觉", "策略", "检索", "对齐", "数据", "训练")
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


def _words(rng: random.Random, vocab: tuple[str, ...], n: int, sep: str = " ") -> str:
    return sep.join(rng.choice(vocab) for _ in range(n))


def _sentences(rng: random.Random, vocab: tuple[str, ...], count: int, end: str = ".", sep: str = " ") -> str:
    return " ".join(_words(rng, vocab, rng.randint(10, 18), sep).capitalize() + end for _ in range(count))


def synthetic_paper(rng: random.Random, arxiv_id: str, day: str, rank: int) -> PaperRecord:
    """A paper with realistic field sizes (title, 4-sentence descriptions in 3 languages, long abstract)."""
    title = _words(rng, _EN, rng.randint(6, 12)).capitalize()
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=_sentences(rng, _EN, 8),
        authors=[f"Author {rng.randint(1, 9999)}" for _ in range(rng.choice((3, 6, 9, 14, 30)))],
        upvotes=rng.randint(0, 200),
        published_at=at(day) - timedelta(days=rng.randint(0, 5)),
        feed_rank=rank,
        github_repo=f"https://github.com/example/{arxiv_id}" if rng.random() < 0.5 else None,
        github_stars=rng.randint(0, 5000) if rng.random() < 0.5 else None,
        project_page=f"https://example.org/{arxiv_id}" if rng.random() < 0.3 else None,
        affiliations=rng.sample(_ORGS, rng.randint(1, len(_ORGS))),
        topics=rng.sample(_TOPICS, rng.randint(1, 5)),
        emoji=rng.choice("🧠🤖📊🔬🎨🧩⚡📚"),
        ru=Localized(title=_words(rng, _RU, 7).capitalize(), desc=_sentences(rng, _RU, 4)),
        en=Localized(title=_words(rng, _EN, 7).capitalize(), desc=_sentences(rng, _EN, 4)),
        zh=Localized(title=_words(rng, _ZH, 6, ""), desc=_sentences(rng, _ZH, 4, "。", "")),
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

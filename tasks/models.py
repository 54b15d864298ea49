"""Data contracts: the normalized feed paper, the stored paper record and the day file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

StepStatus = Literal["ok", "error", "skipped", "deferred"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Paper(BaseModel):
    """One paper as the HF daily-papers feed describes it (feed facts only)."""

    model_config = ConfigDict(extra="ignore")

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: list[str] = Field(default_factory=list)
    upvotes: int = 0
    published_at: datetime | None = None
    submitted_at: datetime | None = None
    comments: int = 0
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    organization: str | None = None
    thumbnail: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = Field(default_factory=list)
    feed_rank: int = 0  # position in the day's feed: the order HF added it

    @property
    def hf_url(self) -> str:
        return f"https://huggingface.co/papers/{self.arxiv_id}"

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"


FEED_FIELDS: tuple[str, ...] = tuple(Paper.model_fields)


class StepState(BaseModel):
    """Outcome of one step of one paper (or of the day): what happened, when, and why it failed."""

    status: StepStatus
    error: str | None = None
    attempts: int = 1
    provider: str | None = None
    model: str | None = None
    at: datetime = Field(default_factory=utcnow)


class Usage(BaseModel):
    """Tokens and money spent on LLM calls (cached answers cost nothing and are counted apart)."""

    calls: int = 0
    cached: int = 0
    input_tokens: int = 0  # every input token, including the ones below
    output_tokens: int = 0
    cost_usd: float = 0.0
    # Provider prompt caching: input tokens read from the provider's cache (billed at the cached price) and
    # written to it (Anthropic's cache write price).
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    batch_calls: int = 0  # of `calls`, answered through a batch at the batch price

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            cached=self.cached + other.cached,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 8),
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            batch_calls=self.batch_calls + other.batch_calls,
        )


class Localized(BaseModel):
    title: str
    desc: str


class PdfText(BaseModel):
    """Text from a paper's first page: `head` is what precedes the abstract, `deep` a longer slice."""

    head: str
    deep: str
    pages: int = 0


class PaperRecord(Paper):
    """A stored paper: feed facts plus everything the pipeline derived, with per-step status.

    Unknown fields are kept, not dropped: a step added to the registry (tasks/steps.py) stores its fields here
    before this model names them, and a day file written by a newer hfdaily loses nothing when re-saved.
    """

    model_config = ConfigDict(extra="allow")

    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    vanished_at: datetime | None = None  # set when the paper left this day's feed; it stays stored
    text: PdfText | None = None
    affiliations: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    emoji: str | None = None
    ru: Localized | None = None
    en: Localized | None = None
    zh: Localized | None = None
    steps: dict[str, StepState] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)

    def step_ok(self, step: str) -> bool:
        state = self.steps.get(step)
        return state is not None and state.status == "ok"

    @property
    def failed(self) -> bool:
        return any(s.status == "error" for s in self.steps.values())


class VocabItem(BaseModel):
    word: str
    pinyin: str
    trans: str


class ZhReading(BaseModel):
    """The day's Chinese reading exercise, written from the day's top paper."""

    arxiv_id: str
    text: str
    pinyin: str
    vocab: list[VocabItem]
    translation: str


class RunRecord(BaseModel):
    """One run of the daily flow over this day."""

    started_at: datetime
    finished_at: datetime | None = None
    flow_run_id: str | None = None
    feed_papers: int | None = None  # papers the feed listed for this run (None: recorded before it was counted)
    new: int = 0
    updated: int = 0
    vanished: int = 0
    failed: int = 0
    usage: Usage = Field(default_factory=Usage)
    note: str | None = None


class TelegramMessage(BaseModel):
    message_id: int | None  # None: sent, but the answer with its id was lost (never sent again, cannot be edited)
    text: str  # as sent (Telegram HTML), to tell whether a later digest changed it


class TelegramPost(BaseModel):
    """The day as posted to a Telegram channel (tasks/telegram): the messages that hold it, in order, so a later
    run edits them instead of posting again."""

    chat_id: str
    lang: str
    messages: list[TelegramMessage] = Field(default_factory=list)
    posted_at: datetime | None = None
    edited_at: datetime | None = None


class DayFile(BaseModel):
    """`data/days/YYYY-MM-DD.json`: the source of truth for one date."""

    schema_version: int = SCHEMA_VERSION
    date: str
    papers: list[PaperRecord] = Field(default_factory=list)
    zh_reading: ZhReading | None = None
    steps: dict[str, StepState] = Field(default_factory=dict)  # day-level steps (zh_reading)
    usage: Usage = Field(default_factory=Usage)
    runs: list[RunRecord] = Field(default_factory=list)
    telegram: TelegramPost | None = None  # the channel post; its step state is steps["telegram"]

    def paper(self, arxiv_id: str) -> PaperRecord | None:
        return next((p for p in self.papers if p.arxiv_id == arxiv_id), None)

    @property
    def updated_at(self) -> datetime | None:
        finished = [r.finished_at for r in self.runs if r.finished_at]
        return max(finished) if finished else None

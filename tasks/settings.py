"""Runtime settings, read from the environment and an optional `.env` file.

The settings a user sets are described in the Configuration table of README.md#configuration. The project's
own knobs are prefixed `HFDAILY_`; the LLM providers' keys and base URLs keep the names their SDKs already read.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import pydantic_settings
from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tasks.errors import HfDailyError, InvalidSettingError
from tasks.storage import Storage, check_location, open_storage

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROMPTS_DIR = PROJECT_ROOT / "prompts"
TEMPLATES_DIR = PROJECT_ROOT / "templates"

# USD per 1M tokens: (input, output, cached input, cache write). Cached input is a prompt prefix the provider
# read from its prompt cache (OpenAI: half the input price; Anthropic: a tenth; Mistral: a tenth); cache write is
# Anthropic's price for a prefix it stores on a `cache_control` mark (1.25 x input; the others charge none extra).
# Editable via HFDAILY_PRICES='{"model": [in, out]}' or [in, out, cached, write]; two numbers mean no discount.
DEFAULT_PRICES: dict[str, tuple[float, ...]] = {
    "gpt-4o-mini": (0.15, 0.60, 0.075, 0.15),
    "gpt-4o": (2.50, 10.00, 1.25, 2.50),
    "claude-sonnet-5-5": (3.00, 15.00, 0.30, 3.75),
    "claude-haiku-4-5": (1.00, 5.00, 0.10, 1.25),
    "mistral-large-latest": (2.00, 6.00, 0.20, 2.00),
    "mistral-small-latest": (0.10, 0.30, 0.01, 0.10),
}
# A batch (OpenAI Batch API, Anthropic Message Batches, Mistral batch jobs) is billed at half the online price.
BATCH_PRICE_FACTOR = 0.5


def _env(name: str, *more: str) -> AliasChoices:
    return AliasChoices(name, *more)


class Settings(BaseSettings):
    """Everything hfdaily reads from its environment. Construct once per run and pass it down."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # A local folder or a URL such as s3://bucket/prefix (tasks/storage). The data dir holds the day files,
    # the caches and the leases that keep runs of one date apart; the site dir the rendered pages.
    data_dir: str = Field("data", validation_alias=_env("HFDAILY_DATA_DIR"))
    site_dir: str = Field("site", validation_alias=_env("HFDAILY_SITE_DIR"))
    site_url: str = Field("", validation_alias=_env("HFDAILY_SITE_URL"))
    # Build the archive's search index (Pagefind) with the pages; off, the search page says it has no index.
    search_index: bool = Field(True, validation_alias=_env("HFDAILY_SEARCH_INDEX"))
    hf_url: str = Field("https://huggingface.co", validation_alias=_env("HFDAILY_HF_URL"))
    arxiv_url: str = Field("https://arxiv.org", validation_alias=_env("HFDAILY_ARXIV_URL"))
    # The arXiv API (metadata of papers reviewed on request): GET {url}/api/query?id_list=...
    arxiv_api_url: str = Field("https://export.arxiv.org", validation_alias=_env("HFDAILY_ARXIV_API_URL"))

    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    anthropic_api_key: SecretStr | None = Field(None, validation_alias=_env("ANTHROPIC_API_KEY"))
    anthropic_base_url: str | None = Field(None, validation_alias=_env("ANTHROPIC_BASE_URL"))
    mistral_api_key: SecretStr | None = Field(None, validation_alias=_env("MISTRAL_API_KEY"))
    mistral_base_url: str | None = Field(None, validation_alias=_env("MISTRAL_BASE_URL"))
    # Read keys from Prefect Secret blocks named like `hfdaily-openai-api-key` when the env has none.
    use_secret_blocks: bool = Field(False, validation_alias=_env("HFDAILY_USE_SECRET_BLOCKS"))

    # Feed and downloads
    feed_page_size: int = Field(50, ge=1, le=100, validation_alias=_env("HFDAILY_FEED_PAGE_SIZE"))
    http_timeout: float = Field(30.0, gt=0, validation_alias=_env("HFDAILY_HTTP_TIMEOUT"))
    pdf_max_bytes: int = Field(30 * 1024 * 1024, gt=0, validation_alias=_env("HFDAILY_PDF_MAX_BYTES"))
    pdf_parse_timeout: float = Field(30.0, gt=0, validation_alias=_env("HFDAILY_PDF_PARSE_TIMEOUT"))
    keep_pdfs: bool = Field(False, validation_alias=_env("HFDAILY_KEEP_PDFS"))
    pdf_concurrency: int = Field(4, ge=1, validation_alias=_env("HFDAILY_PDF_CONCURRENCY"))

    # Retries (task level for HTTP, call level for LLMs); the base delay doubles per attempt.
    retries: int = Field(3, ge=0, validation_alias=_env("HFDAILY_RETRIES"))
    retry_base_delay: float = Field(2.0, ge=0, validation_alias=_env("HFDAILY_RETRY_BASE_DELAY"))
    retry_max_wait: float = Field(60.0, ge=0, validation_alias=_env("HFDAILY_RETRY_MAX_WAIT"))

    # Concurrency: task-runner workers for one run (PDFs and other non-LLM tasks), and the most LLM calls in
    # flight per provider in one process (the pacer adapts below it: tasks/llm/pacing.py).
    max_workers: int = Field(16, ge=1, validation_alias=_env("HFDAILY_MAX_WORKERS"))
    provider_concurrency: int = Field(32, ge=1, validation_alias=_env("HFDAILY_PROVIDER_CONCURRENCY"))
    llm_timeout: float = Field(60.0, gt=0, validation_alias=_env("HFDAILY_LLM_TIMEOUT"))

    # LLM budgets per minute: the calls of every run on this key are paced to stay within them. The defaults are
    # the lowest paid tiers (README#rate-limits): OpenAI tier 1 for gpt-4o-mini, Anthropic tier 1 for Claude
    # Sonnet, Mistral's 1 request/s. Token budgets count what the provider counts: input + output tokens for
    # OpenAI and Mistral, input tokens for Anthropic (its output tokens have their own budget).
    openai_rpm: float = Field(500, gt=0, validation_alias=_env("HFDAILY_OPENAI_RPM"))
    openai_tpm: float = Field(200_000, gt=0, validation_alias=_env("HFDAILY_OPENAI_TPM"))
    anthropic_rpm: float = Field(50, gt=0, validation_alias=_env("HFDAILY_ANTHROPIC_RPM"))
    anthropic_tpm: float = Field(30_000, gt=0, validation_alias=_env("HFDAILY_ANTHROPIC_TPM"))
    anthropic_otpm: float = Field(8_000, gt=0, validation_alias=_env("HFDAILY_ANTHROPIC_OTPM"))
    mistral_rpm: float = Field(60, gt=0, validation_alias=_env("HFDAILY_MISTRAL_RPM"))
    mistral_tpm: float = Field(500_000, gt=0, validation_alias=_env("HFDAILY_MISTRAL_TPM"))

    prices: dict[str, Annotated[tuple[float, ...], Field(min_length=2, max_length=4)]] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES), validation_alias=_env("HFDAILY_PRICES")
    )
    # What a batch costs as a share of the online price (all three providers sell batches at half price).
    batch_price_factor: float = Field(BATCH_PRICE_FACTOR, gt=0, le=1,
                                      validation_alias=_env("HFDAILY_BATCH_PRICE_FACTOR"))
    max_cost: float | None = Field(None, ge=0, validation_alias=_env("HFDAILY_MAX_COST"))
    # Where `hfdaily alerts` points its default Custom Webhook notification block (a Slack-style URL is a secret).
    alert_webhook_url: SecretStr | None = Field(None, validation_alias=_env("HFDAILY_ALERT_WEBHOOK_URL"))

    # The day posted to a Telegram channel (tasks/telegram): on only when a bot token and a chat id are set.
    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_chat_id: str = Field("", validation_alias=_env("HFDAILY_TELEGRAM_CHAT_ID"))
    telegram_api_url: str = Field("https://api.telegram.org", validation_alias=_env("HFDAILY_TELEGRAM_API_URL"))
    telegram_lang: Literal["ru", "en", "zh"] = Field("ru", validation_alias=_env("HFDAILY_TELEGRAM_LANG"))
    telegram_top: int = Field(10, ge=1, le=100, validation_alias=_env("HFDAILY_TELEGRAM_TOP"))

    # Leases keep two runs of one date (and two renders) apart on any store (tasks/lease.py). A holder renews
    # its lease every ttl/3 s; a holder that died loses it once it has gone unrenewed for ttl s.
    lease_ttl: float = Field(60.0, ge=3, validation_alias=_env("HFDAILY_LEASE_TTL"))
    lease_wait: float = Field(600.0, ge=0, validation_alias=_env("HFDAILY_LEASE_WAIT"))

    @field_validator("data_dir", "site_dir", mode="before")
    @classmethod
    def _location(cls, value: object, info: ValidationInfo) -> str:
        if not isinstance(value, str | Path):
            raise ValueError("must be a folder or a URL")
        return check_location(value, conditional=info.field_name == "data_dir")

    @cached_property
    def data(self) -> Storage:
        """The data dir: day files (`days/`), caches (`cache/`), leases (`leases/`)."""
        return open_storage(self.data_dir, conditional=True)

    @cached_property
    def site(self) -> Storage:
        return open_storage(self.site_dir)

    def api_key(self, provider: str) -> str | None:
        """The key for `provider` (openai, anthropic, mistral) from env, else a Prefect Secret block.

        Raises SecretBlockError when the block exists but cannot be read (a missing block is no key).
        """
        secret: SecretStr | None = getattr(self, f"{provider}_api_key")
        if secret is not None and secret.get_secret_value():
            return secret.get_secret_value()
        if self.use_secret_blocks:
            return _secret_block(f"hfdaily-{provider}-api-key")
        return None

    def telegram_token(self) -> str | None:
        """The bot token from TELEGRAM_BOT_TOKEN, else (with HFDAILY_USE_SECRET_BLOCKS) the Secret block
        `hfdaily-telegram-bot-token`. Raises SecretBlockError when the block exists but cannot be read."""
        secret = self.telegram_bot_token
        if secret is not None and secret.get_secret_value():
            return secret.get_secret_value()
        if self.use_secret_blocks:
            return _secret_block("hfdaily-telegram-bot-token")
        return None

    def base_url(self, provider: str) -> str | None:
        return getattr(self, f"{provider}_base_url")

    def budget(self, provider: str) -> dict[str, float]:
        """The provider's per-minute budgets: `rpm`, `tpm` and (Anthropic) `otpm`."""
        return {kind: getattr(self, f"{provider}_{kind}") for kind in ("rpm", "tpm", "otpm")
                if hasattr(self, f"{provider}_{kind}")}

    def secrets(self) -> list[str]:
        """Every configured secret value, so tests and log filters can check none leaks."""
        keys = []
        for provider in ("openai", "anthropic", "mistral"):
            try:
                key = self.api_key(provider)
            except SecretBlockError:  # nothing was read, so nothing can leak
                continue
            if key:
                keys.append(key)
        try:
            token = self.telegram_token()
        except SecretBlockError:
            token = None
        return keys + ([token] if token else [])


def load_settings(**overrides: Any) -> Settings:
    """The settings, or InvalidSettingError in one line naming each bad variable and its rule.

    Commands call it before they create any flow run, and flows call it first thing, so a bad environment (a
    worker's too) fails at once and says why, instead of a pydantic traceback from somewhere inside the run.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise InvalidSettingError("; ".join(_problem(err) for err in exc.errors())) from None
    except pydantic_settings.SettingsError as exc:  # a value that must be JSON (HFDAILY_PRICES) and is not
        raise InvalidSettingError(_unparsable(exc)) from None


def _variable(field: str) -> str:
    """The environment variable of a Settings field (its first alias), or the name as given."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and alias.choices and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return field


_SECRET_VARIABLES = {_variable(name) for name, info in Settings.model_fields.items()
                     if info.annotation is SecretStr or SecretStr in get_args(info.annotation)}


def _problem(err: Any) -> str:
    """`HFDAILY_MAX_COST='-1': input should be greater than or equal to 0` (a secret's value is never shown)."""
    loc = [str(part) for part in err.get("loc", ())]
    variable = _variable(loc[0]) if loc else "a setting"
    where = variable + "".join(f"[{part}]" for part in loc[1:])
    rule = str(err.get("msg", "is not valid")).removeprefix("Value error, ")  # our validators' own words
    rule = rule[:1].lower() + rule[1:]
    value = err.get("input")
    shown = "" if variable in _SECRET_VARIABLES or not isinstance(value, str | int | float) else f"={str(value)[:60]!r}"
    return f"{where}{shown}: {rule}"


def _unparsable(exc: Exception) -> str:
    """`HFDAILY_PRICES is not valid JSON (...)` from pydantic-settings' 'error parsing value for field "prices"'."""
    text = str(exc)
    field = text.split('"')[1] if text.count('"') >= 2 else "a setting"
    cause = exc.__cause__
    detail = f" ({type(cause).__name__}: {str(cause).splitlines()[0][:100]})" if cause else ""
    return f"{_variable(field)} is not valid JSON{detail}"


class SecretBlockError(HfDailyError):
    """A Prefect Secret block exists (or may exist) but could not be read. Names the block, never a value."""


def _not_found(exc: BaseException) -> bool:
    """Whether Prefect said the block does not exist (`Block.load` wraps its ObjectNotFound in a ValueError)."""
    from prefect.exceptions import ObjectNotFound

    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, ObjectNotFound):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _secret_block(name: str) -> str | None:
    """The value of the Secret block `name`; None when there is no such block."""
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(name).get()
    except Exception as exc:
        if _not_found(exc):
            return None
        # Only the exception's type: its text may quote the stored document, and so the key.
        raise SecretBlockError(f"Prefect Secret block {name!r} could not be read ({type(exc).__name__})") from None
    if value is not None and not isinstance(value, str):
        raise SecretBlockError(f"Prefect Secret block {name!r} does not hold a text value")
    return value or None

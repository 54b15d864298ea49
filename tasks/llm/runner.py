"""Runs one prompt through its provider chain: cache, pacing by the providers' budgets, retries, validation,
fallback."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from tasks.errors import HfDailyError
from tasks.llm.batch import BatchBook, BatchCall
from tasks.llm.cache import AnswerCache, CachedAnswer, cache_key
from tasks.llm.pacing import ProviderPacer, estimate_tokens, pacer_for
from tasks.llm.parsing import ParseError, parse_model, parse_string_list
from tasks.llm.prompts import ChainEntry, Prompt
from tasks.llm.providers import CLIENTS, Completion, LLMCallError, ProviderClient
from tasks.llm.redact import redact
from tasks.llm.usage import BudgetExceeded, UsageMeter, cost_usd
from tasks.log import get_logger
from tasks.models import Usage
from tasks.settings import SecretBlockError, Settings

FailureStatus = Literal["error", "skipped", "deferred"]
# A 429 means "wait", not "broken": the pacer holds the provider until retry-after, and the call asks again. These
# many in a row (beyond HFDAILY_RETRIES) fail the call, so a key that stays rate-limited moves the chain on.
RATE_LIMITED_RETRIES = 8


class StepFailed(HfDailyError):
    """No provider of the chain produced a valid answer. `status` says why; nothing is cached."""

    def __init__(self, message: str, *, status: FailureStatus, usage: Usage | None = None) -> None:
        super().__init__(redact(message))  # it is stored on the step: no key-shaped text, whatever its source
        self.status = status
        self.usage = usage or Usage()


class AwaitingBatch(StepFailed):
    """Batch mode: the call is queued for, or waiting in, a provider batch; the step stays deferred, the chain stops
    here (the next provider is not asked), and a later run finds the answer in the cache."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status="deferred")


@dataclass
class StepAnswer:
    value: Any  # list[str] or a validated pydantic model
    provider: str
    model: str
    usage: Usage
    notes: list[str] = field(default_factory=list)  # what went wrong before the answer that counted


def _is_empty(value: Any) -> bool:
    return isinstance(value, list) and not value


class LLMRuntime:
    """A run's LLM state: SDK clients, the providers' pacers (shared by the runs of a process), the answer cache
    and the usage meter."""

    def __init__(self, settings: Settings, meter: UsageMeter | None = None, *, batch: bool = False,
                 date: str | None = None) -> None:
        self.settings = settings
        self.meter = meter or UsageMeter(settings.max_cost)
        self.cache = AnswerCache(settings.data.child("cache/llm"))
        # Batch mode (tasks/llm/batch.py): calls not answered yet are queued for a provider batch.
        self.batches = BatchBook(settings.data.child("batches")) if batch else None
        self.date = date
        self._clients: dict[str, ProviderClient | LLMCallError | None] = {}
        self.pacers: dict[str, ProviderPacer] = {
            p: pacer_for(p, settings.budget(p), settings.provider_concurrency) for p in CLIENTS
        }
        # One lock per provider: building a client imports its SDK (0.4-1.5 s, several on a busy machine),
        # which must not hold up the calls of the providers that are ready.
        self._locks = {p: threading.Lock() for p in CLIENTS}

    # -- providers ---------------------------------------------------------------------------
    def client(self, provider: str) -> ProviderClient | None:
        """The SDK client, or None (with one warning per run) when the provider has no key.

        A provider that cannot be used (its SDK missing or too old, its Secret block unreadable) raises
        LLMCallError on every call, so each chain moves on and records why; it is logged once per run.
        """
        if provider not in self._clients:
            with self._locks[provider]:
                if provider not in self._clients:
                    self._clients[provider] = self._build(provider)
        built = self._clients[provider]
        if isinstance(built, LLMCallError):
            raise LLMCallError(provider, built.detail)  # a fresh one: calls in other threads raise it too
        return built

    def _build(self, provider: str) -> ProviderClient | LLMCallError | None:
        log = get_logger()
        try:
            key = self.settings.api_key(provider)
            if not key:
                log.warning("%s: no API key set; skipping it in every chain", provider)
                return None
            return CLIENTS[provider](key, self.settings.base_url(provider), self.settings.llm_timeout)
        except SecretBlockError as exc:  # a block that exists but cannot be read is an error, not "no key"
            error = LLMCallError(provider, str(exc))
        except LLMCallError as exc:
            error = exc
        log.warning("%s; passing it over in every chain", error)
        return error

    def preload(self) -> None:
        """Build the clients of the providers with a key in the environment in a background thread, while
        the run fetches the feed and the PDFs: one SDK import at a time, the busiest provider first (imports
        running side by side share one GIL and would all be ready late)."""
        order = [p for p in ("openai", "anthropic", "mistral")
                 if (secret := getattr(self.settings, f"{p}_api_key", None)) is not None and secret.get_secret_value()]
        for provider in order:  # taken here, so no task starts a second import before the thread gets to it
            self._locks[provider].acquire()

        def build() -> None:
            for provider in order:
                try:
                    key = self.settings.api_key(provider)
                    self._clients[provider] = CLIENTS[provider](
                        key, self.settings.base_url(provider), self.settings.llm_timeout
                    )
                except Exception:  # the first call builds it again and reports the error
                    pass
                finally:
                    self._locks[provider].release()

        try:
            threading.Thread(target=build, name="llm-client-preload", daemon=True).start()
        except BaseException:
            for provider in order:
                self._locks[provider].release()
            raise

    def _call(self, client: ProviderClient, entry: ChainEntry, system: str, user: str,
              schema: type[BaseModel] | None, step: str, static: str = "") -> tuple[Completion, Usage]:
        """One paid request, paced by the provider's budgets; retried on transient errors with backoff, jitter and
        Retry-After, and after a 429 once the pacer lets the provider be asked again."""
        s = self.settings
        pacer = self.pacers[entry.provider]
        estimate = estimate_tokens(system, user)
        attempt = limited = 0
        while True:
            permit = pacer.acquire(step, estimate, entry.max_tokens)
            try:
                self.meter.check()  # once paced: calls queued behind the pacer stop when the run must stop
                done = client.complete(
                    model=entry.model, system=system, user=user, temperature=entry.temperature,
                    max_tokens=entry.max_tokens, schema=schema, step=step, static=static,
                )
            except LLMCallError as exc:
                if exc.rate_limited and limited < RATE_LIMITED_RETRIES:
                    wait = None if exc.retry_after is None else min(exc.retry_after, s.retry_max_wait)
                    permit.throttled(wait, exc.rate)  # every call of this provider waits it out
                    limited += 1
                    get_logger().info("%s %s: rate-limited (%s); asking again when the pacer allows",
                                      step, entry.provider, exc)
                    continue
                permit.failed()
                if not exc.retriable or attempt == s.retries:
                    raise
                backoff = s.retry_base_delay * 2**attempt * random.uniform(0.5, 1.5)
                wait = min(s.retry_max_wait, max(backoff, exc.retry_after or 0.0))
                get_logger().info("%s %s: %s; retry %d in %.1f s", step, entry.provider, exc, attempt + 1, wait)
                attempt += 1
                time.sleep(wait)
                continue
            except BaseException:
                permit.failed()
                raise
            permit.done(done.input_tokens, done.output_tokens, done.rate)
            usage = completion_usage(done, entry.model, s.prices)
            self.meter.add(usage)
            return done, usage

    # -- one chain entry ---------------------------------------------------------------------
    def ask(self, prompt: Prompt, entry: ChainEntry, inputs: dict[str, Any], tally: list[Usage]) -> tuple[Any, str]:
        """A validated answer from one provider: from the cache, or asked (and re-asked once if invalid).

        The usage of every call made, including ones whose answer was rejected, is appended to `tally`.
        """
        client = self.client(entry.provider)
        if client is None:
            raise StepFailed(f"{entry.provider}: no API key", status="skipped")
        user = prompt.render(entry, inputs)
        schema = prompt.output_model if entry.structured else None
        key = cache_key(
            prompt_digest=prompt.digest, provider=entry.provider, model=entry.model, params=entry.params,
            messages=[{"role": "system", "content": prompt.system}, {"role": "user", "content": user}],
        )
        log = get_logger()
        if (hit := self.cache.get(key)) is not None:
            try:
                value = self._parse(prompt, hit.text)
            except ParseError:
                pass  # validation rules changed since it was cached: ask again
            else:
                if hit.batch_usage is not None:  # a batch's answer, used for the first time: book what it cost
                    tally.append(hit.batch_usage)
                    self.cache.put(key, hit.model_copy(update={"batch_usage": None}))
                else:
                    tally.append(Usage(cached=1))
                return value, hit.model
        static = prompt.split(user, entry, inputs)
        if self.batches is not None and (state := self.batches.status(key)) != "failed":
            if state == "new":
                self.meter.reserve(self.queued_cost(entry, prompt.system, user))  # BudgetExceeded: not queued
                self.batches.queue(BatchCall(
                    key=key, provider=entry.provider, step=prompt.step, model=entry.model, system=prompt.system,
                    user=user, static=static, temperature=entry.temperature, max_tokens=entry.max_tokens,
                    structured=entry.structured, date=self.date,
                ))
            raise AwaitingBatch(f"{entry.provider}: {'queued for' if state == 'new' else 'waiting for'} a batch")
        log.debug("%s %s prompt:\n%s", prompt.step, entry.provider, user)
        done, usage = self._call(client, entry, prompt.system, user, schema, prompt.step, static)
        tally.append(usage)
        log.debug("%s %s answer:\n%s", prompt.step, entry.provider, done.text)
        try:
            value = self._parse(prompt, done.text)
        except ParseError as first:
            log.info("%s %s: invalid answer (%s); asking once more", prompt.step, entry.provider, first)
            retry_user = (
                f"{user}\nYour previous answer was rejected: {first}\n"
                "Answer again with valid JSON in the requested shape and nothing else."
            )
            done, more = self._call(client, entry, prompt.system, retry_user, schema, prompt.step, static)
            tally.append(more)
            value = self._parse(prompt, done.text)  # a second ParseError goes to the next provider
        self.cache.put(key, CachedAnswer(
            text=done.text, model=done.model, input_tokens=done.input_tokens, output_tokens=done.output_tokens,
        ))
        return value, done.model

    def queued_cost(self, entry: ChainEntry, system: str, user: str) -> float:
        """What a queued call may cost at the batch price: its prompt's estimated tokens and, as the answer's,
        its max_tokens (an upper bound, so a cap on queued calls is never exceeded by their answers)."""
        return cost_usd(entry.model, estimate_tokens(system, user), entry.max_tokens, self.settings.prices,
                        factor=self.settings.batch_price_factor)

    @staticmethod
    def _parse(prompt: Prompt, text: str) -> Any:
        model = prompt.output_model
        return parse_string_list(text) if model is None else parse_model(text, model)

    # -- the chain ---------------------------------------------------------------------------
    def run(self, prompt: Prompt, inputs: dict[str, Any]) -> StepAnswer:
        """Try each provider of the chain in order until one gives a valid (and, if asked, non-empty) answer."""
        notes: list[str] = []
        tally: list[Usage] = []
        empty: StepAnswer | None = None
        skipped = 0
        for entry in prompt.chain:
            try:
                value, model = self.ask(prompt, entry, inputs, tally)
            except AwaitingBatch as exc:
                exc.usage = _sum(tally)
                raise
            except StepFailed as exc:
                skipped += exc.status == "skipped"
                notes.append(str(exc))
                continue
            except BudgetExceeded as exc:
                raise StepFailed(str(exc), status="deferred", usage=_sum(tally)) from exc
            except (LLMCallError, ParseError) as exc:
                notes.append(f"{entry.provider}: {exc}" if isinstance(exc, ParseError) else str(exc))
                continue
            answer = StepAnswer(value, entry.provider, model, _sum(tally), list(notes))
            if prompt.fallback_on_empty and _is_empty(value):
                notes.append(f"{entry.provider}: empty answer")
                empty = answer
                continue
            return answer
        if empty is not None:  # every provider that answered found nothing: that is the answer
            empty.usage = _sum(tally)
            return empty
        status: FailureStatus = "skipped" if skipped == len(prompt.chain) else "error"
        raise StepFailed("; ".join(notes) or "no provider in the chain", status=status, usage=_sum(tally))


def completion_usage(done: Completion, model: str, prices: dict, factor: float = 1.0, *, batch: bool = False) -> Usage:
    """One paid call's usage and cost, its cached input tokens at the cached price (`factor`: a batch's price)."""
    return Usage(
        calls=1, batch_calls=int(batch), input_tokens=done.input_tokens, output_tokens=done.output_tokens,
        cached_input_tokens=done.cached_tokens, cache_write_tokens=done.cache_write_tokens,
        cost_usd=cost_usd(model, done.input_tokens, done.output_tokens, prices, cached_tokens=done.cached_tokens,
                          cache_write_tokens=done.cache_write_tokens, factor=factor),
    )


def batch_answer_store(settings: Settings) -> Callable[[str, dict[str, Any], Completion], bool]:
    """For tasks/llm/batch.py `collect`: keep a batch's answer in the answer cache if it validates, with its cost
    at the batch price; False for an answer that does not (that call is then asked online)."""
    from tasks.llm.prompts import PromptError, load_prompt

    cache = AnswerCache(settings.data.child("cache/llm"))

    def store(key: str, info: dict[str, Any], done: Completion) -> bool:
        try:
            LLMRuntime._parse(load_prompt(str(info.get("step"))), done.text)
        except (ParseError, PromptError):
            return False
        model = str(info.get("model") or done.model)
        usage = completion_usage(done, model, settings.prices, settings.batch_price_factor, batch=True)
        cache.put(key, CachedAnswer(text=done.text, model=done.model or model, input_tokens=done.input_tokens,
                                    output_tokens=done.output_tokens, batch_usage=usage))
        return True

    return store


def _sum(usages: list[Usage]) -> Usage:
    total = Usage()
    for u in usages:
        total = total + u
    return total


_runtimes: dict[str, LLMRuntime] = {}
_runtime_lock = threading.Lock()


def _run_key() -> str:
    """The flow run this code runs in (a task sees its parent flow run), so concurrent runs keep apart."""
    try:
        from prefect.runtime import flow_run

        return str(flow_run.id or "")
    except Exception:  # outside Prefect
        return ""


def configure(settings: Settings, max_cost: float | None = None, key: str | None = None, *, batch: bool = False,
              date: str | None = None) -> LLMRuntime:
    """Install a fresh runtime (clients, usage meter) for the current flow run, its pacers drawing on the budgets
    shared through the Prefect server where it has them (tasks/llm/shared.py). `batch`: queue unanswered calls for
    provider batches (tasks/llm/batch.py) instead of calling; `date`: the run's date, kept with what it queues."""
    from tasks.llm.shared import shared_budgets

    runtime = LLMRuntime(settings, UsageMeter(max_cost if max_cost is not None else settings.max_cost),
                         batch=batch, date=date)
    runtime.preload()
    budgets = shared_budgets(settings)  # asks the server (at most once a minute): outside the lock
    with _runtime_lock:
        for provider, budget in budgets.items():
            pacer = runtime.pacers[provider]
            if pacer.shared is None:  # a process keeps one reservoir per provider
                pacer.shared = budget
            pacer.shared.open()  # closed if this process's last run released its runtime
        _runtimes[_run_key() if key is None else key] = runtime
    for provider in budgets:
        runtime.pacers[provider].shared.prime()  # type: ignore[union-attr]
    return runtime


def release(key: str | None = None) -> None:
    """Drop a run's runtime. The last run of the process also closes the shared budgets' top-ups: a top-up still
    waiting for the server must not outlive the LLM work (the process could not exit before it ends)."""
    from tasks.llm.pacing import all_pacers

    with _runtime_lock:
        _runtimes.pop(_run_key() if key is None else key, None)
        if not _runtimes:
            for pacer in all_pacers():
                if pacer.shared is not None:
                    pacer.shared.close()


def current() -> LLMRuntime:
    key = _run_key()
    with _runtime_lock:
        runtime = _runtimes.get(key) or _runtimes.get("")
    if runtime is None:
        raise HfDailyError("the LLM runtime is not configured; call tasks.llm.runner.configure() first")
    return runtime

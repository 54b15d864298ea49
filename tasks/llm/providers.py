"""One small interface over the OpenAI, Anthropic and Mistral SDKs.

SDK-level retries are switched off (max_retries=0): retrying is the chain runner's job, so attempts
never multiply. Each SDK gets an HTTP client that keeps the rate-limit headers of the last answer in this thread
(`Completion.rate`, `LLMCallError.rate`): the pacer (tasks/llm/pacing.py) reads where the provider says we stand.

Every SDK error, and every answer whose shape is not a completion (an HTML page from a proxy answered with status
200, JSON of another shape), becomes an `LLMCallError` that says whether a retry can help, so the chain runner
moves on to the next provider.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from tasks.errors import HfDailyError
from tasks.http import RETRIABLE_STATUS, parse_retry_after
from tasks.llm.ratelimits import RateInfo, parse_rate_headers, rate_headers
from tasks.llm.redact import redact, register_secret

# The SDKs are imported when this module is (as a process starts), not in the middle of a run: `import anthropic`
# alone takes ~3 s of CPU, and an import competing with a run's PDF parsers and starting task threads took 10-13 s
# and held that provider's first call back as long. A missing or broken SDK is reported where a client is built.
for _sdk in ("openai", "anthropic", "mistralai.client"):
    with contextlib.suppress(Exception):
        importlib.import_module(_sdk)


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    input_tokens: int
    output_tokens: int
    rate: RateInfo | None = None  # the answer's rate-limit headers
    # Of input_tokens (which counts them all): read from the provider's prompt cache, and written to it.
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class LLMCallError(HfDailyError):
    def __init__(
        self, provider: str, message: str, *, status: int | None = None, retriable: bool = False,
        retry_after: float | None = None, rate: RateInfo | None = None,
    ) -> None:
        message = redact(message)  # here, so no stored or logged error text can carry a key
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.detail = message
        self.status = status
        self.retriable = retriable
        self.retry_after = retry_after
        self.rate = rate

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


class ProviderClient(Protocol):
    name: str

    def complete(
        self, *, model: str, system: str, user: str, temperature: float, max_tokens: int,
        schema: type[BaseModel] | None, step: str, static: str = "",
    ) -> Completion:
        """One request. `static` is the start of `user` that is the same for every paper (tasks/llm/prompts.py
        STATIC_END): the prompt-cacheable prefix, marked for the providers that need a mark."""
        ...


def _status_error(provider: str, status: int, headers: Any, detail: str) -> LLMCallError:
    rate = parse_rate_headers(provider, rate_headers(headers)) if headers is not None else None
    retry_after = rate.retry_after if rate is not None else None
    if retry_after is None and headers is not None:
        retry_after = parse_retry_after(headers.get("retry-after"))
    return LLMCallError(
        provider, f"HTTP {status}: {detail[:160]}", status=status,
        retriable=status in RETRIABLE_STATUS, retry_after=retry_after, rate=rate,
    )


_seen = threading.local()  # the rate-limit headers of this thread's last answer


def _keep_headers(response: Any) -> None:
    """httpx response hook: SDK calls are synchronous, so the answer a thread reads next is its own."""
    _seen.headers = rate_headers(response.headers)


def _http_client(factory: Callable[..., Any]) -> Any:
    return factory(event_hooks={"response": [_keep_headers]})


@contextmanager
def _watch(provider: str) -> Iterator[list[RateInfo | None]]:
    """Yields a one-item list that holds the call's RateInfo once the call returns."""
    _seen.headers = None
    box: list[RateInfo | None] = [None]
    try:
        yield box
    finally:
        box[0] = parse_rate_headers(provider, getattr(_seen, "headers", None))


def _with_rate(done: Completion, rate: RateInfo | None) -> Completion:
    return done if rate is None else dataclasses.replace(done, rate=rate)


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the subset OpenAI's strict structured outputs accept.

    Length limits are dropped here (the pydantic model still enforces them when the answer is parsed).
    """
    schema = copy.deepcopy(model.model_json_schema())

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("minLength", "maxLength", "minItems", "maxItems", "default", "title"):
                if not isinstance(node.get(key), dict):  # a property may be *named* "title"
                    node.pop(key, None)
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


# What reading an answer of the wrong shape raises: a proxy's HTML page comes back from the SDK as a str,
# a JSON body of another shape as a half-built model with missing or mistyped fields.
_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)


def _describe(value: Any) -> str:
    if isinstance(value, str | bytes):
        text = value if isinstance(value, str) else value.decode("utf-8", "replace")
        return f"text, not a completion: {' '.join(text[:80].split())!r}"
    return f"a {type(value).__name__} that is not a completion"


def _answer(text: Any, model: Any, input_tokens: Any, output_tokens: Any, cached: Any = 0, written: Any = 0,
            ) -> Completion:
    """A Completion from values read off an SDK answer, checked: the SDKs do not validate what they return."""
    if not isinstance(text, str) or not isinstance(model, str) or not model:
        raise TypeError("answer text or model is not a string")
    for n in (input_tokens, output_tokens, cached, written):
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise TypeError("token counts are not counts")
    if cached + written > input_tokens:
        raise ValueError("more cached input tokens than input tokens")
    return Completion(text=text, model=model, input_tokens=input_tokens, output_tokens=output_tokens,
                      cached_tokens=cached, cache_write_tokens=written)


def cached_prompt_tokens(usage: Any) -> int:
    """`usage.prompt_tokens_details.cached_tokens` (OpenAI's chat usage, and Mistral's in the same shape), 0 if
    absent. Mistral's SDK (3.x) models no cached-token field on `UsageInfo` and keeps the API's
    `prompt_tokens_details` as an extra field (`additional_properties`); its own telemetry reads cached tokens from
    there (mistralai/extra/observability/otel.py), and so does this."""
    details = getattr(usage, "prompt_tokens_details", None)
    if details is None:
        extra = getattr(usage, "additional_properties", None) or {}
        details = extra.get("prompt_tokens_details") if isinstance(extra, dict) else None
    value = details.get("cached_tokens") if isinstance(details, dict) else getattr(details, "cached_tokens", 0)
    return value or 0


def _read(provider: str, resp: Any, read: Callable[[Any], Completion]) -> Completion:
    """`read(resp)`, with any surprise in the answer's shape made a provider error, so the chain moves on."""
    try:
        return read(resp)
    except LLMCallError:
        raise
    except _SHAPE_ERRORS as exc:
        raise LLMCallError(provider, f"unexpected answer ({_describe(resp)})") from exc


@contextmanager
def _sdk_guard(provider: str) -> Iterator[None]:
    """Importing and setting up an SDK: a missing SDK, or a release without what this code uses, makes the
    provider unusable (an error its chains move past) rather than an ImportError that fails the step."""
    try:
        yield
    except (ImportError, AttributeError, TypeError) as exc:
        raise LLMCallError(
            provider, f"SDK not usable ({type(exc).__name__}: {exc}); install the release pyproject.toml asks for"
        ) from exc


@contextmanager
def _sdk_errors(provider: str, sdk: Any, base_error: type[Exception]) -> Iterator[None]:
    """The OpenAI and Anthropic SDKs share an error hierarchy: map it onto LLMCallError."""
    try:
        yield
    except sdk.APITimeoutError as exc:
        raise LLMCallError(provider, "request timed out", retriable=True) from exc
    except sdk.APIConnectionError as exc:
        raise LLMCallError(provider, "connection failed", retriable=True) from exc
    except sdk.APIStatusError as exc:
        raise _status_error(provider, exc.status_code, exc.response.headers, exc.message) from exc
    except base_error as exc:  # e.g. an answer the SDK could not read
        raise LLMCallError(provider, f"bad answer: {exc}") from exc


class OpenAIClient:
    name = "openai"

    def __init__(self, api_key: str, base_url: str | None, timeout: float) -> None:
        register_secret(api_key)
        with _sdk_guard(self.name):
            import openai

            self._openai = openai
            self._base_error = openai.OpenAIError
            _require(openai, "APITimeoutError", "APIConnectionError", "APIStatusError")
            client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0,
                                   http_client=_http_client(openai.DefaultHttpxClient))
            self._create = client.chat.completions.create

    def complete(self, *, model, system, user, temperature, max_tokens, schema, step, static="") -> Completion:
        # OpenAI caches a prompt's prefix by itself (from 1,024 tokens): the static part already comes first.
        kwargs: dict[str, Any] = {}
        if schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": step, "schema": strict_json_schema(schema), "strict": True},
            }
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        with _watch(self.name) as rate, _sdk_errors(self.name, self._openai, self._base_error):
            resp = self._create(
                model=model, messages=messages, temperature=temperature, max_tokens=max_tokens, **kwargs,
            )
        return _with_rate(_read(self.name, resp, lambda r: self._answer(r, model)), rate[0])

    def _answer(self, resp: Any, model: str) -> Completion:
        if not resp.choices:
            raise LLMCallError(self.name, "answer has no choices")
        message = resp.choices[0].message
        if getattr(message, "refusal", None):
            raise LLMCallError(self.name, f"refused: {str(message.refusal)[:160]}")
        usage = resp.usage
        return _answer(
            message.content or "", resp.model or model,
            usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0,
            cached_prompt_tokens(usage) if usage else 0,
        )


class AnthropicClient:
    name = "anthropic"

    def __init__(self, api_key: str, base_url: str | None, timeout: float) -> None:
        register_secret(api_key)
        with _sdk_guard(self.name):
            import anthropic

            self._anthropic = anthropic
            self._base_error = anthropic.AnthropicError
            self._not_given = anthropic.NOT_GIVEN
            _require(anthropic, "APITimeoutError", "APIConnectionError", "APIStatusError")
            client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0,
                                         http_client=_http_client(anthropic.DefaultHttpxClient))
            self._create = client.messages.create

    def complete(self, *, model, system, user, temperature, max_tokens, schema, step, static="") -> Completion:
        with _watch(self.name) as rate, _sdk_errors(self.name, self._anthropic, self._base_error):
            resp = self._create(
                # The current Messages API sets sampling itself: it takes no temperature.
                model=model, system=system or self._not_given, max_tokens=max_tokens,
                messages=[{"role": "user", "content": anthropic_content(user, static)}],
            )
        return _with_rate(_read(self.name, resp, lambda r: self._answer(r, model)), rate[0])

    @staticmethod
    def _answer(resp: Any, model: str) -> Completion:
        if not isinstance(resp.content, list):
            raise TypeError("content is not a list of blocks")
        text = "".join(block.text for block in resp.content if getattr(block, "type", "") == "text")
        usage = resp.usage
        # Anthropic's input_tokens leaves out what it read from or wrote to its cache: Completion counts all.
        read = getattr(usage, "cache_read_input_tokens", None) or 0
        written = getattr(usage, "cache_creation_input_tokens", None) or 0
        total = usage.input_tokens + read + written if isinstance(usage.input_tokens, int) else usage.input_tokens
        return _answer(text, resp.model or model, total, usage.output_tokens, read, written)


def anthropic_content(user: str, static: str) -> str | list[dict[str, Any]]:
    """The user message: with a static start, two text blocks, the first marked `cache_control` so that Anthropic
    caches the system prompt and the instructions (it caches nothing it is not told to)."""
    if not static or not user.startswith(static) or len(static) == len(user):
        return user
    return [
        {"type": "text", "text": static, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": user[len(static):]},
    ]


class MistralClient:
    name = "mistral"

    def __init__(self, api_key: str, base_url: str | None, timeout: float) -> None:
        register_secret(api_key)
        with _sdk_guard(self.name):
            # mistralai 2.0 moved the client into `mistralai.client`; 1.x has no `Mistral` there.
            import httpx
            from mistralai.client import Mistral
            from mistralai.client.errors import MistralError, NoResponseError

            self._errors = (MistralError, NoResponseError)
            client = Mistral(api_key=api_key, server_url=base_url, timeout_ms=int(timeout * 1000),
                             client=_http_client(lambda **kw: httpx.Client(follow_redirects=True, **kw)))
            self._create = client.chat.complete

    def complete(self, *, model, system, user, temperature, max_tokens, schema, step, static="") -> Completion:
        mistral_error, no_response_error = self._errors
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        try:
            with _watch(self.name) as rate:
                # Mistral caches shared prefixes by itself; the key routes a step's calls to where its prefix is.
                extra = {"prompt_cache_key": f"hfdaily-{step}"} if static else {}
                resp = self._create(model=model, messages=messages, temperature=temperature, max_tokens=max_tokens,
                                    **extra)
        except mistral_error as exc:
            if 200 <= exc.status_code < 300:  # the SDK refuses an answer that is not its JSON
                raise LLMCallError(self.name, f"unexpected answer ({exc.message[:160]})") from exc
            raise _status_error(self.name, exc.status_code, exc.headers, exc.message) from exc
        except no_response_error as exc:
            raise LLMCallError(self.name, "no response (connection failed)", retriable=True) from exc
        except Exception as exc:
            # The SDK surfaces transport failures as its HTTP library's exceptions.
            if _is_transport_error(exc):
                kind = "request timed out" if "Timeout" in type(exc).__name__ else "connection failed"
                raise LLMCallError(self.name, kind, retriable=True) from exc
            raise LLMCallError(self.name, f"bad answer: {type(exc).__name__}: {exc}") from exc
        return _with_rate(_read(self.name, resp, lambda r: self._answer(r, model)), rate[0])

    def _answer(self, resp: Any, model: str) -> Completion:
        if not resp.choices:
            raise LLMCallError(self.name, "answer has no choices")
        content = resp.choices[0].message.content
        if isinstance(content, list):  # content chunks
            content = "".join(getattr(c, "text", "") for c in content)
        usage = resp.usage
        return _answer(
            content or "", resp.model or model,
            (usage.prompt_tokens or 0) if usage else 0, (usage.completion_tokens or 0) if usage else 0,
            cached_prompt_tokens(usage) if usage else 0,
        )


def _require(module: Any, *names: str) -> None:
    """AttributeError naming what an SDK release lacks (the guard turns it into a provider error)."""
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise AttributeError(f"{module.__name__} {getattr(module, '__version__', '?')} has no {', '.join(missing)}")


def _is_transport_error(exc: Exception) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"TransportError", "TimeoutException", "NetworkError", "RemoteProtocolError"})


CLIENTS: dict[str, type] = {"openai": OpenAIClient, "anthropic": AnthropicClient, "mistral": MistralClient}

"""One small interface over the OpenAI, Anthropic and Mistral SDKs.

SDK-level retries are switched off (max_retries=0): retrying is the chain runner's job, so attempts
never multiply. Every SDK error becomes an `LLMCallError` that says whether a retry can help.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from tasks.errors import HfDailyError
from tasks.http import RETRIABLE_STATUS, parse_retry_after


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    input_tokens: int
    output_tokens: int


class LLMCallError(HfDailyError):
    def __init__(
        self, provider: str, message: str, *, status: int | None = None, retriable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status
        self.retriable = retriable
        self.retry_after = retry_after


class ProviderClient(Protocol):
    name: str

    def complete(
        self, *, model: str, system: str, user: str, temperature: float, max_tokens: int,
        schema: type[BaseModel] | None, step: str,
    ) -> Completion: ...


def _status_error(provider: str, status: int, headers: Any, detail: str) -> LLMCallError:
    retry_after = parse_retry_after(headers.get("retry-after")) if headers is not None else None
    return LLMCallError(
        provider, f"HTTP {status}: {detail[:160]}", status=status,
        retriable=status in RETRIABLE_STATUS, retry_after=retry_after,
    )


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
        import openai

        self._openai = openai
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    def complete(self, *, model, system, user, temperature, max_tokens, schema, step) -> Completion:
        kwargs: dict[str, Any] = {}
        if schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": step, "schema": strict_json_schema(schema), "strict": True},
            }
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        with _sdk_errors(self.name, self._openai, self._openai.OpenAIError):
            resp = self._client.chat.completions.create(
                model=model, messages=messages, temperature=temperature, max_tokens=max_tokens, **kwargs,
            )
        if not resp.choices:
            raise LLMCallError(self.name, "answer has no choices")
        message = resp.choices[0].message
        if getattr(message, "refusal", None):
            raise LLMCallError(self.name, f"refused: {message.refusal[:160]}")
        usage = resp.usage
        return Completion(
            text=message.content or "",
            model=resp.model or model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
        )


class AnthropicClient:
    name = "anthropic"

    def __init__(self, api_key: str, base_url: str | None, timeout: float) -> None:
        import anthropic

        self._anthropic = anthropic
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    def complete(self, *, model, system, user, temperature, max_tokens, schema, step) -> Completion:
        an = self._anthropic
        with _sdk_errors(self.name, an, an.AnthropicError):
            resp = self._client.messages.create(
                # The current Messages API sets sampling itself: it takes no temperature.
                model=model, system=system or an.NOT_GIVEN, max_tokens=max_tokens,
                messages=[{"role": "user", "content": user}],
            )
        text = "".join(block.text for block in resp.content if getattr(block, "type", "") == "text")
        return Completion(
            text=text, model=resp.model or model,
            input_tokens=resp.usage.input_tokens, output_tokens=resp.usage.output_tokens,
        )


class MistralClient:
    name = "mistral"

    def __init__(self, api_key: str, base_url: str | None, timeout: float) -> None:
        from mistralai.client import Mistral

        self._client = Mistral(api_key=api_key, server_url=base_url, timeout_ms=int(timeout * 1000))

    def complete(self, *, model, system, user, temperature, max_tokens, schema, step) -> Completion:
        from mistralai.client.errors import MistralError, NoResponseError

        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        try:
            resp = self._client.chat.complete(
                model=model, messages=messages, temperature=temperature, max_tokens=max_tokens,
            )
        except MistralError as exc:
            raise _status_error(self.name, exc.status_code, exc.headers, exc.message) from exc
        except NoResponseError as exc:
            raise LLMCallError(self.name, "no response (connection failed)", retriable=True) from exc
        except Exception as exc:
            # The SDK surfaces transport failures as its HTTP library's exceptions.
            if _is_transport_error(exc):
                kind = "request timed out" if "Timeout" in type(exc).__name__ else "connection failed"
                raise LLMCallError(self.name, kind, retriable=True) from exc
            raise LLMCallError(self.name, f"bad answer: {type(exc).__name__}: {exc}") from exc
        if not resp.choices:
            raise LLMCallError(self.name, "answer has no choices")
        content = resp.choices[0].message.content
        if isinstance(content, list):  # content chunks
            content = "".join(getattr(c, "text", "") for c in content)
        usage = resp.usage
        return Completion(
            text=content or "", model=resp.model or model,
            input_tokens=usage.prompt_tokens or 0 if usage else 0,
            output_tokens=usage.completion_tokens or 0 if usage else 0,
        )


def _is_transport_error(exc: Exception) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"TransportError", "TimeoutException", "NetworkError", "RemoteProtocolError"})


CLIENTS: dict[str, type] = {"openai": OpenAIClient, "anthropic": AnthropicClient, "mistral": MistralClient}

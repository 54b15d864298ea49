"""Wire shapes of the three LLM APIs: what a request says, how an answer and an error look."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

_OPENAI_ERRORS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_denied",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class LlmRequest:
    model: str
    text: str  # all message text (system included), joined by newlines
    schema: dict[str, Any] | None  # JSON schema the answer must fit
    json_object: bool  # OpenAI/Mistral JSON mode (answer must be an object)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return ""


def parse_request(provider: str, body: dict[str, Any]) -> LlmRequest:
    parts: list[str] = []
    if provider == "anthropic" and body.get("system"):
        parts.append(_content_text(body["system"]))
    for msg in body.get("messages") or []:
        if isinstance(msg, dict):
            parts.append(_content_text(msg.get("content")))
    schema: dict[str, Any] | None = None
    json_object = False
    if provider == "anthropic":
        fmt = (body.get("output_config") or {}).get("format") or body.get("output_format") or {}
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            schema = fmt.get("schema")
    else:
        fmt = body.get("response_format") or {}
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
        json_object = isinstance(fmt, dict) and fmt.get("type") == "json_object"
    return LlmRequest(
        model=str(body.get("model") or "sandbox-model"),
        text="\n".join(parts),
        schema=schema if isinstance(schema, dict) else None,
        json_object=json_object,
    )


def completion(provider: str, model: str, content: str, prompt_tokens: int, completion_tokens: int,
               cached: int = 0, written: int = 0) -> dict:
    """An answer in the provider's shape. `prompt_tokens` counts all input; `cached` of it came from the prompt
    cache, `written` went into it (Anthropic)."""
    if provider == "anthropic":
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": content}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt_tokens - cached - written,  # Anthropic counts cache reads/writes apart
                "output_tokens": completion_tokens,
                "cache_creation_input_tokens": written,
                "cache_read_input_tokens": cached,
            },
        }
    return {
        "id": ("chatcmpl-" if provider == "openai" else "") + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def masked_key(key: str) -> str:
    """A key the way OpenAI's 401 quotes it back: the first 8 and the last 4 characters, stars between."""
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def auth_error_message(provider: str, key: str) -> str:
    """The text of a 401: OpenAI quotes a masked form of the key it got; Anthropic and Mistral do not."""
    if provider == "openai":
        return f"Incorrect API key provided: {masked_key(key) if key else 'missing'}. Check the key you use."
    if provider == "anthropic":
        return "invalid x-api-key" if key else "x-api-key header is required"
    return "Unauthorized"


def error_body(target: str, status: int, message: str) -> dict[str, Any]:
    """An error in the target's own shape (HF: {"error": …})."""
    if target == "anthropic":
        kind = _ANTHROPIC_ERRORS.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if target == "openai":
        kind = _OPENAI_ERRORS.get(status, "server_error")
        code = "invalid_api_key" if status == 401 else None
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}
    if target == "mistral":
        kind = "invalid_request_error" if status < 500 else "internal_server_error"
        return {"object": "error", "message": message, "type": kind, "param": None, "code": str(status)}
    return {"error": message}


# ---- rate limits: headers on every answer, and the 429 ------------------------------------------------------

_KIND_WORDS = {"rpm": "requests", "tpm": "tokens", "otpm": "output tokens"}


def _go_duration(seconds: float) -> str:
    """A duration the way OpenAI's reset headers write it: `120ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


def _rfc3339(seconds_from_now: float, exact: bool) -> str:
    when = time.time() + seconds_from_now
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when if exact else math.ceil(when)))
    return stamp + (f".{int(when % 1 * 1000):03d}Z" if exact else "Z")


def retry_after_value(seconds: float, exact: bool) -> str:
    """Whole seconds, rounded up, as the providers send; with a time scale, decimals (a second is too coarse)."""
    return f"{max(seconds, 0.001):.3f}" if exact else str(max(1, math.ceil(seconds)))


def rate_limit_headers(provider: str, snap: dict[str, dict[str, float]], *, exact: bool,
                       charged: dict[str, float] | None = None) -> dict[str, str]:
    """The provider's own rate-limit headers from a snapshot {kind: {limit, remaining, reset_s}}."""
    out: dict[str, str] = {}
    if provider == "openai":
        for kind, word in (("rpm", "requests"), ("tpm", "tokens")):
            if kind in snap:
                s = snap[kind]
                out[f"x-ratelimit-limit-{word}"] = str(int(s["limit"]))
                out[f"x-ratelimit-remaining-{word}"] = str(int(s["remaining"]))
                out[f"x-ratelimit-reset-{word}"] = _go_duration(s["reset_s"])
    elif provider == "anthropic":
        names = {"rpm": "requests", "tpm": "input-tokens", "otpm": "output-tokens"}
        for kind, name in names.items():
            if kind in snap:
                s = snap[kind]
                out[f"anthropic-ratelimit-{name}-limit"] = str(int(s["limit"]))
                out[f"anthropic-ratelimit-{name}-remaining"] = str(int(s["remaining"]))
                out[f"anthropic-ratelimit-{name}-reset"] = _rfc3339(s["reset_s"], exact)
        token_kinds = [k for k in ("tpm", "otpm") if k in snap]
        if token_kinds:  # `tokens-*`: the most restrictive of the token limits in effect
            tight = min(token_kinds, key=lambda k: snap[k]["remaining"] / snap[k]["limit"])
            s = snap[tight]
            out["anthropic-ratelimit-tokens-limit"] = str(int(s["limit"]))
            out["anthropic-ratelimit-tokens-remaining"] = str(int(s["remaining"]))
            out["anthropic-ratelimit-tokens-reset"] = _rfc3339(s["reset_s"], exact)
    else:
        for kind, word in (("rpm", "req"), ("tpm", "tokens")):
            if kind in snap:
                out[f"x-ratelimit-limit-{word}-minute"] = str(int(snap[kind]["limit"]))
                out[f"x-ratelimit-remaining-{word}-minute"] = str(int(snap[kind]["remaining"]))
        if charged and "tpm" in charged:
            out["x-ratelimit-tokens-query-cost"] = str(int(charged["tpm"]))
    return out


def rate_limit_error(provider: str, kind: str, model: str, limit: float, wait_s: float) -> dict[str, Any]:
    """A 429 body in the provider's shape, naming the limit that was hit."""
    word = _KIND_WORDS.get(kind, kind)
    if provider == "openai":
        short = "RPM" if kind == "rpm" else "TPM"
        message = (f"Rate limit reached for {model} in organization org-sandbox on {word} per min ({short}): "
                   f"Limit {int(limit)}. Please try again in {_go_duration(wait_s)}.")
        return {"error": {"message": message, "type": word, "param": None, "code": "rate_limit_exceeded"}}
    if provider == "anthropic":
        message = (f"This request would exceed your organization's rate limit of {int(limit):,} {word} per minute. "
                   "Please reduce the prompt length or the maximum tokens requested, or try again later.")
        return {"type": "error", "error": {"type": "rate_limit_error", "message": message}}
    return {"object": "error", "message": "Rate limit exceeded", "type": "rate_limited", "param": None,
            "code": "1300"}

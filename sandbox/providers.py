"""Wire shapes of the three LLM APIs: what a request says, how an answer and an error look."""

from __future__ import annotations

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


def completion(provider: str, model: str, content: str, prompt_tokens: int, completion_tokens: int) -> dict:
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
                "input_tokens": prompt_tokens,
                "output_tokens": completion_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
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

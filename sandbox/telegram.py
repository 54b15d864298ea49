"""A stand-in for Telegram's Bot API: `sendMessage` and `editMessageText` on channels it makes up as asked.

Answers as the Bot API does: `{"ok": true, "result": Message}` or `{"ok": false, "error_code", "description"}`.
HTML parse mode is parsed the way Telegram documents it (the supported tags, only `&lt;` `&gt;` `&amp;` `&quot;`
and numeric entities, `<` and `&` outside markup refused with "can't parse entities"), and the 4,096 limit is
on the parsed text in UTF-16 code units. Every call is recorded (`GET /_telegram`): method, bot id (the token's
part before the colon; the rest is never kept), chat, text and outcome; each chat keeps its messages.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from html.parser import HTMLParser
from typing import Any

MAX_TEXT = 4096
TOKEN = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
METHODS = ("sendMessage", "editMessageText")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")
_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
         "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "a": "text_link",
         "code": "code", "pre": "pre", "blockquote": "blockquote", "tg-spoiler": "spoiler", "span": "spoiler",
         "tg-emoji": "custom_emoji"}
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_DESCRIPTIONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: bot is not a member of the channel chat",
                 404: "Not Found", 409: "Conflict", 500: "Internal Server Error", 502: "Bad Gateway"}


def error(code: int, description: str | None = None, retry_after: float | None = None) -> dict[str, Any]:
    """The Bot API's error object (429: with `parameters.retry_after`, whole seconds as Telegram gives them)."""
    if code == 429:
        wait = max(1, int(-(-(retry_after or 1) // 1)))
        return {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {wait}",
                "parameters": {"retry_after": wait}}
    return {"ok": False, "error_code": code, "description": description or _DESCRIPTIONS.get(code, f"Error {code}")}


class ParseError(ValueError):
    pass


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Html(HTMLParser):
    """Telegram's HTML: plain text and entities, or ParseError as Telegram words it."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.text = ""
        self.entities: list[dict[str, Any]] = []
        self.open: list[tuple[str, int, dict[str, Any]]] = []

    def _offset(self) -> int:
        line, col = self.getpos()
        lines = self.source.split("\n")
        return len("\n".join(lines[: line - 1]).encode()) + (1 if line > 1 else 0) + len(lines[line - 1][:col].encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS or (tag == "span" and dict(attrs).get("class") != "tg-spoiler"):
            raise ParseError(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')
        entity: dict[str, Any] = {"type": _TAGS[tag]}
        if tag == "a":
            href = dict(attrs).get("href")
            if not href:
                raise ParseError(f"Can't find end of the entity starting at byte offset {self._offset()}")
            entity["url"] = href
        self.open.append((tag, _u16(self.text), entity))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            expected = f'"</{self.open[-1][0]}>"' if self.open else "none"
            raise ParseError(f"Unmatched end tag at byte offset {self._offset()}, expected {expected}, "
                             f'found "</{tag}>"')
        _, start, entity = self.open.pop()
        if _u16(self.text) > start:
            self.entities.append({**entity, "offset": start, "length": _u16(self.text) - start})

    def handle_data(self, data: str) -> None:
        if "<" in data:
            raise ParseError(f"Unsupported start tag \"\" at byte offset {self._offset() + data.index('<')}")
        self.text += data

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            raise ParseError(f'Unsupported HTML entity "&{name};" at byte offset {self._offset()}')
        self.text += {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}[name]

    def handle_charref(self, name: str) -> None:
        self.text += chr(int(name[1:], 16) if name[:1] in "xX" else int(name))


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """(plain text, entities) of a message in HTML parse mode; ParseError as Telegram's description says it."""
    # A bare `&` (not an entity) is refused before the parser, which would take it as text.
    for match in re.finditer("&", source):
        if not _ENTITY.match(source, match.start()):
            at = len(source[: match.start()].encode())
            raise ParseError(f"Can't find end of the entity starting at byte offset {at}")
    parser = _Html(source)
    parser.feed(source)
    parser.close()  # an unfinished tag at the end comes out as data with its `<`, refused above
    if parser.open:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{parser.open[-1][0]}"')
    return parser.text, parser.entities


class BotApi:
    """The chats and the call log (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls: list[dict[str, Any]] = []
            self.chats: dict[str, list[dict[str, Any]]] = {}

    def record(self, method: str, token: str, params: dict[str, Any]) -> dict[str, Any]:
        """Log a call before it is answered; its `status` is filled in with the answer."""
        bot = TOKEN.match(token)
        call = {"method": method, "bot": bot.group(1) if bot else None, "chat_id": params.get("chat_id"),
                "message_id": params.get("message_id"), "text": params.get("text"),
                "parse_mode": params.get("parse_mode"), "at": time.time(), "status": None}
        with self._lock:
            self.calls.append(call)
        return call

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": [dict(c) for c in self.calls],
                    "chats": {k: [dict(m) for m in v] for k, v in self.chats.items()}}

    def answer(self, method: str, token: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not TOKEN.match(token):
            return 401, error(401)
        if method not in METHODS:
            return 404, error(404)
        chat = params.get("chat_id")
        if chat is None or str(chat).strip() == "" or isinstance(chat, bool | float | list | dict):
            return 400, error(400, "Bad Request: chat_id is empty")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return 400, error(400, "Bad Request: message text is empty")
        mode = str(params.get("parse_mode") or "")
        if mode.lower() == "html":
            try:
                plain, entities = parse_html(text)
            except ParseError as exc:
                return 400, error(400, f"Bad Request: can't parse entities: {exc}")
        elif mode:
            return 400, error(400, f"Bad Request: unsupported parse_mode {mode!r} in this sandbox")
        else:
            plain, entities = text, []
        if not plain.strip():
            return 400, error(400, "Bad Request: message text is empty")
        if _u16(plain) > MAX_TEXT:
            return 400, error(400, "Bad Request: message is too long")
        key = str(chat)
        chat_obj = {"id": _chat_number(key), "type": "channel", "title": f"sandbox {key}"}
        with self._lock:
            messages = self.chats.setdefault(key, [])
            if method == "sendMessage":
                message = {"message_id": len(messages) + 1, "date": int(time.time()), "text": plain,
                           "entities": entities, "html": text, "edits": 0}
                messages.append(message)
            else:
                try:
                    message_id = int(params.get("message_id"))  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    return 400, error(400, "Bad Request: message identifier is not specified")
                message = next((m for m in messages if m["message_id"] == message_id and not m.get("deleted")), None)
                if message is None:
                    return 400, error(400, "Bad Request: message to edit not found")
                if message["text"] == plain and message["entities"] == entities:
                    return 400, error(400, NOT_MODIFIED)
                message.update(text=plain, entities=entities, html=text, edits=message["edits"] + 1,
                               edit_date=int(time.time()))
            result = {"message_id": message["message_id"], "sender_chat": chat_obj, "chat": chat_obj,
                      "date": message["date"], "text": plain, "entities": entities}
            if "edit_date" in message:
                result["edit_date"] = message["edit_date"]
        return 200, {"ok": True, "result": result}

    def delete(self, chat: str, message_id: int) -> bool:
        """Delete a message as a channel admin would (control API): a later edit finds it gone."""
        with self._lock:
            for message in self.chats.get(chat, []):
                if message["message_id"] == message_id:
                    message["deleted"] = True
                    return True
        return False


def _chat_number(chat: str) -> int:
    """A channel's numeric id: as given, or a stable made-up `-100…` one for a `@name`."""
    try:
        return int(chat)
    except ValueError:
        return -1000000000000 - int(hashlib.sha256(chat.encode()).hexdigest()[:8], 16)

"""Papers asked for by id: read what a person typed (ids, arXiv or HF URLs) and the arXiv API's metadata.

    parse_paper_ref("https://huggingface.co/papers/2501.06600")   -> "2501.06600"
    parse_atom(body)                                               -> papers and error entries (pure)
    fetch_metadata(ids, base_url, ...)                             -> the arXiv API, `GET /api/query?id_list=...`

The arXiv API answers in Atom. Its traps, handled here: one malformed id in `id_list` turns the whole answer into
a single entry whose `<id>` is an error URL (so ids are checked here before they are sent, and an error entry
makes the others be asked one by one); an id arXiv does not know gives no entry (older servers: an entry without
a title); `max_results` defaults to 10, so it is always sent; titles and abstracts come hard-wrapped; entry ids
carry a version (`2501.06600v2`), which a review drops: it is of the paper, its PDF is the latest version's.
The XML comes from the network, so it is parsed with defusedxml (no DTDs, no entity expansion).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import requests
from defusedxml import ElementTree
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.errors import HfDailyError, RetriableError
from tasks.feed import collapse_ws
from tasks.http import raise_if_retriable, session, transport_error
from tasks.log import get_logger
from tasks.models import Paper
from tasks.retrying import retry_if_transient

MAX_PAPERS = 50  # per request: one API call's worth, and a bound on what one run may spend
_NEW_ID = r"\d{2}(?:0[1-9]|1[0-2])\.\d{4,5}"
_OLD_ID = r"[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7}"
PAPER_ID = re.compile(rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v\d+)?")
_HOSTS = {"arxiv.org": ("abs", "pdf", "html"), "export.arxiv.org": ("abs", "pdf"),
          "huggingface.co": ("papers",), "hf.co": ("papers",)}
_NS = {"a": "http://www.w3.org/2005/Atom"}
_ERROR_ID = re.compile(r"/api/errors#")
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|(?:www\.|export\.)?(?:arxiv\.org|huggingface\.co|hf\.co)/)", re.I)


class BadPaperRef(HfDailyError, ValueError):
    """Input that is not an arXiv id or an arXiv/HF paper URL; the message quotes it."""


class ArxivApiError(HfDailyError):
    """The arXiv API answered with something that is not its Atom feed."""


class ArxivApiBusy(RetriableError, ArxivApiError):
    """'Rate exceeded.' or a cut answer: arXiv asks clients to slow down, so it is retried."""


def parse_paper_ref(text: str) -> str:
    """The arXiv id (no version) in an id, `arXiv:ID`, or an arxiv.org / huggingface.co paper URL."""
    raw = text.strip() if isinstance(text, str) else ""
    shown = repr(raw[:80]) if raw else "an empty value"
    value = re.sub(r"^arxiv:\s*", "", raw, flags=re.IGNORECASE)
    if _URL.match(value):  # a link, with or without its scheme
        value = _id_in_url(value, shown)
    match = PAPER_ID.fullmatch(value)
    if match is None:
        raise BadPaperRef(f"{shown} is not an arXiv id (like 2501.06600 or hep-th/9901001) "
                          "or an arxiv.org / huggingface.co paper URL")
    # An old-style id's subject class is not part of the paper's id: arXiv answers math.GT/0309136 as math/0309136.
    return re.sub(r"^([a-z-]+)\.[A-Z]{2}/", r"\1/", match.group("id"))


def _id_in_url(value: str, shown: str) -> str:
    parts = urlsplit(value if "://" in value else f"https://{value}")
    host = (parts.hostname or "").removeprefix("www.")
    sections = _HOSTS.get(host)
    if parts.scheme not in ("http", "https") or sections is None:
        raise BadPaperRef(f"{shown} is not a link to arxiv.org or huggingface.co")
    section, _, rest = parts.path.strip("/").partition("/")
    if section not in sections or not rest:
        raise BadPaperRef(f"{shown} is not a paper's page on {host} (/{'/, /'.join(sections)}/ID)")
    return rest.removesuffix(".pdf")


@dataclass
class Refs:
    """What a request asked for: distinct ids in the order given, and a one-line reason per bad entry."""

    ids: list[str] = field(default_factory=list)
    bad: dict[str, str] = field(default_factory=dict)  # as typed -> why it is not a paper


def parse_refs(values: list[str]) -> Refs:
    refs = Refs()
    for value in values:
        try:
            arxiv_id = parse_paper_ref(value)
        except BadPaperRef as exc:
            refs.bad[str(value)[:80]] = str(exc)
            continue
        if arxiv_id not in refs.ids:
            refs.ids.append(arxiv_id)
    return refs


# -- the Atom answer (pure) ------------------------------------------------------------------------------

@dataclass
class AtomAnswer:
    papers: dict[str, Paper] = field(default_factory=dict)  # by id without version
    errors: list[str] = field(default_factory=list)  # the error entries' messages


def parse_atom(body: bytes) -> AtomAnswer:
    """Papers and error entries of an arXiv API answer; ArxivApiError if it is not an Atom feed."""
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True)
    except ElementTree.ParseError as exc:
        text = collapse_ws(body[:200].decode("utf-8", "replace"))
        if text.lower().startswith("rate exceeded"):
            raise ArxivApiBusy(f"arXiv API: rate exceeded ({text[:60]})") from exc
        raise ArxivApiBusy(f"arXiv API: the answer is not XML ({exc}): {text[:80]!r}") from exc
    except Exception as exc:  # defusedxml refuses DTDs and entities: a hostile answer, not arXiv's
        raise ArxivApiError(f"arXiv API: refused the answer ({type(exc).__name__})") from exc
    if root.tag != "{http://www.w3.org/2005/Atom}feed":
        raise ArxivApiError(f"arXiv API: expected an Atom feed, got <{root.tag}>")
    answer = AtomAnswer()
    for entry in root.findall("a:entry", _NS):
        entry_id = _text(entry, "a:id")
        if _ERROR_ID.search(entry_id):
            answer.errors.append(_text(entry, "a:summary") or entry_id)
            continue
        match = PAPER_ID.search(entry_id.split("/abs/", 1)[-1])
        title = _text(entry, "a:title")
        if match is None or not title:  # older servers answer an unknown id with an entry without a title
            continue
        arxiv_id = match.group("id")
        answer.papers[arxiv_id] = Paper(
            arxiv_id=arxiv_id,
            title=title,
            abstract=_text(entry, "a:summary"),
            authors=[n for a in entry.findall("a:author", _NS) if (n := _text(a, "a:name"))],
            published_at=_when(_text(entry, "a:published")),
        )
    return answer


def _text(node: object, path: str) -> str:
    found = node.find(path, _NS)  # type: ignore[attr-defined]
    return collapse_ws("".join(found.itertext())) if found is not None else ""


def _when(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


# -- the request (I/O) ------------------------------------------------------------------------------------

def query(ids: list[str], *, base_url: str, timeout: float, max_wait: float,
          http: requests.Session | None = None) -> AtomAnswer:
    """One `GET {base}/api/query?id_list=...` (ids already checked by `parse_paper_ref`)."""
    what = f"arXiv API ({', '.join(ids[:3])}{' …' if len(ids) > 3 else ''})"
    http = http or session()
    try:
        resp = http.get(f"{base_url.rstrip('/')}/api/query", timeout=timeout,
                        params={"id_list": ",".join(ids), "max_results": len(ids)})
    except requests.RequestException as exc:
        raise transport_error(exc, what) from exc
    raise_if_retriable(resp, what, max_wait=max_wait)
    if resp.status_code >= 400 and not resp.content.lstrip().startswith(b"<"):
        raise ArxivApiError(f"{what}: HTTP {resp.status_code}: {collapse_ws(resp.text)[:120]}")
    return parse_atom(resp.content)  # arXiv answers a malformed id with an Atom error entry, with a 400 or a 200


def fetch_metadata(ids: list[str], *, base_url: str, timeout: float, max_wait: float) -> tuple[
        dict[str, Paper], dict[str, str]]:
    """(papers by id, one-line reason per id arXiv has no paper for)."""
    http = session()
    answer = query(ids, base_url=base_url, timeout=timeout, max_wait=max_wait, http=http)
    papers = dict(answer.papers)
    missing: dict[str, str] = {}
    if answer.errors:  # one id spoiled the whole answer: ask for each of the others alone
        for arxiv_id in ids:
            one = query([arxiv_id], base_url=base_url, timeout=timeout, max_wait=max_wait, http=http)
            papers.update(one.papers)
            if one.errors:
                missing[arxiv_id] = f"{arxiv_id}: arXiv refused it ({one.errors[0][:120]})"
    for arxiv_id in ids:
        if arxiv_id not in papers and arxiv_id not in missing:
            missing[arxiv_id] = f"{arxiv_id}: arXiv has no paper with this id"
    return {i: papers[i] for i in ids if i in papers}, missing


@task(name="arxiv-metadata", task_run_name="arxiv-metadata-{label}", cache_policy=NO_CACHE,
      retries=3, retry_delay_seconds=[2, 4, 8], retry_jitter_factor=0.5, retry_condition_fn=retry_if_transient)
def fetch_metadata_task(ids: list[str], label: str, base_url: str, timeout: float,
                        max_wait: float) -> tuple[dict[str, Paper], dict[str, str]]:
    """Title, abstract, authors and date of each paper from arXiv. Never cached: a paper may get a new version."""
    papers, missing = fetch_metadata(ids, base_url=base_url, timeout=timeout, max_wait=max_wait)
    get_logger().info("arXiv API: %d of %d papers found", len(papers), len(ids))
    return papers, missing

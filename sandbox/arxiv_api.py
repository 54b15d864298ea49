"""The arXiv API's `GET /api/query?id_list=...`: an Atom feed of the synthetic papers, as export.arxiv.org answers.

What the real service does and this stand-in copies: entry ids are `http://arxiv.org/abs/ID` with a version;
titles and abstracts come hard-wrapped; `max_results` (default 10) cuts the list; an id it does not know gives
no entry (`totalResults` counts the entries); one malformed id in the list turns the whole answer into a single
entry titled "Error" whose `<id>` is `http://arxiv.org/api/errors#incorrect_id_format_for_ID`, with HTTP 400.

Which ids are known: a new-style id whose month has come (April 2007 onwards, 4-digit numbers up to 2014,
5-digit from 2015) and whose number is below KNOWN_BELOW (every id the synthetic feed hands out is), and any
old-style id from 1991 to 2007. The paper behind a known id is the same invented paper the feed and the PDF
route describe (sandbox/synth.py), so a paper requested by id matches the one listed on a day.
"""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime

from sandbox.synth import SynthPaper, base_id

ATOM = "http://www.w3.org/2005/Atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ARXIV = "http://arxiv.org/schemas/atom"
KNOWN_BELOW = 97000  # the synthetic feed's ids stay below 10000 + 31 * 2800
_NEW = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})(v\d+)?$")
_OLD = re.compile(r"^[a-z]+(-[a-z]+)*(\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}(v\d+)?$")

ET.register_namespace("", ATOM)
ET.register_namespace("opensearch", OPENSEARCH)
ET.register_namespace("arxiv", ARXIV)


def well_formed(arxiv_id: str) -> bool:
    return bool(_NEW.match(arxiv_id) or _OLD.match(arxiv_id))


def known(arxiv_id: str, today: datetime | None = None) -> bool:
    """Whether arXiv "has" this (well-formed) id."""
    now = today or datetime.now(UTC)
    if m := _NEW.match(arxiv_id):
        yymm, digits = int(m.group(1) + m.group(2)), m.group(3)
        if not 1 <= int(m.group(2)) <= 12 or yymm < 704 or yymm > int(f"{now:%y%m}"):
            return False
        if (len(digits) == 4) != (yymm < 1501):
            return False
        return int(digits) < KNOWN_BELOW
    if m := _OLD.match(arxiv_id):
        year = int(m.group(3))
        return (year >= 91 or year <= 7) and 1 <= int(m.group(4)) <= 12
    return False


def _el(parent: ET.Element, tag: str, text: str | None = None, ns: str = ATOM, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _wrapped(text: str, indent: str = "  ") -> str:
    """Hard-wrapped as arXiv sends titles and abstracts."""
    return "\n".join(textwrap.wrap(text, 78, subsequent_indent=indent))


def _feed(query: str, total: int) -> ET.Element:
    feed = ET.Element(f"{{{ATOM}}}feed")
    _el(feed, "link", href=f"http://arxiv.org/api/query?{query}", rel="self", type="application/atom+xml")
    _el(feed, "title", f"ArXiv Query: {query}", type="html")
    _el(feed, "id", "http://arxiv.org/api/synthetic")
    _el(feed, "updated", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _el(feed, "totalResults", str(total), OPENSEARCH)
    _el(feed, "startIndex", "0", OPENSEARCH)
    _el(feed, "itemsPerPage", str(total), OPENSEARCH)
    return feed


def error_feed(query: str, bad_id: str) -> bytes:
    feed = _feed(query, 1)
    entry = _el(feed, "entry")
    url = f"http://arxiv.org/api/errors#incorrect_id_format_for_{bad_id}"
    _el(entry, "id", url)
    _el(entry, "title", "Error")
    _el(entry, "summary", f"incorrect id format for {bad_id}")
    _el(entry, "updated", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _el(entry, "link", href=url, rel="alternate", type="text/html")
    _el(_el(entry, "author"), "name", "arXiv api core")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def papers_feed(query: str, papers: list[SynthPaper]) -> bytes:
    feed = _feed(query, len(papers))
    for p in papers:
        entry = _el(feed, "entry")
        when = p.published_at.replace(".000Z", "Z")
        _el(entry, "id", f"http://arxiv.org/abs/{p.arxiv_id}v1")
        _el(entry, "updated", when)
        _el(entry, "published", when)
        _el(entry, "title", _wrapped(p.title))
        _el(entry, "summary", "  " + _wrapped(p.abstract, "") + "\n")
        for name in p.authors:
            _el(_el(entry, "author"), "name", name)
        _el(entry, "link", href=f"http://arxiv.org/abs/{p.arxiv_id}v1", rel="alternate", type="text/html")
        _el(entry, "link", title="pdf", href=f"http://arxiv.org/pdf/{p.arxiv_id}v1", rel="related",
            type="application/pdf")
        _el(entry, "primary_category", None, ARXIV, term="cs.CL", scheme="http://arxiv.org/schemas/atom")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def answer(query: str, id_list: str, max_results: int, paper_of: Callable[[str], SynthPaper]) -> tuple[int, bytes]:
    """(HTTP status, Atom body) for an id_list query; `paper_of(id)` gives the invented paper of an id."""
    ids = [i.strip() for i in id_list.split(",") if i.strip()]
    for arxiv_id in ids:
        if not well_formed(arxiv_id):
            return 400, error_feed(query, arxiv_id)
    found: list[SynthPaper] = []
    for arxiv_id in ids:
        if known(arxiv_id) and all(p.arxiv_id != base_id(arxiv_id) for p in found):
            found.append(paper_of(base_id(arxiv_id)))
    return 200, papers_feed(query, found[:max(0, max_results)])

"""The pages of papers reviewed on request: `u/ID.html` for each, `u/index.html` listing them newest first.

The same card, payload, escaping and CSP as the day pages (the card macro, `views`, base.html); the page script
treats them as a list page (`kind: day`), so language, read marks, pins and the filters work as on a day.
"""

from __future__ import annotations

from markupsafe import Markup

from tasks.log import get_logger
from tasks.models import PaperRecord
from tasks.requested import RequestFile, file_name, load_requests
from tasks.settings import TEMPLATES_DIR, Settings
from tasks.site import views
from tasks.site.i18n import i18n_script, load_strings
from tasks.site.institutions import Institutions, load_aliases
from tasks.site.jinja import environment
from tasks.site.output import sync_static, write_page
from tasks.site.safety import script_json
from tasks.store import site_lease

ROOT = "../"  # every page lives in u/


def page_rel(arxiv_id: str) -> str:
    """The page of a requested paper, relative to the site root."""
    return f"u/{file_name(arxiv_id)}.html"


class RequestedPages:
    """Renders the pages of a set of requested papers (newest first), sharing one institutions mapping."""

    def __init__(self, records: list[RequestFile]) -> None:
        self.records = records
        self.env = environment(TEMPLATES_DIR)
        printed = (a for r in records for a in r.paper.affiliations)
        self.institutions = Institutions(printed, load_aliases(TEMPLATES_DIR / "institutions.json"))
        self._card = self.env.get_template("_cards.html").module.card  # type: ignore[attr-defined]

    def _card_html(self, paper: PaperRecord, link: bool) -> Markup:
        card = views.card_view(paper, root=ROOT)
        if link:  # on the index: the paper's own page, a sibling in u/
            card.page = page_rel(paper.arxiv_id).removeprefix("u/")
        return Markup(self._card(card, ROOT))

    def _data(self, records: list[RequestFile]) -> Markup:
        payloads = []
        for rank, record in enumerate(records):  # newest first: the list's own order ("rank")
            payload = views.paper_payload(record.paper, "", self.institutions.of(record.paper.affiliations))
            payload["rank"] = rank
            payloads.append(payload)
        return script_json({"kind": "day", "requested": True, "papers": payloads})

    def render(self, records: list[RequestFile], *, single: bool) -> str:
        papers = [r.paper for r in records]
        counts: dict[str, int] = {}
        for p in papers:
            for tag in views.unique(p.topics):
                counts[tag] = counts.get(tag, 0) + 1
        institutions: dict[str, int] = {}
        for p in papers:
            for name in self.institutions.of(p.affiliations):
                institutions[name] = institutions.get(name, 0) + 1
        return self.env.get_template("requested.html").render(
            root=ROOT,
            single=single,
            title=papers[0].title if single and papers else None,
            count=len(papers),
            requested=records[0].last_requested_at.isoformat() if single and records else None,
            tags=sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower())),
            institutions=sorted(institutions.items(), key=lambda kv: (-kv[1], kv[0].lower())),
            cards_html=Markup("").join(self._card_html(p, not single) for p in papers),
            data=self._data(records),
        )


def render_requested(settings: Settings, ids: list[str] | None = None) -> list[str]:
    """Write the pages of `ids` (None: every requested paper) and the index; returns the keys written.

    Taken under the site lease, like any render: the static files are shared with the day pages."""
    with site_lease(settings):
        records = load_requests(settings)
        pages = RequestedPages(records)
        out = settings.site
        strings = load_strings(TEMPLATES_DIR)
        written = sync_static(TEMPLATES_DIR / "static", out, {"i18n.js": i18n_script(strings)})
        wanted = set(ids) if ids is not None else None
        for record in records:
            if wanted is None or record.paper.arxiv_id in wanted:
                written.append(write_page(out, page_rel(record.paper.arxiv_id), pages.render([record], single=True)))
        written.append(write_page(out, "u/index.html", pages.render(records, single=False)))
    # A daily render only makes sure u/index.html exists (ids == []): not worth a line on its console.
    say = get_logger().debug if ids == [] else get_logger().info
    say("reviews on request: %d files of the site written (u/, static/)", len(written))
    return written

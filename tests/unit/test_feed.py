import json

import pytest
import requests

from tasks.errors import FeedError
from tasks.feed import collapse_ws, fetch_day, normalize_item, normalize_items
from tests.conftest import fixtures_dir


def _item(**paper):
    base = {"id": "2501.00001", "title": "  A  Title\n split ", "summary": "Abstract\ntext.", "upvotes": 3,
            "authors": [{"name": "Ana B"}, {"name": "Hidden Person", "hidden": True}, {"name": " Cy  D "}],
            "publishedAt": "2025-01-20T10:00:00.000Z"}
    base.update(paper)
    return {"paper": base, "numComments": 2, "publishedAt": "2025-01-21T00:00:00.000Z",
            "thumbnail": "https://cdn.example/t.png"}


def test_normalize_collapses_whitespace_and_hides_hidden_authors():
    p = normalize_item(_item())
    assert p.title == "A Title split"
    assert p.abstract == "Abstract text."
    assert p.authors == ["Ana B", "Cy D"]
    assert p.upvotes == 3 and p.comments == 2
    assert p.published_at.year == 2025 and p.submitted_at.day == 21


def test_newer_shape_fields():
    p = normalize_item(_item(githubRepo="https://github.com/a/b", githubStars=12, projectPage="https://p.example",
                             ai_summary="Short.", ai_keywords=["x", " y "],
                             organization={"name": "org", "fullname": "Org Inc"}))
    assert (p.github_repo, p.github_stars, p.project_page) == ("https://github.com/a/b", 12, "https://p.example")
    assert p.ai_summary == "Short." and p.ai_keywords == ["x", "y"] and p.organization == "Org Inc"


def test_only_http_urls_survive():
    p = normalize_item(_item(githubRepo="javascript:alert(1)", projectPage="/relative"))
    assert p.github_repo is None and p.project_page is None


@pytest.mark.parametrize("bad", [None, [], {"paper": None}, {"paper": {"id": "../etc/passwd", "title": "x"}},
                                 {"paper": {"id": "2501.00001", "title": "   "}}])
def test_unusable_items_are_typed_errors(bad):
    with pytest.raises(FeedError):
        normalize_item(bad)


def test_normalize_items_skips_bad_and_dedups():
    papers, problems = normalize_items([_item(), "junk", _item(), _item(id="2501.00002")])
    assert [p.arxiv_id for p in papers] == ["2501.00001", "2501.00002"]
    assert [p.feed_rank for p in papers] == [0, 3]
    assert len(problems) == 1 and "item 1" in problems[0]


def test_paging_stops_at_short_page():
    pages = {0: [1, 2], 1: [3, 4], 2: [5]}
    assert fetch_day("2025-01-01", lambda p: pages[p], limit=2) == [1, 2, 3, 4, 5]
    assert fetch_day("2025-01-01", lambda p: [], limit=2) == []


def test_paging_that_never_ends_is_an_error():
    with pytest.raises(FeedError, match="paging"):
        fetch_day("2025-01-01", lambda p: [1, 2], limit=2)


def test_all_recorded_real_responses_normalize():
    folder = fixtures_dir("hf_daily_papers")
    files = sorted(folder.glob("*.json"))
    assert len(files) == 25
    total = 0
    for f in files:
        items = json.loads(f.read_text())
        papers, problems = normalize_items(items)
        assert not problems, (f.name, problems)
        assert len(papers) == len(items)
        for p in papers:
            assert p.title == collapse_ws(p.title) and p.abstract and p.authors
            assert p.published_at is not None
        total += len(papers)
    newer = normalize_items(json.loads((folder / "2026-08-21.json").read_text()))[0]
    assert any(p.ai_summary for p in newer) and any(p.organization for p in newer)
    assert total > 200


def test_fetch_page_errors_are_clear(monkeypatch):
    from tasks import feed

    class Resp:
        def __init__(self, status, body, headers=None):
            self.status_code, self.text, self.headers = status, body, headers or {}

        def json(self):
            return json.loads(self.text)

    class Http:
        def __init__(self, resp):
            self.resp = resp

        def get(self, *a, **k):
            if isinstance(self.resp, Exception):
                raise self.resp
            return self.resp

    kw = dict(base_url="http://x", limit=50, timeout=1, max_wait=0)
    with pytest.raises(FeedError, match="HTTP 400"):
        feed.fetch_page("2025-01-01", 0, http=Http(Resp(400, '{"error":"Invalid date"}')), **kw)
    with pytest.raises(FeedError, match="not JSON"):
        feed.fetch_page("2025-01-01", 0, http=Http(Resp(200, "<html>")), **kw)
    with pytest.raises(FeedError, match="expected a JSON list"):
        feed.fetch_page("2025-01-01", 0, http=Http(Resp(200, '{"a": 1}')), **kw)
    from tasks.errors import RetriableError

    with pytest.raises(RetriableError, match="503"):
        feed.fetch_page("2025-01-01", 0, http=Http(Resp(503, "", {"Retry-After": "0"})), **kw)
    with pytest.raises(RetriableError, match="timed out"):
        feed.fetch_page("2025-01-01", 0, http=Http(requests.Timeout()), **kw)

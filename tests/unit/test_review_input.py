"""Reviews on request, without Prefect: what a person may type, the arXiv API's Atom answers (as the sandbox gives
them, and hostile ones), the ids the sandbox knows, run names, the artifact's escaping and the CLI's limits."""

from __future__ import annotations

import pytest

from flows.cli import main
from flows.review import review_name
from sandbox import arxiv_api as fake
from sandbox.server import start
from sandbox.synth import synth_paper
from tasks.arxiv_api import (
    ArxivApiBusy,
    ArxivApiError,
    BadPaperRef,
    fetch_metadata,
    parse_atom,
    parse_paper_ref,
    parse_refs,
    query,
)
from tasks.errors import is_retriable
from tasks.review_report import cell


@pytest.mark.parametrize(("typed", "arxiv_id"), [
    ("2501.06600", "2501.06600"),
    ("  2501.06600v3 ", "2501.06600"),
    ("arXiv:2501.06600", "2501.06600"),
    ("1412.1234", "1412.1234"),
    ("https://arxiv.org/abs/2501.06600v2", "2501.06600"),
    ("http://www.arxiv.org/pdf/2501.06600.pdf", "2501.06600"),
    ("arxiv.org/pdf/2501.06600v1", "2501.06600"),
    ("https://export.arxiv.org/abs/2501.06600", "2501.06600"),
    ("https://arxiv.org/html/2501.06600v1", "2501.06600"),
    ("https://huggingface.co/papers/2501.06600", "2501.06600"),
    ("huggingface.co/papers/2501.06600?x=1#c", "2501.06600"),
    ("hep-th/9901001", "hep-th/9901001"),
    ("math.GT/0309136v2", "math/0309136"),  # arXiv's own form: the subject class is not part of the id
    ("https://arxiv.org/abs/cond-mat/0211022", "cond-mat/0211022"),
])
def test_ids_and_links_people_paste(typed, arxiv_id):
    assert parse_paper_ref(typed) == arxiv_id


@pytest.mark.parametrize(("typed", "said"), [
    ("", "an empty value is not an arXiv id"),
    ("2501.066", "'2501.066' is not an arXiv id"),
    ("2513.06600", "'2513.06600' is not an arXiv id"),  # month 13
    ("2501.06600; rm -rf /", "is not an arXiv id"),
    ("https://example.com/abs/2501.06600", "is not a link to arxiv.org or huggingface.co"),
    ("javascript:alert(1)//arxiv.org/abs/2501.06600", "is not an arXiv id"),
    ("ftp://arxiv.org/abs/2501.06600", "is not a link to arxiv.org or huggingface.co"),
    ("https://arxiv.org/list/cs.CL/recent", "is not a paper's page on arxiv.org"),
    ("https://huggingface.co/papers", "is not a paper's page on huggingface.co"),
    ("https://arxiv.org/abs/2501.06600/../../etc", "is not an arXiv id"),
    ("x" * 500, "is not an arXiv id"),
])
def test_what_is_not_a_paper_is_named_in_one_line(typed, said):
    with pytest.raises(BadPaperRef) as caught:
        parse_paper_ref(typed)
    message = str(caught.value)
    assert said in message and "\n" not in message and len(message) < 220


def test_a_request_keeps_order_drops_repeats_and_names_every_bad_entry():
    refs = parse_refs(["2501.06600v2", "nope", "https://huggingface.co/papers/2501.06600", "2412.12345", ""])
    assert refs.ids == ["2501.06600", "2412.12345"]
    assert list(refs.bad) == ["nope", ""]


# -- Atom answers --------------------------------------------------------------------------------------------

def test_the_sandbox_feed_parses_to_the_planted_papers_with_wrapped_text_joined():
    papers = [synth_paper("2501.04001"), synth_paper("hep-th/9901001")]
    answer = parse_atom(fake.papers_feed("id_list=x", papers))
    assert list(answer.papers) == ["2501.04001", "hep-th/9901001"] and not answer.errors
    got = answer.papers["2501.04001"]
    assert got.title == papers[0].title and got.abstract == papers[0].abstract
    assert got.authors == list(papers[0].authors)
    assert got.published_at.isoformat().startswith(papers[0].published_at[:10])


def test_an_error_entry_is_an_error_not_a_paper_titled_error():
    answer = parse_atom(fake.error_feed("id_list=1309.119", "1309.119"))
    assert answer.papers == {} and answer.errors == ["incorrect id format for 1309.119"]


def test_unknown_ids_give_no_entry_or_an_entry_without_a_title():
    assert parse_atom(fake.papers_feed("id_list=2501.99999", [])).papers == {}
    old_style = (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2501.99999</id>'
                 b'<title/></entry></feed>')
    assert parse_atom(old_style).papers == {}


def test_rate_exceeded_and_cut_answers_are_retried_hostile_xml_is_refused():
    with pytest.raises(ArxivApiBusy) as busy:
        parse_atom(b"Rate exceeded.")
    assert is_retriable(busy.value) and "rate exceeded" in str(busy.value)
    assert is_retriable(pytest.raises(ArxivApiBusy, parse_atom, fake.papers_feed("q", [])[:80]).value)
    bomb = (b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&b;</title></entry></feed>')
    with pytest.raises(ArxivApiError, match="refused the answer"):
        parse_atom(bomb)
    with pytest.raises(ArxivApiError, match="expected an Atom feed"):
        parse_atom(b"<html><body>hi</body></html>")


def test_the_sandbox_knows_ids_as_arxiv_would():
    assert fake.known("2501.04001") and fake.known("1412.1234") and fake.known("hep-th/9901001")
    assert not fake.known("2501.99999")  # beyond what the synthetic feed hands out
    assert not fake.known("9901.0001") and not fake.known("0612.1234")  # before April 2007's new-style ids
    assert not fake.known("1412.12345") and not fake.known("1501.1234")  # 5 digits only from 2015
    assert not fake.known("9912.12345")  # a month that has not come
    assert not fake.well_formed("2501.066") and fake.well_formed("2501.06600v2")


def test_the_api_over_http_batches_cuts_and_refuses_as_arxiv_does():
    with start() as sb:
        ids = [f"2501.{4000 + i:05d}" for i in range(12)]  # more than arXiv's default max_results of 10
        papers, missing = fetch_metadata(ids + ["2501.99999"], base_url=sb.url, timeout=5, max_wait=1)
        assert list(papers) == ids and missing == {"2501.99999": "2501.99999: arXiv has no paper with this id"}
        assert sb.state.requests["arxiv"] == 1
        # A malformed id (never sent by hfdaily, which checks first) spoils the whole answer: each id is asked alone.
        answer = query(["2501.04001", "2501.066"], base_url=sb.url, timeout=5, max_wait=1)
        assert answer.papers == {} and answer.errors == ["incorrect id format for 2501.066"]
        papers, missing = fetch_metadata(["2501.04001", "2501.066"], base_url=sb.url, timeout=5, max_wait=1)
        assert list(papers) == ["2501.04001"] and "arXiv refused it" in missing["2501.066"]


# -- names, artifact, command line -------------------------------------------------------------------------

def test_run_names_say_which_papers():
    assert review_name({"papers": ["https://arxiv.org/abs/2501.06600v2"]}) == "review-2501.06600"
    assert review_name({"papers": ["junk", "2501.06600", "2412.1", "hep-th/9901001"]}) == \
        "review-2501.06600-and-3-more"
    assert review_name({"papers": ["junk"]}) == review_name({}) == "review-invalid"


def test_the_artifact_cell_escapes_markup_from_arxiv_or_an_llm():
    hostile = "A | B <img src=x onerror=alert(1)> [link](javascript:alert(1))\n`code`"
    out = cell(hostile)
    assert "|" not in out.replace("\\|", "") and "<" not in out and "\\[link\\]" in out and "\n" not in out
    assert "&lt;img" in out


def test_more_than_50_papers_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["review", *[f"2501.{i:05d}" for i in range(51)]])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "hfdaily: error: 51 papers given; a review takes at most 50 (nothing was run) (see --help)"
    with pytest.raises(SystemExit) as stop:
        main(["review"])
    assert stop.value.code == 2

"""The sandbox's pure parts: synthetic papers, PDFs, LLM answers, schema fitting, fault content."""

from __future__ import annotations

import io
import json
import re

import pdfplumber
import pytest

from sandbox import llm, words
from sandbox.faults import llm_content, parse_rule
from sandbox.pdfgen import build_pdf, build_slow_pdf
from sandbox.synth import papers_for_date, planted_affiliations, synth_paper


def test_institution_names_are_unambiguous() -> None:
    names = words.INSTITUTIONS
    assert len(set(names)) == len(names) >= 40
    for a in names:
        assert not any(a != b and a in b for b in names), a


def test_papers_are_deterministic_per_date() -> None:
    first = papers_for_date("2025-01-20", 12)
    assert first == papers_for_date("2025-01-20", 12)
    assert len({p.arxiv_id for p in first}) == 12
    assert all(re.fullmatch(r"2501\.0\d{4}", p.arxiv_id) for p in first)
    other = papers_for_date("2025-01-21", 12)
    assert not {p.arxiv_id for p in first} & {p.arxiv_id for p in other}
    for p in first:
        assert synth_paper(p.arxiv_id) == p
        assert 3 <= len(p.authors) <= 14 and 1 <= len(p.affiliations) <= 5
        assert p.layout in ("one-column", "two-column")
        assert 5 <= p.abstract.count(". ") + 1 <= 8
        # every affiliation is used, and markers first appear in list order
        seen: list[int] = []
        for marks in p.author_affs:
            seen += [m for m in marks if m not in seen]
        assert seen == list(range(len(p.affiliations)))


def test_any_id_has_planted_affiliations() -> None:
    for arxiv_id in ("2608.19880", "2501.09891v2", "hep-th/9901001"):
        affs = planted_affiliations(arxiv_id)
        assert affs == planted_affiliations(arxiv_id) and 1 <= len(affs) <= 5
        assert set(affs) <= set(words.INSTITUTIONS)


def _first_of_layout(layout: str) -> object:
    return next(p for p in papers_for_date("2025-02-03", 40) if p.layout == layout)


@pytest.mark.parametrize("layout", ["one-column", "two-column"])
def test_pdf_page_one_has_planted_affiliations(layout: str) -> None:
    paper = _first_of_layout(layout)
    data = build_pdf(paper)
    assert data.startswith(b"%PDF-") and build_pdf(paper) is data  # cached
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 2
        text = pdf.pages[0].extract_text()
    for inst in paper.affiliations:
        assert inst in text
    assert "Abstract" in text and "1 Introduction" in text
    head = text.split("Abstract")[0]
    # one-column: affiliations precede the abstract; two-column: they sit in a footnote after it
    assert llm.find_institutions(head) == (list(paper.affiliations) if layout == "one-column" else [])
    assert llm.find_institutions(text) == list(paper.affiliations)


def test_slow_pdf_is_a_small_valid_pdf() -> None:
    data = build_slow_pdf(2000)
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1


def test_llm_answers() -> None:
    text = "noise Tessary Labs\nSaint Aldwin's\n College and Grayfen University. Tessary Labs again"
    assert llm.natural_answer("affiliations", text) == ["Tessary Labs", "Saint Aldwin's College",
                                                         "Grayfen University"]
    prompt = "Topics:\nRL: reinforcement\n3D: three d\n- SMALL_MODELS: tiny\nCV: vision\n\nTitle: x"
    topics = llm.natural_answer("topics", prompt)
    assert topics == llm.natural_answer("topics", prompt)
    assert 1 <= len(topics) <= 3 and set(topics) <= {"RL", "3D", "SMALL_MODELS", "CV"}
    review = llm.natural_answer("review_ru", "abc")
    assert set(review) == {"emoji", "title", "desc"} and re.search("[а-я]", review["desc"])
    assert review["desc"].count(".") == 4
    zh = llm.natural_answer("summary_zh", "abc")
    assert re.search(r"[\u4e00-\u9fff]", zh["title"] + zh["desc"])
    reading = llm.natural_answer("zh_reading", "abc")
    assert 4 <= reading["text"].count("。") <= 5 and 6 <= len(reading["vocab"]) <= 8
    assert all(set(v) == {"word", "pinyin", "trans"} for v in reading["vocab"])


def test_fit_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"topics": {"type": "array", "items": {"type": "string", "enum": ["RL", "CV", "3D"]}}},
        "required": ["topics"],
    }
    assert llm.fit(["CV", "NOPE"], schema) == {"topics": ["CV"]}
    nested = {
        "type": "object",
        "$defs": {"V": {"type": "object", "properties": {"word": {"type": "string"}}}},
        "properties": {"vocab": {"type": "array", "items": {"$ref": "#/$defs/V"}},
                       "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    }
    assert llm.fit({"vocab": [{"word": "x", "extra": 1}]}, nested) == {"vocab": [{"word": "x"}], "note": ""}


def test_fault_content_modes() -> None:
    value = ["King's Hall", "Tessary Labs"]
    assert llm_content(None, value, "affiliations") == json.dumps(value)
    assert llm_content("fenced", value, "affiliations").startswith("```json\n")
    assert llm_content("python_list", value, "affiliations") == "['King\\'s Hall', 'Tessary Labs']"
    with pytest.raises(ValueError):
        json.loads(llm_content("malformed", value, "affiliations"))
    obj = {"emoji": "🚀", "title": "t", "desc": "d"}
    assert json.loads(llm_content("missing_key", obj, "review_ru")) == {"emoji": "🚀", "title": "t"}
    assert json.loads(llm_content("empty", obj, "review_ru")) == {}
    assert isinstance(json.loads(llm_content("wrong_schema", obj, "review_ru")), list)
    english = llm.natural_answer("summary_en", "abc")
    chinese = json.loads(llm_content("wrong_language", english, "summary_en"))
    assert set(chinese) == {"title", "desc"} and re.search(r"[\u4e00-\u9fff]", chinese["desc"])
    assert not re.search("[а-я]", json.loads(llm_content("wrong_language", obj, "review_ru"))["desc"])
    assert llm_content("wrong_language", value, "affiliations") == json.dumps(value)  # names stay names


def test_rules_are_validated() -> None:
    assert parse_rule({"target": "pdf", "mode": "oversize", "size": 10}).size == 10
    for bad in ({"target": "x", "status": 500}, {"target": "hf", "mode": "fenced"},
                {"target": "hf", "status": 500, "mode": "html"}, {"target": "hf"}):
        with pytest.raises(ValueError):
            parse_rule(bad)

"""tasks.pdf.text and the accent merge of tasks.pdf.layout: pure functions, no PDF library, no worker."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.pdf.layout import merge_accents
from tasks.pdf.text import deep_slice, front_matter, normalize_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Universite\u00b4 de Montre\u00b4al", "Universit\u00e9 de Montr\u00e9al"),
        ("De\u00b4partement", "D\u00e9partement"),
        (
            "E\u00b4cole, Franc\u00b8ais, Mu\u00a8ller, Jo\u02c6me, Pen\u02dca",
            "\u00c9cole, Fran\u00e7ais, M\u00fcller, J\u00f4me, Pe\u00f1a",
        ),
        ("na\u00a8\u0131ve Garc\u00b4\u0131a", "na\u00efve Garc\u00eda"),  # accent before a dotless i
        ("e\u0301t\u00e9", "\u00e9t\u00e9"),  # NFD -> NFC
        ("x^2, e^x and `code`", "x^2, e^x and `code`"),  # ASCII ^ and ` are not accents as text
        ("\ufb01t the \ufb00ect", "fit the ffect"),
        ("a(cid:12)b (cid:3)c", "ab c"),
        ("  one \t two\u00a0three  \n\n\n\n four \r\nfive", "one two three\n\nfour\nfive"),
    ],
)
def test_normalize_text(raw: str, clean: str) -> None:
    assert normalize_text(raw) == clean


def test_merge_accents_by_position() -> None:
    def char(text: str, x0: float, x1: float, top: float = 100.0) -> dict[str, Any]:
        return {"text": text, "x0": x0, "x1": x1, "top": top, "size": 10.0}

    # '´' drawn over 'e' (after it in the list) and over 'ı' (before it); a far-away '´' stays.
    chars = [
        char("e", 10, 15),
        char("\u00b4", 11, 14, 99),
        char("\u00b4", 19.5, 22.5, 99),
        char("\u0131", 20, 22),
    ]
    chars.append(char("\u00b4", 60, 63))
    assert [c["text"] for c in merge_accents(chars)] == ["\u00e9", "\u00ed", "\u00b4"]


@pytest.mark.parametrize(
    ("page", "head"),
    [
        ("Title\nA. Author\nSome University\nAbstract\nWe study.", "Title\nA. Author\nSome University"),
        ("Title\nA. Author\nABSTRACT\nWe study.", "Title\nA. Author"),
        ("Title\nA. Author\nAbstract. We study.", "Title\nA. Author"),
        ("Title\nA. Author\nAbstract\u2014We study.", "Title\nA. Author"),
        ("Title\nA. Author\nAbstractWe study.", "Title\nA. Author"),  # pdfplumber glued the heading
        ("Title\nA. Author\n1 Introduction\nText.", "Title\nA. Author"),
        ("Title\nA. Author\n1. INTRODUCTION. Text.", "Title\nA. Author"),
        ("Title\nA. Author\nI. INTRODUCTION\nText.", "Title\nA. Author"),
        ("Title\nA. Author\nIntroduction\nText.", "Title\nA. Author"),
        ("Abstract Algebra for Robots\nA. Author\nAbstract\nText.", "Abstract Algebra for Robots\nA. Author"),
        ("Title\nA. Author\nAbstractions are everywhere.", "Title\nA. Author\nAbstractions are everywhere."),
    ],
)
def test_front_matter(page: str, head: str) -> None:
    assert front_matter(page, 2000) == head


def test_front_matter_without_heading_is_capped() -> None:
    page = "word " * 1000
    head = front_matter(page.strip(), 2000)
    assert 1600 < len(head) <= 2000 and head.endswith("word")


def test_deep_keeps_the_bottom_of_a_dense_page_one() -> None:
    page1 = "\n".join(f"body line {i} " + "x" * 60 for i in range(150)) + "\n*Footnote: Far Away Institute"
    deep = deep_slice([page1, "page two"], 6500)
    assert len(deep) <= 6500
    assert deep.startswith("body line 0 ") and deep.endswith("Far Away Institute")
    assert "page two" not in deep

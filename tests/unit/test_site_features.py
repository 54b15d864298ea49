"""Institutions, the month's cards and leaderboard, the search records and bundles, and the card image slot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tasks.render import render_for_day, render_site
from tasks.settings import TEMPLATES_DIR, Settings
from tasks.site import search
from tasks.site.institutions import Institutions, key, load_aliases
from tasks.site.pages import Site
from tests.site_data import XSS, day_file, paper, small_store, write_store

ALIASES = load_aliases(TEMPLATES_DIR / "institutions.json")


def canonical(*printed: str) -> list[str | None]:
    inst = Institutions(printed, ALIASES)
    return [inst.name(p) for p in printed]


# ---- institutions ---------------------------------------------------------------------------------------

def test_spellings_of_one_institution_count_as_one() -> None:
    names = canonical("Tsinghua Univ.", "Tsinghua University", "tsinghua university", "THU", "清华大学",
                      "Tsinghua Universty", "Department of Computer Science, Tsinghua University")
    assert set(names) == {"Tsinghua University"}


def test_the_similarity_rule_keeps_different_institutions_apart() -> None:
    pairs = [("University of Washington", "Washington University"),
             ("Beijing University of Technology", "Beijing University of Posts and Telecommunications"),
             ("Fudan University", "Wuhan University"), ("Google", "Google Research"),
             ("University of California, Berkeley", "University of California, Los Angeles"),
             ("Institute 1 of Science", "Institute 2 of Science")]
    for a, b in pairs:
        first, second = canonical(a, b)
        assert first != second, (a, b)


def test_keys_expand_abbreviations_and_drop_departments() -> None:
    assert key("Univ. of Tokyo") == key("The University of Tokyo") == "university of tokyo"
    assert key("Dept. of Physics, MIT") == key("MIT") == "mit"
    assert key("University of California, Berkeley") == "university of california berkeley"  # not a department
    assert key("  Acme & Co. Lab ") == "acme and co laboratory"


def test_a_group_without_an_alias_is_named_by_its_most_printed_form() -> None:
    inst = Institutions(["Acme Research Lab", "Acme Research Laboratory", "Acme Research Laboratory",
                         "Department of AI, Acme Research Laboratory"], ALIASES)
    assert {inst.name(n) for n in ("Acme Research Lab", "Department of AI, Acme Research Laboratory")} == {
        "Acme Research Laboratory"}


def _store_with_institutions() -> list:
    return [
        day_file("2025-03-03", [
            paper("2503.00001", "One", upvotes=10, affiliations=["Tsinghua Univ.", "Acme AI Lab"]),
            paper("2503.00002", "Two", upvotes=30, affiliations=["Tsinghua University", "Tsinghua University"]),
        ]),
        day_file("2025-03-04", [
            paper("2503.00003", "Three", upvotes=5, affiliations=["THU", f"Evil {XSS}"]),
            paper("2503.00002", "Two", upvotes=40, affiliations=["Tsinghua University"]),  # listed again
        ]),
    ]


@pytest.fixture
def inst_site(tmp_path: Path) -> Path:
    s = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url="", search_index=False)
    write_store(Path(s.data_dir, "days"), _store_with_institutions())
    render_site(s)
    return Path(s.site_dir)


def _data(html: str) -> dict:
    return json.loads(html.split('id="page-data">')[1].split("</script>")[0])


def test_month_leaderboard_counts_papers_once_with_their_upvotes(inst_site: Path) -> None:
    html = (inst_site / "m" / "2025-03.html").read_text(encoding="utf-8")
    rows = re.findall(r'data-inst="([^"]+)"[^>]*>[^<]+</button></td><td class="num">(\d+)</td>'
                      r'<td class="num">(\d+)</td>', html)
    assert rows[0] == ("Tsinghua University", "3", str(10 + 40 + 5))  # paper two counted once, at 40 upvotes
    assert ("Acme AI Lab", "1", "10") in rows
    assert "Evil &lt;/script&gt;" in html and XSS not in html
    papers = _data(html)["papers"]
    assert [p["id"] for p in papers] == ["2503.00002", "2503.00001", "2503.00003"]
    assert papers[0]["inst"] == ["Tsinghua University"] and papers[0]["day"] == "2025-03-04"
    assert html.count('<article class="card') == 3
    assert '<option value="Tsinghua University">Tsinghua University (3)</option>' in html


def test_day_page_offers_the_institution_filter_and_keeps_printed_names(inst_site: Path) -> None:
    html = (inst_site / "d" / "2025-03-03.html").read_text(encoding="utf-8")
    assert '<option value="Tsinghua University">Tsinghua University (2)</option>' in html
    card = html.split('id="p-2503.00001"')[1].split("</article>")[0]
    assert "Tsinghua Univ. · Acme AI Lab" in card  # the card prints what the paper says


# ---- the card's image slot -------------------------------------------------------------------------------

def test_a_stored_first_page_image_is_a_lazy_img_and_a_hostile_one_is_dropped(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url="", search_index=False)
    papers = [paper("2504.00001", "Pictured", upvotes=9, image="img/2504.00001.webp"),
              paper("2504.00002", "Sized", image={"path": "img/b.png", "width": 300, "height": 400, "alt": f"A {XSS}"}),
              paper("2504.00003", "Hostile", image="javascript:alert(1)"),
              paper("2504.00004", "Escape", image="../../etc/passwd.png"),
              paper("2504.00005", "Remote", image="https://evil.example/x.png"),
              paper("2504.00006", "Lost", image="img/2504.00006.webp")]  # not in the data dir: no <img>
    write_store(Path(s.data_dir, "days"), [day_file("2025-04-01", papers)])
    images = Path(s.data_dir, "images")
    images.mkdir()
    (images / "2504.00001.webp").write_bytes(b"RIFF\0\0\0\0WEBPVP8 picture")
    (images / "b.png").write_bytes(b"\x89PNG picture")
    render_site(s)
    assert sorted(p.name for p in Path(s.site_dir, "img").iterdir()) == ["2504.00001.webp", "b.png"]
    day = (Path(s.site_dir) / "d" / "2025-04-01.html").read_text(encoding="utf-8")
    index = (Path(s.site_dir) / "index.html").read_text(encoding="utf-8")
    assert ('<img class="card-img" src="../img/2504.00001.webp" alt="First page of Pictured" width="400" '
            'height="518" loading="lazy" decoding="async">') in day
    assert 'src="img/2504.00001.webp"' in index  # relative to the page
    alt = "A &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert f'src="../img/b.png" alt="{alt}" width="300" height="400"' in day
    assert day.count("<img ") == 2 and "passwd" not in day and "evil.example" not in day and "Lost" in day
    (images / "b.png").unlink()  # its source gone from the data dir: a whole-site render removes the copy
    render_site(s)
    assert sorted(p.name for p in Path(s.site_dir, "img").iterdir()) == ["2504.00001.webp"]
    assert "b.png" not in (Path(s.site_dir) / "d" / "2025-04-01.html").read_text(encoding="utf-8")


# ---- search records and bundles ----------------------------------------------------------------------------

def test_search_records_cover_every_paper_in_three_languages() -> None:
    site = Site({d.date: d for d in small_store()}, TEMPLATES_DIR)
    recs = search.records(site.published, site.institutions_of)
    assert len(recs) == 17 * 3 and {r.language for r in recs} == {"ru", "en", "zh"}
    beta = [r for r in recs if r.meta["id"] == "2501.00002"]
    assert {r.url for r in beta} == {"d/2025-01-23.html#p-2501.00002", "d/2025-01-23.html?lang=ru#p-2501.00002",
                                    "d/2025-01-23.html?lang=zh#p-2501.00002"}  # once, at its latest day
    alpha_zh = next(r for r in recs if r.meta["id"] == "2501.00001" and r.language == "zh")
    for text in ("ZH Alpha agents learn", "Alpha agents learn", "Author 14", "Lab 12", "#agents"):
        assert text in alpha_zh.content, text
    assert alpha_zh.filters == {"topic": ["RL", "AGENTS"]} and alpha_zh.meta["title"] == "ZH Alpha agents learn"
    delta = next(r for r in recs if r.meta["id"] == "2501.00004" and r.language == "ru")
    assert delta.content.startswith("Delta segmentation\nAbstract of Delta")  # untranslated: the original


def test_bundles_are_rebuilt_only_for_the_month_that_changed(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url="")
    feb = day_file("2025-02-03", [paper("2502.00001", "February", topics=["RL"])])
    write_store(Path(s.data_dir, "days"), [*small_store(), feb])
    render_site(s)
    bundles = Path(s.site_dir) / "pagefind"
    assert sorted(p.name for p in bundles.iterdir()) == ["2025-01", "2025-02"]
    for month in ("2025-01", "2025-02"):
        files = {p.name for p in (bundles / month).iterdir()}
        assert {"pagefind.js", "pagefind-entry.json", "wasm.en.pagefind", search.SIGNATURE} <= files
        # Pagefind's own UI is not shipped, nor its web worker: the search page runs the engine itself
        assert not any(n.startswith(("pagefind-ui", "pagefind-worker")) for n in files)
    again = render_site(s)
    assert not [k for k in again if k.startswith("pagefind/")]  # nothing changed: nothing indexed
    feb.papers.append(paper("2502.00002", "Another February paper"))
    write_store(Path(s.data_dir, "days"), [feb])
    written = render_for_day(s, "2025-02-03")
    touched = {k.split("/")[1] for k in written if k.startswith("pagefind/")}
    assert touched == {"2025-02"}
    entry = json.loads((bundles / "2025-02" / "pagefind-entry.json").read_text())
    assert entry["languages"]["en"]["page_count"] == 2
    (Path(s.data_dir, "days") / "2025-02-03.json").unlink()
    render_site(s)
    assert sorted(p.name for p in bundles.iterdir()) == ["2025-01"]  # a month without days loses its bundle
    page = (Path(s.site_dir) / "search.html").read_text(encoding="utf-8")
    assert _data(page)["bundles"] == ["pagefind/2025-01/"]


def test_without_an_index_the_search_page_says_so(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url="", search_index=False)
    write_store(Path(s.data_dir, "days"), small_store())
    render_site(s)
    page = (Path(s.site_dir) / "search.html").read_text(encoding="utf-8")
    assert 'id="search-no-index"' in page and _data(page)["bundles"] == []
    assert not (Path(s.site_dir) / "pagefind").exists()

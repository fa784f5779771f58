"""The evidence matrix in a real browser (Playwright driving Debian's Chromium), from disk."""

from __future__ import annotations


import pytest

from pipeline import flow

from conftest import CHROMIUM, CHROMIUM_FLAGS, S1, needs_chromium, write_evaluation

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is installed by `make install`")

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    codebook, transcripts = write_evaluation(tmp_path_factory.mktemp("browser"))
    out = tmp_path_factory.mktemp("reports")
    flow.run(codebook, transcripts, out)
    return out


def test_filter_click_a_cell_read_its_quotes_and_open_the_transcript(reports):
    requests = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto((reports / "evidence_matrix.html").as_uri())
        page.select_option("#filter-stakeholder_group", "justice_sector")
        assert page.locator("th[data-group='donor']").is_hidden()
        cell = page.locator("td.cell[data-question='EQ1'][data-group='justice_sector']")
        cell.click()
        quotes = page.locator("#quotes .quote")
        assert quotes.count() >= 1
        first = quotes.first
        assert first.locator("blockquote").inner_text() in S1
        assert "Question asked:" in first.inner_text()
        segment = first.get_attribute("data-segment")
        first.locator("a").click()
        page.wait_for_load_state()
        assert page.url.endswith(f"transcripts/S1.html#{segment}")
        highlighted = page.locator(f"[id='{segment}']")
        assert highlighted.evaluate("node => getComputedStyle(node).backgroundColor") == "rgb(255, 224, 138)"
        browser.close()
    assert requests and all(url.startswith("file://") for url in requests), requests

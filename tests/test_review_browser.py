"""Reviewing in a real browser (Playwright driving Debian's Chromium), from disk, and the next
run applying what was decided: the acceptance test of reviewing in the browser."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pipeline import flow

from conftest import CHROMIUM, CHROMIUM_FLAGS, SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, needs_chromium

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is installed by `make install`")

pytestmark = needs_chromium
QUESTION, GROUP = "EQ1", "civil_society"
NOTE = "=HYPERLINK(\"http://x\") dice quechua, no habla de lenguas"
SUMMARY = "Las organizaciones ven la coordinación como frágil; depende de personas, no de instituciones."


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A copy of the sample evaluation, run once: (codebook, transcripts, reports)."""
    root = tmp_path_factory.mktemp("review")
    codebook, transcripts, out = root / "codebook", root / "transcripts", root / "reports"
    shutil.copytree(SAMPLE_CODEBOOK, codebook)
    shutil.copytree(SAMPLE_TRANSCRIPTS, transcripts)
    flow.run(codebook, transcripts, out)
    return codebook, transcripts, out


def _rule_only(out: Path) -> pd.DataFrame:
    """The cell's quotes coded by rules alone with one code, in segment order."""
    quotes = pd.read_csv(out / "matrices" / "quotes.csv", dtype=str, keep_default_na=False)
    cell = quotes[(quotes["question"] == QUESTION) & (quotes["stakeholder_group"] == GROUP)]
    return cell[(cell["sources"] == "rule") & ~cell["codes"].str.contains(",")].sort_values("segment_id")


def _downloads(page, action, count: int) -> dict[str, str]:
    """The ``count`` files the page downloads when ``action`` is done, by name."""
    found = []

    def keep(download):
        found.append(download)

    page.on("download", keep)
    action()
    for _ in range(200):  # up to 10 s
        if len(found) >= count:
            break
        page.wait_for_timeout(50)
    page.remove_listener("download", keep)
    return {d.suggested_filename: Path(d.path()).read_text(encoding="utf-8") for d in found}


def test_review_in_the_browser_and_the_next_run_applies_it(sample):
    codebook, transcripts, out = sample
    chosen = _rule_only(out)
    assert len(chosen) >= 5, "the sample's EQ1 x civil_society cell should hold five rule-only quotes"
    confirm, reject, restance = chosen.iloc[:2], chosen.iloc[2:4], chosen.iloc[4]
    new_stance = "positive" if restance["stance"] != "positive" else "negative"
    requests, errors, files = [], [], {}
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((out / "evidence_matrix.html").as_uri())
        csp = page.locator("meta[http-equiv='Content-Security-Policy']").get_attribute("content")
        page_data = page.locator("#evidence-data").text_content()
        assert "default-src 'none'" in csp

        def open_cell():
            page.locator(f"td.cell[data-question='{QUESTION}'][data-group='{GROUP}']").click()

        def quote(segment_id):
            return page.locator(f"#quotes .quote[data-segment='{segment_id}']")

        open_cell()
        for row in confirm.itertuples():
            quote(row.segment_id).locator(f"button[data-action='confirm'][data-code='{row.codes}']").click()
        for row in reject.itertuples():
            quote(row.segment_id).locator(f"button[data-action='reject'][data-code='{row.codes}']").click()
        quote(restance["segment_id"]).locator(f"select.stance[data-code='{restance['codes']}']").select_option(new_stance)
        quote(confirm.iloc[0]["segment_id"]).locator(".cite-box").check()
        # A note a spreadsheet would take for a formula is exported as text, and read back as written.
        quote(reject.iloc[0]["segment_id"]).locator("textarea.note").fill(NOTE)
        quote(reject.iloc[0]["segment_id"]).locator("textarea.note").dispatch_event("change")
        page.locator("#quotes textarea.summary-text").fill(SUMMARY)
        page.locator("#quotes textarea.summary-text").dispatch_event("change")
        assert page.locator("#review-pending").inner_text() == "6 decision(s) not yet exported"
        # A quote is text, never markup.
        assert quote(confirm.iloc[0]["segment_id"]).locator("blockquote").inner_text() == confirm.iloc[0]["text"]

        page.reload()
        assert page.locator("#review-pending").inner_text() == "6 decision(s) not yet exported"
        open_cell()
        for row in confirm.itertuples():
            button = quote(row.segment_id).locator(f"button[data-action='confirm'][data-code='{row.codes}']")
            assert button.get_attribute("aria-pressed") == "true"
        assert page.locator("#quotes textarea.summary-text").input_value() == SUMMARY
        assert quote(restance["segment_id"]).locator(f"select.stance[data-code='{restance['codes']}']") \
            .input_value() == new_stance

        page.fill("#reviewer", "Ana")
        files |= _downloads(page, lambda: page.click("#review-export"), 2)
        assert page.locator("#review-pending").inner_text() == "0 decision(s) not yet exported"

        # The review queue, from the keyboard: confirm, reject, skip; the same store of decisions.
        page.goto((out / "review_queue.html").as_uri())
        queue = pd.read_csv(out / "review_queue.csv", dtype=str, keep_default_na=False)
        assert len(queue) >= 3
        page.locator("#queue").focus()
        before = int(page.locator("#progress").inner_text().split()[0])  # the matrix's decisions on suggestions
        for key in ("c", "r", "s"):
            page.keyboard.press(key)
        assert page.locator("#review-pending").inner_text() == "2 decision(s) not yet exported"
        assert page.locator("#progress").inner_text() == f"{before + 2} of {len(queue)} decided."
        page.locator("#reviewer").press("c")  # a key typed in a field is no decision
        assert page.locator("#review-pending").inner_text() == "2 decision(s) not yet exported"
        page.fill("#reviewer", "Ana")
        files |= _downloads(page, lambda: page.click("#review-export"), 2)
        browser.close()
    assert not errors, errors
    assert requests and all(url.startswith("file://") for url in requests), requests
    run = json.loads(page_data)["review"]["key"].split(":")[1][:8]  # the run's digest names the files
    assert sorted(files) == [f"decisions_Ana_{run}.csv", f"summaries_Ana_{run}.csv"]

    exported = pd.read_csv(io.StringIO(files[f"decisions_Ana_{run}.csv"]), dtype=str, keep_default_na=False)
    assert list(exported.loc[exported["memo"] != "", "memo"]) == ["'" + NOTE]
    in_matrix = set(chosen.iloc[:5]["segment_id"])
    from_queue = exported[~exported["segment_id"].isin(in_matrix)]
    assert sorted(from_queue["decision"]) == ["confirm", "reject"]
    assert not from_queue.merge(queue[["segment_id", "code"]], on=["segment_id", "code"]).empty
    assert sorted(exported["decision"]) == ["confirm", "confirm", "confirm", "reject", "reject", "reject", "stance"]
    coding = transcripts / "coding"
    for name, text in files.items():
        (coding / name).write_text(text, encoding="utf-8")
    flow.run(codebook, transcripts, out)

    codings = pd.read_csv(out / "codings.csv", dtype=str, keep_default_na=False)
    evidence = pd.read_csv(out / "matrices" / "quotes.csv", dtype=str, keep_default_na=False)
    for row in confirm.itertuples():
        mine = codings[(codings["segment_id"] == row.segment_id) & (codings["code"] == row.codes)
                       & (codings["source"] == "human")]
        assert list(mine["coder"]) == ["Ana"] and list(mine["status"]) == ["accepted"]
    for row in reject.itertuples():
        machine = codings[(codings["segment_id"] == row.segment_id) & (codings["code"] == row.codes)]
        assert len(machine) and set(machine["status"]) == {"rejected"} and "rejected by Ana" in machine["memo"].iloc[0]
        counted = evidence[evidence["segment_id"] == row.segment_id]
        assert not counted["codes"].str.split(", ").map(lambda codes: row.codes in codes).any()
    assert (codings["memo"] == f"rejected by Ana: {NOTE}").any()
    confirmed, rejected = (from_queue[from_queue["decision"] == d].iloc[0] for d in ("confirm", "reject"))
    pair = (codings["segment_id"] == confirmed["segment_id"]) & (codings["code"] == confirmed["code"])
    assert set(codings.loc[pair & (codings["source"] == "human"), "coder"]) == {"Ana"}
    pair = (codings["segment_id"] == rejected["segment_id"]) & (codings["code"] == rejected["code"])
    assert set(codings.loc[pair & (codings["source"] == "model"), "status"]) <= {"rejected"}
    queued = pd.read_csv(out / "review_queue.csv", dtype=str, keep_default_na=False)
    assert not ((queued["segment_id"] == rejected["segment_id"]) & (queued["code"] == rejected["code"])).any()
    restanced = codings[(codings["segment_id"] == restance["segment_id"]) & (codings["source"] == "human")
                        & (codings["code"] == restance["codes"])]
    assert list(restanced["stance"]) == [new_stance] and list(restanced["stance_by"]) == ["coder"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["review"] == {"confirm": 3, "reject": 3, "stance": 1, "add": 0, "rejected_codings":
                                            manifest["counts"]["review"]["rejected_codings"], "conflicts": 0,
                                            "stale": 0, "summaries": 1}
    assert manifest["counts"]["review"]["rejected_codings"] >= 3
    for name in ("triangulation_report.md", "triangulation_report.html"):
        assert SUMMARY in (out / name).read_text(encoding="utf-8")
    with zipfile.ZipFile(out / "triangulation_report.docx") as docx:
        assert SUMMARY in docx.read("word/document.xml").decode("utf-8")
    sheet = openpyxl.load_workbook(out / "matrices.xlsx", read_only=True)["framework"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header, eq1 = rows[0], next(r for r in rows if r[0] == QUESTION)
    assert SUMMARY in eq1[header.index(GROUP)] and confirm.iloc[0]["segment_id"] in eq1[header.index(GROUP)]
    # The matrix shows the summary on its cell on the next run.
    assert SUMMARY in (out / "evidence_matrix.html").read_text(encoding="utf-8")

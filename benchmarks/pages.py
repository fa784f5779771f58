"""How the review pages of a finished run behave in a real browser (Debian's Chromium through
Playwright): the size of ``evidence_matrix.html`` and ``review_queue.html``, the time until the
evidence matrix answers (from navigation to the end of its script, the page's own clock), and the
time to open its largest cell (the click handler and the layout of the quotes it shows).

    python benchmarks/pages.py REPORTS [REPORTS...] [--repeat 3]

Prints one JSON object per folder: sizes in MB, median milliseconds over ``--repeat`` loads.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run"]
OPEN_CELL = """cell => { const t0 = performance.now(); cell.click(); document.body.offsetHeight;
                         return [performance.now() - t0, document.querySelectorAll('#quotes .quote').length]; }"""


def measure(out: Path, repeat: int) -> dict:
    page_file = out / "evidence_matrix.html"
    loads, cells, quotes, requests = [], [], 0, []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for _ in range(repeat):
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            page.wait_for_selector("html[data-ready]")
            loads.append(float(page.get_attribute("html", "data-ready")))
            # The largest cell: the most coded segments.
            cell = max(page.query_selector_all("td.cell:not(.empty)"),
                       key=lambda c: int(c.query_selector(".n").inner_text()))
            took, quotes = cell.evaluate(OPEN_CELL)
            cells.append(took)
            page.close()
        browser.close()
    return {"reports": str(out), "evidence_matrix_mb": round(page_file.stat().st_size / 1e6, 2),
            "review_queue_mb": round((out / "review_queue.html").stat().st_size / 1e6, 2),
            "load_ms": round(statistics.median(loads)), "largest_cell_ms": round(statistics.median(cells)),
            "largest_cell_quotes": quotes, "only_file_requests": all(u.startswith("file://") for u in requests)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for out in args.reports:
        print(json.dumps(measure(out, args.repeat)))


if __name__ == "__main__":
    main()

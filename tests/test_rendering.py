"""The built book in a real browser: every page at a desktop and a phone width, with no console error, no missing
image, and nothing that pushes the page sideways or is cut off.

Playwright (from PyPI) drives the system's Chromium (Debian's ``chromium`` package, which ``.ci/run`` installs;
Playwright's own browser download is not reachable offline). Without either the test skips and says why.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
#: flags for a headless Chromium on a machine without a network (no background connections, no sandbox as root)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
#: what one page shows: local images that did not load, how far the page scrolls sideways, and the tables, figures
#: and code blocks that reach past the text column without a scroll bar of their own
MEASURE = """() => {
  const local = s => s.startsWith(location.origin);
  const broken = [...document.images].filter(i => local(i.src) && (!i.complete || i.naturalWidth === 0)).map(i => i.src);
  const article = document.querySelector('article') || document.querySelector('main');
  const right = article.getBoundingClientRect().right;
  const scrolls = e => { for (let a = e.parentElement; a && a !== article; a = a.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true; } return false; };
  const cut = [...article.querySelectorAll('table, img, pre, svg, p, code')]
      .filter(e => e.getBoundingClientRect().right > right + 1 && !scrolls(e))
      .map(e => e.tagName + ': ' + (e.textContent || e.src || '').trim().slice(0, 60));
  return {broken, sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth, cut};
}"""


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM:
        pytest.skip("no Chromium on this machine: install Debian's chromium package (apt-get install chromium), "
                    "as .ci/run does, or point $CHROMIUM at a Chromium binary")  # fmt: skip
    return sync_playwright


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run([str(jupyter_book), "build", str(ROOT), "--path-output", str(out), "--builder", "html",
                           "-W", "--keep-going"], capture_output=True, text=True,
                          env={**os.environ, "BOOK_REPOSITORY": ""})  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out / "_build" / "html"


def _serve(directory: Path) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def page_problems(html: Path) -> list[str]:
    """Every problem a reader would meet on the book's pages at both widths (empty: none)."""
    sync_playwright = _playwright()
    server = _serve(html)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages = sorted(str(p.relative_to(html)) for p in (html / "book").glob("*.html"))
    problems: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for width_name, (width, height) in WIDTHS.items():
                context = browser.new_context(viewport={"width": width, "height": height})
                for name in pages:
                    page, seen = context.new_page(), []
                    where = f"{name} ({width_name}, {width} px)"
                    # the Colab badge and the like live on the internet, which the test machine cannot reach
                    page.on("console", lambda m: seen.append(f"console error: {m.text}")
                            if m.type == "error" and "ERR_NAME_NOT_RESOLVED" not in m.text else None)
                    page.on("pageerror", lambda e: seen.append(f"script error: {e}"))
                    page.on("response", lambda r: seen.append(f"HTTP {r.status}: {r.url.removeprefix(base)}")
                            if r.status >= 400 else None)
                    page.goto(f"{base}/{name}", wait_until="load")
                    page.wait_for_timeout(200)
                    found = page.evaluate(MEASURE)
                    seen += [f"image not shown: {src}" for src in found["broken"]]
                    if found["sideways"] > 0:
                        seen.append(f"the page scrolls {found['sideways']} px sideways")
                    seen += [f"past the text column: {what}" for what in found["cut"]]
                    problems += [f"{where}: {s}" for s in seen]
                    page.close()
                context.close()
            browser.close()
    finally:
        server.shutdown()
    return problems


def test_every_page_renders_without_errors_at_desktop_and_phone_widths(built_book):
    problems = page_problems(built_book)
    assert not problems, "\n".join(problems[:30])


def test_the_browser_check_finds_a_script_error_a_missing_image_and_a_page_too_wide(tmp_path):
    """The check itself can fail: a page with each fault is reported for each."""
    _playwright()
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "bad.html").write_text(
        "<html><body><main><article><p>text</p><img src='/missing.png'>"
        "<table><tr><td style='white-space: nowrap'>" + "wide " * 200 + "</td></tr></table>"
        "<script>const A = 1;</script><script>const A = 2;</script></article></main></body></html>")
    problems = "\n".join(page_problems(tmp_path))
    for expected in ("already been declared", "HTTP 404: /missing.png", "image not shown", "sideways",
                     "past the text column: TABLE"):
        assert expected in problems, f"not found: {expected}\n{problems}"

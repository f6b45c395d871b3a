"""The tiny workflow's report.html in a real browser, used as a reader would use it.

Headless Chromium (Debian's ``chromium``, installed here with apt-get when missing and running
as root; skipped with the reason otherwise) at 1280 x 720 opens the report, follows the landing
page's link to the overview, opens entries through the menu and their eye buttons, and checks:
no console error or uncaught exception anywhere; the overview table is on screen with numbers;
a table entry (the ML summary) renders inline instead of downloading; no figure loses its top
edge above the content pane; the comparison page's table keeps readable columns with the info
panel open. Screenshots go to the test's temporary directory; load times (ready, fully drawn)
are printed, not asserted (speed targets live in benchmarks/).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from browser import chromium_page, find_chromium
from workflow_run import run_snakemake

from deeppp.report.layout import CATEGORIES, ENTRY_NAMES, ML_STUDIES

pytestmark = pytest.mark.slow

#: Limit (s) that turns a hung apt-get into a failure.
APT_TIMEOUT_S = 600
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: The screen the report must be readable on.
WIDTH, HEIGHT = 1280, 720


def _report(config: pytest.Config, message: str) -> None:
    """Timings on the terminal (also in CI logs), not only in captured output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(f"[browser] {message}")
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"[browser] {message}")


def _install_chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (needs root)."""
    found = find_chromium()
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed and installing it needs root")
    apt_get = shutil.which("apt-get", path=f"{os.environ.get('PATH', '')}:{SYSTEM_PATH}")
    if apt_get is None:
        pytest.skip("chromium is not installed and there is no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    for command in (
        [apt_get, *lock_wait, "-q", "update"],
        [apt_get, *lock_wait, "-q", "-y", "--no-install-recommends", "install", "chromium"],
    ):
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S
        )
        if done.returncode != 0:
            pytest.fail(
                f"cannot install chromium: `{' '.join(command)}` exited {done.returncode}:\n"
                f"{(done.stdout + done.stderr)[-3000:]}"
            )
    found = find_chromium()
    if not found:
        pytest.fail("apt-get installed chromium but no chromium binary is on PATH")
    return found


#: Check an existing report instead of the tiny workflow's (e.g. the default config's, for its
#: load time): ``DEEPPP_REPORT_HTML=report.html pytest tests/test_report_browser.py``.
REPORT_ENV = "DEEPPP_REPORT_HTML"


@pytest.fixture(scope="module")
def report_html(request: pytest.FixtureRequest) -> Path:
    """The tiny workflow's report, built with the repository's workflow profile (stylesheet),
    or the report named by ``DEEPPP_REPORT_HTML``."""
    if os.environ.get(REPORT_ENV):
        path = Path(os.environ[REPORT_ENV]).resolve()
        if not path.is_file():
            pytest.fail(f"{REPORT_ENV}={path}: no such report")
        return path
    tiny_workflow = request.getfixturevalue("tiny_workflow")
    path = tiny_workflow.workdir / "report_browser.html"
    run_snakemake(tiny_workflow.workdir, tiny_workflow.configfile, "--report", str(path))
    return path


# JavaScript helpers evaluated in the report page.
CLICK_MENU = """(label => {
    const link = [...document.querySelectorAll('nav a')].find(a => a.textContent.trim() === label);
    if (!link) return false;
    link.click();
    return true;
})(%s)"""
CLICK_EYE = """(label => {
    const row = [...document.querySelectorAll('nav tr')].find(
        tr => tr.cells.length && tr.cells[0].textContent.trim() === label);
    if (!row) return false;
    row.cells[row.cells.length - 1].querySelector('a').click();
    return true;
})(%s)"""
PANE = "document.querySelector('#app .grow.overflow-auto')"
FIGURE_BOX = f"""(path => {{
    const img = {PANE}.querySelector('img');
    if (!img || img.src !== results[path].data_uri || !img.complete || img.naturalHeight === 0)
        return null;
    const box = img.getBoundingClientRect(), pane = {PANE}.getBoundingClientRect();
    return {{top: box.top, paneTop: pane.top, left: box.left, paneLeft: pane.left,
             height: box.height, naturalHeight: img.naturalHeight, scrollTop: {PANE}.scrollTop}};
}})(%s)"""


def _js(value: object) -> str:
    return json.dumps(value)


def _open_entry(tools, category: str, label: str, subcategory: str | None = None) -> None:
    tools.evaluate("app.setView({navbarMode: 'menu'})")
    assert tools.evaluate(CLICK_MENU % _js(category)), f"menu entry {category!r}"
    if subcategory is not None:
        tools.wait_until(CLICK_MENU % _js(subcategory), timeout_s=5)
    tools.wait_until(CLICK_EYE % _js(label), timeout_s=5)


def _wait_for_frame_table(tools) -> int:
    """The execution context of the shown HTML page, once its table is rendered."""
    deadline = time.monotonic() + 10
    while True:
        try:
            context = tools.frame_context()
            if tools.evaluate("document.querySelectorAll('table tr').length > 1", context):
                return context
        except RuntimeError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the HTML entry did not render a table inline")
        time.sleep(0.05)


def test_report_in_a_browser(report_html, tmp_path, request):
    chromium = _install_chromium()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with chromium_page(chromium, tmp_path / "profile", WIDTH, HEIGHT) as tools:
        started = time.monotonic()
        tools.call("Page.navigate", url=report_html.as_uri())
        ready = started + tools.wait_until(
            "(() => { const screen = document.querySelector('#loading-screen'); "
            "return !!screen && screen.style.display === 'none' "
            "&& document.querySelector('nav') !== null; })()",
            timeout_s=30,
        )
        # fully drawn: the rule graph (vega) has painted and two frames have passed
        tools.wait_until("document.querySelector('.vega-embed canvas, .vega-embed svg') !== null")
        tools.evaluate(
            "document.fonts.ready.then(() => new Promise(r => "
            "requestAnimationFrame(() => requestAnimationFrame(r))))"
        )
        drawn = time.monotonic()
        size_mb = report_html.stat().st_size / 1e6
        _report(
            request.config,
            f"report.html ({size_mb:.1f} MB): ready {ready - started:.2f} s, "
            f"fully drawn {drawn - started:.2f} s",
        )
        tools.screenshot(shots / "1_landing.png")
        # Statistics plots run times on a log axis: one negative value blanks the whole plot
        negative = tools.evaluate("runtimes_spec.data.values.filter(v => !(v.runtime > 0))")
        assert not negative, f"jobs with a run time <= 0 s: {negative}"

        # the landing page's link opens the overview
        assert tools.evaluate(
            "(() => { const a = [...document.querySelectorAll('a')]"
            ".find(a => a.textContent.trim() === 'overview page'); a && a.click(); return !!a; })()"
        ), "the landing page links to the overview"
        tools.wait_until(
            "app.state.content === 'html' && app.state.resultPath.endsWith('overview.html')"
        )

        # the overview through the menu: its headline table is on screen, with numbers
        _open_entry(tools, CATEGORIES["overview"], ENTRY_NAMES["overview"])
        context = _wait_for_frame_table(tools)
        overview = tools.evaluate(
            """(() => {
                const table = document.querySelector('table');
                const box = table.getBoundingClientRect();
                const cells = [...table.querySelectorAll('td')].map(td => td.textContent);
                return {top: box.top, height: innerHeight, width: innerWidth,
                        rows: table.querySelectorAll('tbody tr').length,
                        numbers: cells.filter(c => /\\d\\.\\d{4} ± \\d\\.\\d{4}/.test(c)).length,
                        conclusion: document.querySelector('.conclusion').textContent};
            })()""",
            context,
        )
        assert overview["top"] < overview["height"], "the headline table starts on screen"
        assert overview["numbers"] >= 5, "AUC ± uncertainty of every core model"
        assert "test jets" in overview["conclusion"]
        tools.screenshot(shots / "2_overview.png")

        # a table entry renders inline (Snakemake only downloads CSV files)
        _open_entry(tools, CATEGORIES["ml"], ENTRY_NAMES["ml_summary"], ML_STUDIES["summary"])
        assert tools.evaluate("app.state.content") == "html"
        context = _wait_for_frame_table(tools)
        assert tools.evaluate(
            "[...document.querySelectorAll('td')].some(td => td.textContent.includes(' ± '))",
            context,
        )
        tools.screenshot(shots / "3_ml_table.png")

        # no figure loses its top (or left) edge: every image entry, opened as the eye does
        figures = json.loads(
            tools.evaluate(
                "JSON.stringify(Object.keys(results)"
                ".filter(p => results[p].mime_type.startsWith('image/')))"
            )
        )
        assert len(figures) >= 20
        tall = []
        for path in figures:
            key = _js(path)
            tools.evaluate(
                f"app.setView({{content: 'img', contentPath: results[{key}].data_uri, "
                f"resultPath: {key}}})"
            )
            deadline = time.monotonic() + 10
            while (box := tools.evaluate(FIGURE_BOX % _js(path))) is None:
                assert time.monotonic() < deadline, f"{path} did not load"
                time.sleep(0.02)
            assert box["scrollTop"] == 0
            assert box["top"] >= box["paneTop"] - 0.5, f"{path}: top edge cut off ({box})"
            assert box["left"] >= box["paneLeft"] - 0.5, f"{path}: left edge cut off ({box})"
            if box["naturalHeight"] > 650:
                tall.append(f"{Path(path).name} ({box['naturalHeight']} px)")
                tools.screenshot(shots / f"tall_{Path(path).stem}.png")
        if tall:
            _report(request.config, "figures taller than 650 px: " + ", ".join(tall))

        # the comparison page with Snakemake's info panel open: columns stay readable
        _open_entry(tools, CATEGORIES["comparison"], ENTRY_NAMES["comparison"])
        path = tools.evaluate("app.state.resultPath")
        tools.evaluate(f"app.showResultInfo({_js(path)})")
        context = _wait_for_frame_table(tools)
        widths = tools.evaluate(
            "[...document.querySelectorAll('td')].filter(td => td.textContent.length > 24)"
            ".map(td => td.getBoundingClientRect().width)",
            context,
        )
        assert widths and min(widths) >= 120, f"text columns squeezed: {sorted(widths)[:5]}"
        tools.screenshot(shots / "4_comparison_with_info_panel.png")

        errors = tools.errors()
    _report(request.config, f"screenshots: {shots}")
    assert not errors, "\n".join(errors)

"""notebooks/04_inspecting_graphs.ipynb in a real JupyterLab and headless Chromium: run all cells, and
the graph, placement, timeline and summary views render with no console error and no cell error.

Marker `browser`; skipped without Playwright, /usr/bin/chromium (Debian's; never a downloaded
browser), JupyterLab or the MNIST files. The server runs on 127.0.0.1 with a random token in its own
process group with throw-away config/runtime/settings folders, and is always killed (with its
kernels). Screenshots go to the test's tmp folder; their paths are printed (`pytest -s`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_inspecting_graphs.ipynb"
TIMEOUT_MS = 90_000
# What each view draws once its output (and, for the HTML views, its inline script) has rendered.
VIEWS = {
    "graph": ".lf-view[data-lf-ready] svg.lf-graph .lf-sc",
    "placement": ".lf-view[data-lf-ready] svg.lf-graph .lf-sr",
    "timeline": ".lf-view[data-lf-ready] svg.lf-tl .lf-bar",
    "summary": '.lf-view[data-lf-ready] svg.lf-summary [data-tag="cross_entropy"] .lf-line',
    "summary widget": '.widget-html svg.lf-summary [data-tag="cross_entropy"] .lf-line',
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Live descendants of pid (the kernels run in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    kids = _descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGTERM)  # the group start_new_session made (pgid == pid)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    for pid in kids:  # kernels that outlived the server
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def lab(tmp_path, mnist_dir):
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("jupyterlab")
    nbformat = pytest.importorskip("nbformat")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    root, scratch = tmp_path / "root", tmp_path / "scratch"
    root.mkdir()
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    for c in nb.cells:  # stale outputs would fake "already ran"
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    nbformat.write(nb, str(root / NOTEBOOK.name))
    settings = scratch / "settings"
    for ext, plugin, data in [("@jupyterlab/apputils-extension", "notification",
                               {"fetchNews": "false", "checkForUpdates": False}),
                              ("@jupyterlab/notebook-extension", "tracker", {"windowingMode": "none"})]:
        p = settings / ext / f"{plugin}.jupyterlab-settings"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(data))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(scratch / "config"), JUPYTER_RUNTIME_DIR=str(scratch / "rt"),
               JUPYTER_DATA_DIR=str(scratch / "data"), JUPYTER_PLATFORM_DIRS="1", LABFLOW_QUICK="1",
               LABFLOW_DATA=str(Path(mnist_dir).parent), LABFLOW_LOGDIR=str(tmp_path / "logs"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--port-retries=0", f"--IdentityProvider.token={token}", "--LabApp.extension_manager=readonly",
           f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
           f"--LabApp.workspaces_dir={scratch / 'ws'}", "--LabApp.news_url=", "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(root),
                            start_new_session=True)
    try:
        t_end = time.time() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter exited with {proc.returncode}: {(tmp_path / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.time() > t_end:
                    pytest.fail("JupyterLab did not start in 60 s")
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}"
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _run_all(page) -> None:
    """Run > Run All Cells; right after load the menu click can do nothing, so the command registry
    is tried next. Nothing is typed into the notebook (in command mode a stray key edits it)."""
    from playwright.sync_api import TimeoutError as PWTimeout

    def menu() -> None:
        page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click()
        page.keyboard.press("Escape")
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click(timeout=5000)

    def registry() -> None:
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    for how in (menu, registry):
        dialog = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")  # "Select Kernel", seen under load
        if dialog.count():
            dialog.first.click()
        try:
            how()
            page.wait_for_function("""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                                       .some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))""", timeout=15000)
            return
        except PWTimeout:
            page.keyboard.press("Escape")
    raise AssertionError("could not start Run All Cells")


def test_notebook_04_runs_in_jupyterlab_and_its_views_render(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    console: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(lab, timeout=TIMEOUT_MS)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=TIMEOUT_MS)
            page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=TIMEOUT_MS)
            _run_all(page)
            n_code = page.locator(".jp-CodeCell").count()
            try:
                page.wait_for_function(
                    """(n) => {
                         const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                         const err = document.querySelector(
                             '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
                         const busy = p.some(e => /\\[\\*\\]/.test(e.textContent));
                         return (p.length === n && p.every(e => /\\[\\d+\\]/.test(e.textContent))) || (err && !busy);
                       }""", arg=n_code, timeout=TIMEOUT_MS)
                found = {}
                for name, sel in VIEWS.items():
                    loc = page.locator(sel).first
                    loc.wait_for(state="attached", timeout=30_000)
                    loc.scroll_into_view_if_needed()
                    found[name] = True
                    path = shots / f"{name.replace(' ', '_')}.png"
                    page.locator(".jp-OutputArea-output").filter(has=page.locator(sel)).first.screenshot(
                        path=str(path))
                    print("screenshot:", path)
            finally:
                page.screenshot(path=str(shots / "notebook.png"), full_page=True)
                print("screenshot:", shots / "notebook.png")
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error" in t]
            assert not tracebacks, tracebacks
            assert page.get_by_text("Error displaying widget").count() == 0
            empty = page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output')].filter(
                e => !e.innerText.trim() && !e.querySelector('img,svg,canvas,input,button')).length""")
            assert empty == 0, f"{empty} empty output(s)"
            assert "test accuracy" in page.inner_text(".jp-Notebook")
            assert found == dict.fromkeys(VIEWS, True)
        finally:
            browser.close()
    assert console == [], console

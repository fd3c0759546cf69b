"""The views' inline script in a real browser (Debian's chromium via Playwright): expand, search, zoom, pan.

Marker `browser`; skipped where Playwright or /usr/bin/chromium is missing.
"""

from __future__ import annotations

import os

import pytest
from nbmodels import mlp, traced_two_device_step

import labflow as tf
from labflow.notebook import GraphView, PlacementView, TimelineView

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    pw = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless", "--disable-gpu"])
        yield b
        b.close()


def _open(browser, view, tmp_path, name):
    path = view.save_html(str(tmp_path / f"{name}.html"))
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: errors.append("request " + r.url) if not r.url.startswith(("file:", "data:"))
            else None)
    page.goto("file://" + path)
    page.wait_for_selector(".lf-view[data-lf-ready] .lf-tools")
    page.wait_for_selector("svg.lf-zoom")
    return page, errors


def test_graph_view_expands_searches_zooms_and_pans(browser, tmp_path):
    mlp()
    page, errors = _open(browser, GraphView(tf.get_default_graph()), tmp_path, "graph")
    assert page.locator(".lf-nojs").count() == 0 and page.locator("img.lf-img").count() == 1  # the legend
    assert page.locator('.lf-op[data-name="layer1/MatMul"]').count() == 0
    page.click('.lf-sc[data-scope="layer1"]')
    page.wait_for_selector('.lf-op[data-name="layer1/MatMul"]')
    page.click('.lf-op[data-name="layer1/MatMul"]')
    assert "created at" in page.inner_text(".lf-info")
    page.click('.lf-clh[data-scope="layer1"]')
    page.wait_for_selector('.lf-sc[data-scope="layer1"]')
    page.fill(".lf-q", "relu")
    assert page.inner_text(".lf-n") == "1 match"
    assert page.locator('.lf-sc.lf-hit[data-scope="layer1"]').count() == 1  # the box holding it
    page.press(".lf-q", "Enter")
    page.wait_for_selector('.lf-op.lf-hit[data-name="layer1/Relu"]')
    vb0 = page.get_attribute("svg.lf-zoom", "viewBox")
    page.click('button[data-act="in"]')
    vb1 = page.get_attribute("svg.lf-zoom", "viewBox")
    assert float(vb1.split()[2]) < float(vb0.split()[2])
    box = page.locator(".lf-canvas").bounding_box()
    page.mouse.move(box["x"] + 300, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 380, box["y"] + 250, steps=4)
    page.mouse.up()
    vb2 = page.get_attribute("svg.lf-zoom", "viewBox")
    assert vb2.split()[:2] != vb1.split()[:2] and vb2.split()[2:] == vb1.split()[2:]
    page.click('button[data-act="all"]')
    page.wait_for_selector('.lf-op[data-name="Adam/mul"]')
    assert errors == []


def test_placement_and_timeline_views_render_without_errors(browser, tmp_path):
    sess, md, _ = traced_two_device_step()
    with sess:
        pv = PlacementView(sess, run_metadata=md)
    page, errors = _open(browser, pv, tmp_path, "placement")
    assert page.locator(".lf-sr").count() >= 1
    page, errors2 = _open(browser, TimelineView(md), tmp_path, "timeline")
    assert page.locator(".lf-bar").count() == sum(len(d.node_stats) for d in md.step_stats.dev_stats)
    assert page.locator(".lf-flow").count() >= 1
    assert errors == [] and errors2 == []

"""ClusterView: a LocalCluster's tasks as an HTML table and as a live ipywidgets table with buttons."""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time

import pytest

import labflow.notebook
from labflow.distributed.launcher import LocalCluster
from labflow.notebook.cluster_view import ClusterView


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait(cond, secs: float = 10.0) -> bool:
    end = time.monotonic() + secs
    while not cond() and time.monotonic() < end:
        time.sleep(0.05)
    return cond()


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster(ps=1, workers=1, start_timeout=90)
    try:
        yield c
    finally:
        c.close()


@pytest.mark.timeout(120)
def test_html_table_without_ipywidgets(cluster, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    monkeypatch.delitem(sys.modules, "labflow.notebook.widgets", raising=False)
    # `from labflow.notebook import widgets` finds a submodule imported earlier as a package attribute.
    monkeypatch.delattr(labflow.notebook, "widgets", raising=False)
    v = ClusterView(cluster)
    assert [(r["job"], r["index"], r["state"], r["answers"]) for r in v.rows] == [
        ("ps", 0, "running", True), ("worker", 0, "running", True)]
    html = v._repr_html_()
    for t in cluster.tasks:
        assert f"/job:{t.job}/task:{t.index}" in html and t.address in html and str(t.pid) in html
    assert "2 running" in html and "<table" in html and "CPU:0" in html
    assert "live steps" in html
    assert cluster._repr_html_().count("<tr>") == 3
    assert 'font-weight="bold">worker</text>' in v.svg()
    assert "2 task(s): 2 running" in repr(v)
    with pytest.raises(ImportError, match="ipywidgets"):
        cluster.widget()


@pytest.mark.timeout(180)
def test_widget_buttons_and_live_refresh(cluster):
    W = pytest.importorskip("ipywidgets")
    importlib.import_module("labflow.notebook.widgets")
    wid = cluster.widget(refresh_s=0.1)
    try:
        assert isinstance(wid, W.VBox) and wid.running and wid.live.value
        key = ("worker", 0)
        cells, buttons = wid.cells[key], wid.buttons[key]
        assert "running" in cells[3].value and cluster.task("worker", 0).address in cells[1].value
        assert not buttons["stop"].disabled and not buttons["restart"].disabled

        buttons["kill"].click()
        assert cluster.task("worker", 0).state == "killed"
        assert "killed" in cells[3].value and "SIGKILL" in cells[7].value
        assert buttons["stop"].disabled and buttons["kill"].disabled and not buttons["restart"].disabled
        with pytest.raises(RuntimeError, match="killed"):
            cluster.check()

        old = cluster.task("worker", 0).pid
        buttons["restart"].click()
        t = cluster.task("worker", 0)
        assert t.state == "running" and t.pid != old and "running" in wid.cells[key][3].value

        wid.buttons[key]["stop"].click()
        assert cluster.task("worker", 0).state == "stopped" and "stopped" in wid.cells[key][3].value
        wid.buttons[key]["restart"].click()
        assert cluster.task("worker", 0).state == "running"

        cluster.kill("worker", 0)  # from Python: the refresh thread shows it
        assert _wait(lambda: "killed" in wid.cells[key][3].value)
        cluster.restart("worker", 0)
        assert _wait(lambda: "running" in wid.cells[key][3].value)

        thread = wid._thread
        wid.live.value = False  # pause
        assert not wid.running and "paused" in wid.status.value
        thread.join(2)
        assert not thread.is_alive()
        wid.refresh_button.click()
        wid.live.value = True
        assert wid.running
    finally:
        thread = wid._thread
        wid.close()
    if thread is not None:
        thread.join(2)
        assert not thread.is_alive()
    cluster.check()


@pytest.mark.timeout(120)
def test_widget_thread_ends_with_the_cluster_and_does_not_keep_it_alive():
    pytest.importorskip("ipywidgets")
    importlib.import_module("labflow.notebook.widgets")
    c = LocalCluster(ps=0, workers=1)
    a = b = None
    try:
        a = c.widget(refresh_s=0.05)
        b = ClusterView(c, refresh_s=0.05).widget()
        pid = c.task("worker", 0).pid
        ta, tb = a._thread, b._thread
        c.close()  # a closed cluster ends the refresh
        ta.join(5)
        assert not ta.is_alive() and not a.running and not a.live.value
        assert "closed" in a.head.value and "stopped" in a.cells[("worker", 0)][3].value
        assert a.buttons[("worker", 0)]["restart"].disabled
        a.buttons[("worker", 0)]["restart"].click()  # does nothing harmful
        assert "closed" in a.status.value
        assert _gone(pid)
        tb.join(5)
        assert not tb.is_alive()
    finally:
        for w in (a, b):
            if w is not None:
                w.close()
        c.close()

    c = LocalCluster(ps=0, workers=1)
    w = c.widget(refresh_s=0.05)
    try:
        pid, thread = c.task("worker", 0).pid, w._thread
        del c  # an open widget must not keep the processes alive
        gc.collect()
        # The refresh thread may hold the cluster for the length of one poll: then it is collected
        # (and its processes stopped) in that thread a moment later.
        assert _wait(lambda: _gone(pid))
        thread.join(5)
        assert not thread.is_alive()
        assert w.view.cluster is None and "gone" in w.view.summary()
    finally:
        w.close()

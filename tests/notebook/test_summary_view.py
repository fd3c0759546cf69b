"""SummaryView: a logdir written by FileWriter drawn as charts; refresh and the live widget."""

from __future__ import annotations

import importlib
import re
import sys
import time

import numpy as np
import pytest

import labflow as tf
import labflow.notebook
from labflow.notebook import SummaryView
from labflow.notebook.summary_view import histogram_quantiles


def _summaries():
    x = tf.placeholder(tf.float32, [None], name="x")
    tf.summary.scalar("loss", tf.reduce_mean(x))
    tf.summary.scalar("metrics/accuracy", tf.reduce_max(x))
    tf.summary.histogram("layer1/weights", x)
    return x, tf.summary.merge_all()


def _write(sess, x, merged, writer, steps, offset=0.0):
    for s in steps:
        writer.add_summary(sess.run(merged, {x: np.arange(5, dtype=np.float32) + s + offset}), s)


def _xy(svg: str, tag: str, run: str, cls: str = "lf-line") -> list[tuple[int, float]]:
    charts = re.findall(rf'<g class="lf-chart" data-kind="\w+" data-tag="{re.escape(tag)}">(.*?)</g>', svg, re.S)
    assert charts, tag
    for chart in charts:
        m = re.search(rf'class="{cls}" data-run="{re.escape(run)}" data-xy="([^"]*)"', chart)
        if m:
            return [(int(a), float(b)) for a, b in (p.split(":") for p in m.group(1).split())]
    raise AssertionError((tag, run))


@pytest.fixture
def logdir(tmp_path):
    x, merged = _summaries()
    with tf.Session() as sess:
        for run, off in (("train", 0.0), ("eval", 100.0)):
            with tf.summary.FileWriter(str(tmp_path / run)) as w:
                _write(sess, x, merged, w, range(0, 30, 10), off)
    return tmp_path


def test_charts_hold_the_written_points_grouped_by_tag_with_a_line_per_run(logdir):
    v = SummaryView(str(logdir))
    assert v.run_names == ["eval", "train"]
    assert v.scalar_tags() == ["loss", "metrics/accuracy"] and v.histogram_tags() == ["layer1/weights"]
    assert v.groups() == {"layer1": [("histogram", "layer1/weights")], "loss": [("scalar", "loss")],
                          "metrics": [("scalar", "metrics/accuracy")]}
    svg = v.svg()
    assert _xy(svg, "loss", "train") == [(0, 2.0), (10, 12.0), (20, 22.0)]  # mean of s..s+4
    assert _xy(svg, "loss", "eval") == [(0, 102.0), (10, 112.0), (20, 122.0)]
    assert _xy(svg, "metrics/accuracy", "train") == [(0, 4.0), (10, 14.0), (20, 24.0)]
    assert v.points("loss", "eval") == [(0, 102.0), (10, 112.0), (20, 122.0)]
    for g in ("layer1", "loss", "metrics"):
        assert 'class="lf-group" x="12" y="' in svg and f">{g}</text>" in svg
    assert svg.count('data-tag="layer1/weights"') == 2  # one distribution chart per run
    med = _xy(svg, "layer1/weights", "train", "lf-median")
    assert [s for s, _ in med] == [0, 10, 20] and all(abs(m - (s + 2)) < 1.5 for s, m in med)
    assert 'stroke="#1f78b4"' in svg and 'stroke="#33a02c"' in svg  # the two runs' colours
    html = v._repr_html_()
    assert "<script" in html and "http://" not in html.replace("http://www.w3.org", "")
    assert v._repr_mimebundle_()["text/plain"].startswith("<SummaryView")


def test_a_file_writer_is_flushed_and_refresh_picks_up_new_events(tmp_path):
    x, merged = _summaries()
    with tf.Session() as sess:
        w = tf.summary.FileWriter(str(tmp_path), flush_secs=1000)
        _write(sess, x, merged, w, [0, 1])
        v = SummaryView(w)  # flushes: the events are there although flush_secs has not passed
        assert v.logdir == str(tmp_path) and v.run_names == ["."]
        assert v.points("loss") == [(0, 2.0), (1, 3.0)]
        assert v.refresh() is False
        _write(sess, x, merged, w, [2, 3])
        assert v.refresh() is True
        assert v.points("loss") == [(0, 2.0), (1, 3.0), (2, 4.0), (3, 5.0)]
        assert _xy(v.svg(), "loss", ".")[-1] == (3, 5.0)
        w.close()
        w2 = tf.summary.FileWriter(str(tmp_path / "run2"))
        _write(sess, x, merged, w2, [0])
        w2.close()
    assert v.refresh() and v.run_names == [".", "run2"]


def test_a_partly_written_record_is_read_on_the_next_refresh(tmp_path):
    x, merged = _summaries()
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path)) as w:
        _write(sess, x, merged, w, [0, 1, 2])
    path = next(tmp_path.glob("events.out.tfevents.*"))
    full = path.read_bytes()
    path.write_bytes(full[:-10])
    v = SummaryView(str(tmp_path))
    assert v.points("loss") == [(0, 2.0), (1, 3.0)]
    path.write_bytes(full)
    assert v.refresh() and v.points("loss") == [(0, 2.0), (1, 3.0), (2, 4.0)]


def test_empty_or_missing_logdir_and_filters(tmp_path, logdir):
    v = SummaryView(str(tmp_path / "nothing"))
    assert "No scalar or histogram summaries" in v.svg() and v.run_names == []
    f = SummaryView(str(logdir), tags=["loss"], runs=["train"])
    assert f.scalar_tags() == ["loss"] and f.run_names == ["train"] and f.histogram_tags() == []
    with pytest.raises(ValueError, match="smoothing"):
        SummaryView(str(logdir), smoothing=1.0)
    assert 'class="lf-smooth"' in SummaryView(str(logdir), smoothing=0.6).svg()


def test_histogram_quantiles():
    h = tf.summary.Summary.Value().histo
    h.min, h.max, h.num = 0.0, 10.0, 10
    h.bucket_limit.extend([5.0, 10.0])
    h.bucket.extend([5.0, 5.0])
    q = histogram_quantiles(h)
    assert q[0] == 0.0 and q[-1] == 10.0 and q[4] == pytest.approx(5.0)


def test_displays_without_ipywidgets(logdir, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    monkeypatch.delitem(sys.modules, "labflow.notebook.widgets", raising=False)
    monkeypatch.delattr(labflow.notebook, "widgets", raising=False)  # the attribute outlives sys.modules
    v = SummaryView(str(logdir))
    assert 'data-tag="loss"' in v.svg() and "lf-view" in v._repr_html_()
    with pytest.raises(ImportError, match="ipywidgets"):
        v.widget()
    monkeypatch.delitem(sys.modules, "labflow.notebook.widgets", raising=False)


def test_widget_refreshes_live_and_stops_when_closed(tmp_path):
    W = pytest.importorskip("ipywidgets")
    importlib.import_module("labflow.notebook.widgets")
    x, merged = _summaries()
    with tf.Session() as sess:
        w = tf.summary.FileWriter(str(tmp_path))
        _write(sess, x, merged, w, [0])
        v = SummaryView(w)
        wid = v.widget(refresh_secs=0.05)
        assert isinstance(wid, W.VBox) and wid.running and wid.live.value
        assert _xy(wid.canvas.value, "loss", ".") == [(0, 2.0)]
        _write(sess, x, merged, w, [1, 2])  # "training" in this thread while the widget's thread reads
        t_end = time.time() + 10
        while _xy(wid.canvas.value, "loss", ".")[-1] != (2, 4.0) and time.time() < t_end:
            time.sleep(0.05)
        assert _xy(wid.canvas.value, "loss", ".") == [(0, 2.0), (1, 3.0), (2, 4.0)]
        assert "live" in wid.status.value and "2 event" not in wid.head.value
        thread = wid._thread
        wid.live.value = False  # pause
        assert not wid.running
        thread.join(2)
        assert not thread.is_alive()
        _write(sess, x, merged, w, [3])
        w.flush()
        time.sleep(0.2)
        assert _xy(wid.canvas.value, "loss", ".")[-1] == (2, 4.0)
        wid.refresh_button.click()
        assert _xy(wid.canvas.value, "loss", ".")[-1] == (3, 5.0)
        wid.live.value = True
        assert wid.running
        thread = wid._thread
        wid.close()
        thread.join(2)
        assert not thread.is_alive()
        w.close()
    manual = SummaryView(str(tmp_path)).widget(refresh_secs=None)
    assert not manual.running and manual.live.disabled
    manual.close()

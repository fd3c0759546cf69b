"""The ipywidgets versions of the views: state synced from Python (and from the controls)."""

from __future__ import annotations

import pytest
from nbmodels import mlp, traced_two_device_step

import labflow as tf
from labflow.notebook import GraphView, PlacementView, TimelineView

W = pytest.importorskip("ipywidgets")


def test_graph_widget_redraws_when_the_view_changes_from_python():
    mlp()
    v = GraphView(tf.get_default_graph())
    w = v.widget()
    assert isinstance(w, W.VBox)
    assert 'data-scope="layer1"' in w.canvas.value and 'data-name="layer1/MatMul"' not in w.canvas.value
    v.expand("layer1")
    assert 'data-name="layer1/MatMul"' in w.canvas.value
    assert w.expanded == ["layer1"]
    assert w.canvas.get_state()["value"] == w.canvas.value  # what the front end receives
    w.expanded = ["out"]  # trait -> view
    assert v.expanded == {"out"} and 'data-name="out/MatMul"' in w.canvas.value
    w.all_button.click()
    assert v.expanded == set(v.tree.scopes)
    w.none_button.click()
    assert v.expanded == set()
    w.scope.value = "Adam"
    w.expand_button.click()
    assert v.expanded == {"Adam"}
    w.collapse_button.click()
    assert v.expanded == set()


def test_graph_widget_search_highlights_and_shows_details():
    mlp()
    v = GraphView(tf.get_default_graph())
    w = v.widget()
    w.search.value = "matmul"  # as if typed in the browser
    assert w.query == "matmul" and v.highlight == {"layer1/MatMul", "out/MatMul"}
    assert [o[1] for o in w.matches.options] == ["layer1/MatMul", "out/MatMul"]
    w.matches.value = "out/MatMul"
    assert "out" in v.expanded and "<code>MatMul</code>" in w.details.value
    assert 'stroke="#e6194b"' in w.canvas.value
    w.query = ""  # trait -> text box
    assert w.search.value == "" and v.highlight == frozenset()


def test_graph_widget_show_hidden_subgraphs_and_zoom():
    mlp()
    v = GraphView(tf.get_default_graph())
    w = v.widget()
    assert 'data-scope="gradients"' not in w.canvas.value
    w.show["gradients"].value = True
    assert "gradients" not in v.hide and 'data-scope="gradients"' in w.canvas.value
    assert ("gradients/", "gradients") in w.scope.options
    width = float(w.canvas.value.split('<svg', 1)[1].split('width="', 1)[1].split('"', 1)[0])
    w.zoom.value = 2.0
    width2 = float(w.canvas.value.split('<svg', 1)[1].split('width="', 1)[1].split('"', 1)[0])
    assert width2 == pytest.approx(2 * width, abs=1)


def test_placement_and_timeline_widgets(tmp_path):
    sess, md, _ = traced_two_device_step()
    with sess:
        pv = PlacementView(sess, run_metadata=md)
        w = pv.widget()
        assert "Placement decisions" in w.table.value
        w.device.value = pv.devices[1]
        assert pv.highlight and all(pv.device_of_op[n] == pv.devices[1] for n in pv.highlight)
    tv = TimelineView(md)
    tw = tv.widget()
    n = tw.canvas.value.count('class="lf-bar"')
    assert n == len(tv.bars)
    tw.width.value = 2000
    assert tv.width == 2000 and 'width="2190"' in tw.canvas.value
    tw.path.value = str(tmp_path / "trace.json")
    tw.save_button.click()
    assert (tmp_path / "trace.json").exists() and "wrote" in tw.status.value

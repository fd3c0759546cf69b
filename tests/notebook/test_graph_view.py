"""GraphView: the model read from graphs, hidden subgraphs, scopes, layout and the HTML/SVG output."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from nbmodels import live_svg, mlp, view_data

import labflow as tf
import labflow.notebook
from labflow.notebook import GraphView, as_model, hidden_nodes
from labflow.notebook.graph_model import ScopeTree


def _data_blob(html: str) -> dict:
    (d,) = view_data(html)
    return d


def assert_offline(html: str) -> None:
    """Nothing in the output is fetched from anywhere: no src/href to the web, no CSS imports."""
    for attr in re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', html):
        assert not re.match(r"^\s*(https?:)?//", attr), attr
    assert "@import" not in html and "url(http" not in html
    assert "<script src" not in html.replace(" ", "").replace("<scriptsrc", "<script src")
    rest = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in rest and "https://" not in rest


def test_model_reads_ops_shapes_dtypes_and_creation_sites():
    mlp()
    m = as_model(tf.get_default_graph())
    mm = m.nodes["layer1/MatMul"]
    assert mm.type == "MatMul" and mm.shape == "[?,100]" and mm.outputs == [("float32", "[?,100]")]
    assert mm.inputs == [("x", 0), ("layer1/W/read", 0)]
    assert mm.attrs["transpose_a"] == "False"
    assert mm.site.startswith("nbmodels.py:") and "tf.matmul" in mm.site
    edges = {(e.src, e.dst): e for e in m.edges()}
    assert edges[("x", "layer1/MatMul")].label == "float32 [?,784]"
    assert any(e.control for e in m.edges() if e.dst == "init")


def test_graph_def_and_session_give_the_same_nodes():
    mlp()
    g = tf.get_default_graph()
    m1 = as_model(g)
    m2 = as_model(g.as_graph_def(add_shapes=True))
    assert list(m1.nodes) == list(m2.nodes)
    assert m2.nodes["layer1/MatMul"].shape == "[?,100]"
    assert m2.nodes["layer1/MatMul"].outputs[0][0] == "float32"
    with tf.Session() as sess:
        assert list(as_model(sess).nodes) == list(m1.nodes)
    with pytest.raises(TypeError, match="Cannot draw a int"):
        as_model(3)


def test_gradients_init_save_summaries_are_hidden_but_the_model_is_not():
    _, _, loss, train, _ = mlp()
    m = as_model(tf.get_default_graph())
    hid = hidden_nodes(m)
    assert all(hid[n] == "gradients" for n in m.nodes if n.startswith("gradients/"))
    assert hid["init"] == "init" and hid["layer1/W/Assign"] == "init"
    assert hid["layer1/truncated_normal/TruncatedNormal"] == "init"  # only the initializer uses it
    assert hid["out/W/Initializer/random_uniform"] == "init"
    for name in ("Mean", "layer1/W", "layer1/W/read", "x", "Adam", "layer1/MatMul"):
        assert name not in hid, name  # the loss feeds only gradients, but it is model
    assert hidden_nodes(m, ()) == {}
    assert set(hidden_nodes(m, ("Adam",))) == {n for n in m.nodes if n == "Adam" or n.startswith("Adam/")}


def test_scope_tree_groups_own_ops_and_dissolves_single_op_scopes():
    t = ScopeTree(["a/W", "a/W/read", "a/MatMul", "b/only", "c/d/e", "c/d/f", "top"])
    assert t.group["a/W"] == "a/W" and t.own_op["a/W"] == "a/W"
    assert t.group["b/only"] == ""  # a one-op scope is no box
    assert t.scopes == {"a", "a/W", "c", "c/d"}
    assert t.children["c"] == [("scope", "c/d")]
    assert t.count["a"] == 3 and t.ancestors("c/d") == ["c", "c/d"]


def test_svg_shows_collapsed_scopes_op_types_shapes_and_edge_labels():
    mlp()
    v = GraphView(tf.get_default_graph())
    svg = v.svg()
    scopes = set(re.findall(r'class="lf-sc" data-scope="([^"]+)"', svg))
    assert {"layer1", "out", "Adam"} <= scopes
    ops = set(re.findall(r'class="lf-op" data-name="([^"]+)"', svg))
    assert {"x", "y_", "Mean"} <= ops
    assert not any(o.startswith("layer1/") for o in ops)  # collapsed: inside the box only
    assert not any(s.startswith("gradients") for s in scopes | ops)
    assert "Placeholder [?,784]" in svg and "15 ops" in svg
    assert "float32 [?,784]" in svg  # x -> layer1, labelled with dtype and shape
    assert "<title>x\ntype: Placeholder" in svg  # hover details


def test_expand_opens_a_scope_in_place_and_shows_its_ops_and_control_edges():
    _, _, _, train, _ = mlp()
    v = GraphView(tf.get_default_graph())
    v.expand("Adam")
    svg = v.svg()
    assert 'class="lf-cl" data-scope="Adam"' in svg and 'class="lf-clh" data-scope="Adam"' in svg
    ops = set(re.findall(r'class="lf-op" data-name="([^"]+)"', svg))
    assert {"Adam", "Adam/mul", "Adam/Assign"} <= ops
    assert re.search(r'class="lf-e lf-ctl".*?stroke-dasharray="4 3"', svg)  # ApplyAdam -> Adam: dashed
    lay = v.layout()
    cluster = lay.boxes["scope:Adam"]
    for k, b in lay.boxes.items():
        if k.startswith("op:Adam/"):
            assert cluster.x <= b.x and b.x + b.w <= cluster.x + cluster.w + 1e-6
            assert cluster.y <= b.y and b.y + b.h <= cluster.y + cluster.h + 1e-6
    v.collapse("Adam")
    assert 'data-scope="Adam"' in v.svg() and 'class="lf-cl"' not in v.svg()
    v.expand("layer1/W/read")  # an op name opens the scopes around it
    assert v.expanded == {"layer1", "layer1/W"}
    with pytest.raises(KeyError, match="No scope named 'nope'"):
        v.expand("nope")


def test_layout_boxes_do_not_overlap_and_edges_point_down():
    mlp()
    v = GraphView(tf.get_default_graph(), hide=())
    for exp in ((), ("*",)):
        v.collapse()
        v.expand(*exp)
        lay = v.layout()
        leaves = [b for b in lay.boxes.values() if b.kind != "cluster"]
        for i, a in enumerate(leaves):
            for b in leaves[i + 1:]:
                overlap = a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h
                assert not overlap, (a.key, b.key)
        assert all(0 <= b.x and b.x + b.w <= lay.width and b.y + b.h <= lay.height for b in leaves)
        for r in lay.routes:
            assert len(r.points) >= 2


def test_hide_nothing_shows_gradients_and_init():
    mlp()
    v = GraphView(tf.get_default_graph(), hide=())
    svg = v.svg()
    assert 'data-scope="gradients"' in svg and 'data-name="init"' in svg
    assert "hidden" not in v.summary()
    v2 = GraphView(tf.get_default_graph())
    assert "hidden: gradients (" in v2.summary() and "init (" in v2.summary()


def test_search_highlights_and_reveals():
    mlp()
    v = GraphView(tf.get_default_graph())
    hits = v.search("relu")
    assert hits == ["layer1/Relu"] and v.expanded == {"layer1"}
    assert re.search(r'data-name="layer1/Relu".*?stroke="#e6194b"', v.svg(), re.S)
    assert v.find("matmul") == ["layer1/MatMul", "out/MatMul"]


def test_html_is_offline_and_embeds_every_one_branch_state():
    mlp()
    v = GraphView(tf.get_default_graph())
    html = v.to_html()
    assert_offline(html)
    assert "<script>" in html and 'class="lf-nojs"' in html
    assert '<img class="lf-img"' in html and 'src="data:image/svg+xml;base64,' in html  # sanitizer-proof
    assert "<svg" not in html.split("<script", 1)[0].split('class="lf-canvas"', 1)[1]
    data = _data_blob(html)
    assert data["@"] == v.svg() and "<title>" in data["@"]
    assert 'placeholder="search ops' in data["tools"]
    assert set(data["states"]) >= {"", "*", "layer1", "layer1/W", "Adam"}
    assert 'data-name="layer1/W/read"' in data["states"]["layer1/W"]
    assert data["parent"]["layer1/W"] == "layer1"
    assert "layer1/MatMul" in data["details"] and "created at" in data["details"]["layer1/MatMul"]
    v2 = GraphView(tf.get_default_graph(), max_states=2)
    assert len(_data_blob(v2.to_html())["states"]) == 3
    bundle = v._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"} and bundle["text/plain"].startswith("<GraphView")


def test_two_views_get_distinct_dom_ids(tmp_path):
    mlp()
    a, b = GraphView(tf.get_default_graph()), GraphView(tf.get_default_graph())
    ida = re.search(r'<div id="([^"]+)"', a.to_html()).group(1)
    idb = re.search(r'<div id="([^"]+)"', b.to_html()).group(1)
    assert ida != idb
    p = a.save_html(str(tmp_path / "g.html"))
    text = open(p, encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>") and ida in text
    assert open(a.save_svg(str(tmp_path / "g.svg"))).read().startswith("<svg")


def test_refresh_sees_new_ops():
    x = tf.placeholder(tf.float32, [2], name="x")
    v = GraphView(tf.get_default_graph())
    assert "data-name=\"y\"" not in v.svg()
    tf.identity(x, name="y")
    assert 'data-name="y"' in v.refresh().svg()


def test_graph_view_works_without_ipywidgets(monkeypatch):
    mlp()
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    monkeypatch.delitem(sys.modules, "labflow.notebook.widgets", raising=False)
    monkeypatch.delattr(labflow.notebook, "widgets", raising=False)  # the attribute outlives sys.modules
    v = GraphView(tf.get_default_graph())
    assert 'data-name="x"' in live_svg(v.to_html())
    with pytest.raises(ImportError, match="pip install"):
        v.widget()


def test_importing_the_notebook_package_does_not_import_ipywidgets():
    code = ("import sys, labflow as tf, labflow.notebook as nb\n"
            "x = tf.placeholder(tf.float32, [None, 3], name='x')\n"
            "nb.GraphView(tf.get_default_graph()).to_html()\n"
            "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_graph_with_a_cycle_still_lays_out():
    from labflow.notebook.graph_layout import GraphLayout
    from labflow.notebook.graph_model import GraphModel, Node
    from labflow.notebook.svg import size_of
    m = GraphModel([Node("a", "Merge", inputs=[("c", 0)], outputs=[("float32", "[]")]),
                    Node("b", "Add", inputs=[("a", 0)], outputs=[("float32", "[]")]),
                    Node("c", "NextIteration", inputs=[("b", 0)], outputs=[("float32", "[]")])])
    t = ScopeTree(m.nodes)
    lay = GraphLayout(m, t, size_of(m, t)).layout()
    assert len(lay.routes) == 3 and len({round(b.y) for b in lay.boxes.values()}) == 3


def test_save_and_summary_subgraphs_are_hidden_by_category():
    from labflow.notebook.graph_model import GraphModel, Node
    f = [("float32", "[]")]
    m = GraphModel([Node("loss", "Mean", outputs=f),
                    Node("summaries/loss", "ScalarSummary", inputs=[("loss", 0)], outputs=[("string", "[]")]),
                    Node("hist", "HistogramSummary", inputs=[("loss", 0)], outputs=[("string", "[]")]),
                    Node("Merge/MergeSummary", "MergeSummary", inputs=[("summaries/loss", 0), ("hist", 0)],
                         outputs=[("string", "[]")]),
                    Node("save/Const", "Const", outputs=[("string", "[]")]),
                    Node("save_1/SaveV2", "SaveV2", inputs=[("save/Const", 0), ("loss", 0)])])
    hid = hidden_nodes(m)
    assert hid == {"summaries/loss": "summaries", "hist": "summaries", "Merge/MergeSummary": "summaries",
                   "save/Const": "save", "save_1/SaveV2": "save"}
    assert hidden_nodes(m, ("save",)) == {"save/Const": "save", "save_1/SaveV2": "save"}

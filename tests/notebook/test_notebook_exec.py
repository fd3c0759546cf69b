"""A notebook that builds a small model and shows every view, executed headlessly with nbclient."""

from __future__ import annotations

import pytest
from nbmodels import live_svg

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

SETUP = """\
%load_ext labflow.notebook
import numpy as np
import labflow as tf
from labflow.notebook import GraphView, PlacementView, TimelineView
import labflow.notebook
labflow.notebook.install_reprs()"""

BUILD = """\
%%labflow_graph
x = tf.placeholder(tf.float32, [None, 784], name="x")
y_ = tf.placeholder(tf.float32, [None, 10], name="y_")
with tf.device("/cpu:0"), tf.name_scope("layer1"):
    W = tf.Variable(tf.truncated_normal([784, 100], stddev=0.1), name="W")
    b = tf.Variable(tf.zeros([100]), name="b")
    h = tf.nn.relu(tf.matmul(x, W) + b)
with tf.device("/cpu:1"):
    with tf.name_scope("out"):
        W2 = tf.Variable(tf.zeros([100, 10]), name="W")
        y = tf.matmul(h, W2)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
init = tf.global_variables_initializer()"""

RUN = """\
sess = tf.Session(config=tf.ConfigProto(device_count={"CPU": 2}))
sess.run(init)
md = tf.RunMetadata()
opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE, output_partition_graphs=True)
feed = {x: np.random.rand(16, 784), y_: np.eye(10)[np.arange(16) % 10]}
sess.run(train, feed, options=opts, run_metadata=md)"""

VIEWS = [
    "GraphView(tf.get_default_graph())",
    "PlacementView(sess, run_metadata=md)",
    "TimelineView(md)",
    "md",
    "h",
    "h.op",
    "W",
    "sess",
    "tf.get_default_graph()",
]
RERUN = "z = tf.placeholder(tf.float32, name='z')"


def _notebook():
    v4 = nbformat.v4
    cells = [v4.new_code_cell(SETUP), v4.new_code_cell(BUILD), v4.new_code_cell(BUILD), v4.new_code_cell(RUN)]
    cells += [v4.new_code_cell(src) for src in VIEWS]
    cells += [v4.new_code_cell("GraphView(tf.get_default_graph()).widget()")]
    cells += [v4.new_code_cell(RERUN), v4.new_code_cell(RERUN)]
    return v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                 "display_name": "Python 3"}})


def test_every_view_displays_in_an_executed_notebook(tmp_path):
    nb = _notebook()
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {
        "path": str(tmp_path)}})
    client.execute()
    nbformat.write(nb, str(tmp_path / "executed.ipynb"))
    cells = nb.cells
    for c in cells:
        assert not [o for o in c.outputs if o.output_type == "error"], (c.source, c.outputs)
    # The build cell ran twice under %%labflow_graph: rebuilt, not doubled, and no warning.
    assert not any("GraphRerunWarning" in o.get("text", "") for c in cells[:4] for o in c.outputs)
    views = cells[4:4 + len(VIEWS)]
    for src, c in zip(VIEWS, views):
        html = [o for o in c.outputs if "text/html" in o.get("data", {})]
        assert html, (src, c.outputs)
        body = html[0]["data"]["text/html"]
        if src not in ("h", "h.op", "W", "sess"):
            assert "data:image/svg+xml;base64," in body and "<svg" in live_svg(body), src
    assert 'data-scope="layer1"' in live_svg(views[0].outputs[0]["data"]["text/html"])
    assert "CPU:1" in views[1].outputs[0]["data"]["text/html"]
    assert 'class="lf-bar"' in live_svg(views[2].outputs[0]["data"]["text/html"])
    assert "<b>Tensor</b>" in views[4].outputs[0]["data"]["text/html"]
    assert "<b>Session</b>" in views[7].outputs[0]["data"]["text/html"]
    widget = cells[4 + len(VIEWS)]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in widget.outputs)
    # Re-running a plain cell that adds the same op warns.
    first, second = cells[-2], cells[-1]
    assert not any("GraphRerunWarning" in o.get("text", "") for o in first.outputs)
    assert any("GraphRerunWarning" in o.get("text", "") and "'z' → 'z_1'" in o.get("text", "")
               for o in second.outputs)

"""PlacementView (device colours, Send/Recv, reasons) and TimelineView (Gantt bars, flows, export)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from nbmodels import CPU0, CPU1, traced_two_device_step
from test_graph_view import assert_offline

import labflow as tf
from labflow.notebook import PlacementView, TimelineView
from labflow.notebook.svg import PALETTE, legend_svg
from labflow.notebook.views import short_device


@pytest.fixture
def step():
    sess, md, loss = traced_two_device_step()
    yield sess, md, loss
    sess.close()


def test_short_device_names():
    assert short_device(CPU1) == "CPU:1"
    assert short_device("/job:worker/replica:0/task:2/device:GPU:0") == "worker:2/GPU:0"
    assert short_device("") == "(unplaced)"


def test_placement_view_colours_ops_by_device_with_a_legend(step):
    sess, md, _ = step
    v = PlacementView(sess, run_metadata=md)
    assert v.devices == [CPU0, CPU1]
    f0, f1 = PALETTE[0][0], PALETTE[1][0]
    v.expand("layer1", "out")
    svg = v.svg()
    relu = re.search(r'<g class="lf-op" data-name="layer1/Relu".*?</g>', svg, re.S).group(0)
    assert f'fill="{f0}"' in relu and "device: " + CPU0 in relu
    mm = re.search(r'<g class="lf-op" data-name="out/MatMul".*?</g>', svg, re.S).group(0)
    assert f'fill="{f1}"' in mm
    legend = legend_svg(v.legend())
    assert "CPU:0" in legend and "CPU:1" in legend and f'fill="{f0}"' in legend
    assert "Send/Recv edge" in legend and "not placed (fed" in legend  # x and y_ are fed
    b64 = base64.b64encode(legend.encode()).decode()
    assert b64 in v._below()  # shown as a picture: it survives notebook sanitizers
    html = v.to_html()
    assert_offline(html)
    assert "CPU:0: " in html and "Placement decisions" in html


def test_send_recv_pairs_come_from_partition_graphs(step):
    sess, md, _ = step
    v = PlacementView(sess, run_metadata=md)
    pairs = {(p["src"], p["from"], p["to"]) for p in v.send_recv}
    assert ("layer1/Relu", CPU0, CPU1) in pairs
    relu = next(p for p in v.send_recv if p["src"] == "layer1/Relu")
    assert "out/MatMul" in relu["dst"] and relu["send"].endswith("_send_" + relu["tensor"].split("_")[1])
    n_send = sum(1 for pg in md.partition_graphs for nd in pg.node if nd.op == "_Send")
    assert len(v.send_recv) == n_send
    assert not any("_ctrl_const" in p["src"] for p in v.send_recv)  # control edges name their real source
    v.expand("layer1", "out")
    svg = v.svg()
    edge = re.search(r'<g class="lf-e lf-sr"><title>layer1/Relu → out/MatMul.*?</g>', svg, re.S)
    assert edge and "⇄ CPU:0→CPU:1" in edge.group(0)


def test_send_recv_inferred_from_placements_without_partition_graphs(step):
    sess, _, _ = step
    v = PlacementView(sess)
    assert ("layer1/Relu", CPU0, CPU1) in {(p["src"], p["from"], p["to"]) for p in v.send_recv}


def test_placement_table_lists_every_decision_with_reasons(step):
    sess, md, _ = step
    v = PlacementView(sess.placements(), graph=sess.graph)
    rows = v.table_rows()
    assert len(rows) == len(sess.placements())
    row = next(r for r in rows if r[0] == "layer1/MatMul")
    assert row[2] == "CPU:0" and "explicit constraint" in row[4]
    assert "explicit constraint" in v._below()


def test_placement_view_from_partition_graphs_alone(step):
    _, md, _ = step
    v = PlacementView([], run_metadata=md)
    assert "layer1/Relu/_send_1" in v.model.nodes or any(n.endswith("_send_1") for n in v.model.nodes)
    assert v.devices == [CPU0, CPU1]
    with pytest.raises(ValueError, match="needs the graph"):
        PlacementView([])


def test_timeline_has_a_bar_per_node_and_a_row_per_thread(step):
    _, md, _ = step
    v = TimelineView(md)
    n_nodes = sum(len(ds.node_stats) for ds in md.step_stats.dev_stats)
    svg = v.svg()
    assert svg.count('class="lf-bar"') == n_nodes == len(v.bars)
    assert {b.device for b in v.bars} == {CPU0, CPU1}
    assert len(v.rows()) == len({(ds.device, ns.thread_id) for ds in md.step_stats.dev_stats
                                 for ns in ds.node_stats})
    # (layer1's MatMul, bias add and relu run fused, as one _FusedMatMul named layer1/Relu)
    mm = next(b for b in v.bars if b.name == "out/MatMul")
    assert mm.op == "MatMul" and mm.outputs == ["float32 [8,10] (320 B)"]
    assert re.search(r"<title>out/MatMul \(MatMul\)\n.*CPU:1, thread \d+\nstart \+.*duration", svg)
    fused = next(b for b in v.bars if b.name == "layer1/Relu")
    assert fused.op == "_FusedMatMul" and fused.device == CPU0


def test_timeline_flows_join_each_send_to_its_recv(step):
    _, md, _ = step
    v = TimelineView(md)
    flows = v.flows()
    sends = [b for b in v.bars if b.name.rsplit("/", 1)[-1].startswith("_send_")]
    assert len(flows) == len(sends) > 0
    for s, r in flows:
        assert s.name.rsplit("_", 1)[1] == r.name.rsplit("_", 1)[1] and s.device != r.device
    assert v.svg().count('class="lf-flow"') == len(flows)


def test_timeline_totals_and_chrome_trace_export(step, tmp_path):
    _, md, _ = step
    v = TimelineView(md)
    totals = v.totals()
    assert totals["MatMul"]["count"] == sum(1 for b in v.bars if b.op == "MatMul")
    assert "<th>op type</th>" in v.totals_html() and "MatMul" in v.totals_html()
    trace = json.loads(v.chrome_trace())
    assert sum(1 for e in trace["traceEvents"] if e["ph"] == "X") == len(v.bars)
    p = v.save(str(tmp_path / "t.json"))
    assert json.load(open(p))["traceEvents"]
    html = v.to_html()
    assert 'download="labflow_timeline.json" href="data:application/json;base64,' in html
    assert_offline(html)
    small = TimelineView(md, max_download_bytes=10)
    assert "view.save(" in small.download_html() and "data:" not in small.download_html()


def test_timeline_accepts_step_stats_timelines_and_tracers():
    a = tf.placeholder(tf.float32, [3, 3])  # fed, so constant folding leaves the ops to run
    b = tf.matmul(a, a) + 1.0
    with tf.Session() as sess:
        with sess.trace() as tr:
            sess.run(b, {a: np.ones((3, 3), np.float32)})
    n = len(TimelineView(tr).bars)
    assert n >= 2
    assert len(TimelineView(tr.timeline()).bars) == n
    assert len(TimelineView(tr.run_metadata[-1].step_stats).bars) == n
    with pytest.raises(TypeError, match="TimelineView needs a RunMetadata"):
        TimelineView(object())
    assert "step stats are empty" in TimelineView(tf.RunMetadata()).to_html()

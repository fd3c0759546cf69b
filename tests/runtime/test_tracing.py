"""FULL_TRACE step stats and Chrome-trace timelines."""

from __future__ import annotations

import json

import numpy as np

import labflow as tf
from labflow.client.timeline import Timeline


def _two_device_graph():
    x = tf.placeholder(tf.float32, [4, 4], name="x")
    with tf.device("/cpu:0"):
        a = tf.add(x, x, name="a")
    with tf.device("/cpu:1"):
        b = tf.reduce_sum(a, name="b")
    return x, b


def test_full_trace_fills_step_stats_for_every_node_and_device():
    x, b = _two_device_graph()
    md = tf.RunMetadata()
    opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        v = sess.run(b, {x: np.ones((4, 4))}, options=opts, run_metadata=md)
    assert v == 32.0
    devs = {ds.device: ds for ds in md.step_stats.dev_stats}
    assert set(devs) == {"/job:localhost/replica:0/task:0/device:CPU:0",
                         "/job:localhost/replica:0/task:0/device:CPU:1"}
    nodes = {ns.node_name: ns for ds in md.step_stats.dev_stats for ns in ds.node_stats}
    assert {"a", "b"} <= set(nodes)
    assert any("_send_" in n for n in nodes) and any("_recv_" in n for n in nodes)
    a = nodes["a"]
    assert a.all_start_micros > 1.6e15 and a.all_end_rel_micros >= 0 and a.thread_id > 0
    (out,) = a.output
    assert [d.size for d in out.tensor_description.shape.dim] == [4, 4]
    assert out.tensor_description.allocation_description.requested_bytes == 64
    assert a.timeline_label.startswith("a = Add(")


def test_tracing_off_uses_a_plan_without_timing_code():
    x, b = _two_device_graph()
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(b, {x: np.ones((4, 4))})
        sess.run(b, {x: np.ones((4, 4))}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                 run_metadata=tf.RunMetadata())
        plain, traced = sess._cache.values()
    assert all("_now" not in cp.source for cp in plain.partitions)
    assert all("_now" in cp.source for cp in traced.partitions)


def test_timeline_json_has_every_node_and_matched_flows():
    x, b = _two_device_graph()
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        with sess.trace() as tr:
            sess.run(b, {x: np.ones((4, 4))})
    stats = tr.run_metadata[-1].step_stats
    trace = json.loads(tr.timeline().generate_chrome_trace_format(show_dataflow=True, show_memory=True))
    ev = trace["traceEvents"]
    ops = [e for e in ev if e["ph"] == "X"]
    assert {e["args"]["name"] for e in ops} == {ns.node_name for ds in stats.dev_stats for ns in ds.node_stats}
    starts = {e["id"]: e for e in ev if e["ph"] == "s"}
    ends = {e["id"]: e for e in ev if e["ph"] == "f"}
    assert starts and set(starts) == set(ends)
    for i, s in starts.items():
        assert s["pid"] != ends[i]["pid"] and ends[i]["ts"] >= s["ts"]
    names = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
    assert names == {ds.device + " Compute" for ds in stats.dev_stats}
    assert any(e["ph"] == "C" for e in ev)
    totals = Timeline(stats).totals_by_op_type()
    assert "Add" in totals and totals["Add"]["count"] == 1


def test_trace_context_only_traces_inside():
    a = tf.constant(1.0)
    with tf.Session() as sess:
        with sess.trace() as tr:
            sess.run(a)
            sess.run(a)
        sess.run(a)
    assert len(tr.run_metadata) == 2

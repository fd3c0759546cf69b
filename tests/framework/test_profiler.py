"""tf.profiler (labflow.profiler): option presets, parameter and FLOP counts per name scope, traced run stats."""
import contextlib
import io

import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.profiler import ProfileOptionBuilder as B
from labflow.profiler import profile

QUIET = B(B.float_operation()).with_empty_output().build()


def _model():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [4, 3], name="x")
        with tf.variable_scope("dense"):
            w = tf.get_variable("w", [3, 5])
            b = tf.get_variable("b", [5])
            y = tf.nn.bias_add(tf.matmul(x, w), b)
        img = tf.placeholder(tf.float32, [2, 8, 8, 3], name="img")
        with tf.variable_scope("conv"):
            k = tf.get_variable("k", [3, 3, 3, 4])
            c = tf.nn.conv2d(img, k, [1, 1, 1, 1], "SAME")
        tf.add(tf.reduce_sum(y), tf.reduce_mean(c), name="loss")
        tf.Variable(tf.zeros([7]), trainable=False, name="not_trained")
    return g


def _text(opts):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        profile(_model(), options=B(opts).with_stdout_output().build())
    return buf.getvalue()


def _by_name(node, out=None):
    out = {} if out is None else out
    for c in node.children:
        out[c.name] = c
        _by_name(c, out)
    return out


def test_presets_and_builder():
    params = B.trainable_variables_parameter()
    assert params["account_type_regexes"] == ["_trainable_variables"] and params["select"] == ["params"]
    assert params["max_depth"] == 10000 and params["account_displayed_op_only"] is True
    flops = B.float_operation()
    assert (flops["min_float_ops"], flops["order_by"], flops["select"]) == (1, "float_ops", ["float_ops"])
    tm = B.time_and_memory(min_micros=5)
    assert (tm["min_micros"], tm["min_bytes"], tm["select"]) == (5, 1, ["micros", "bytes"])
    assert B().build()["max_depth"] == 100 and B().build()["select"] == ["micros"]
    built = (B(flops).with_max_depth(3).with_min_parameters(2).with_min_float_operations(9).select(["params"])
             .order_by("name").account_displayed_op_only(False).with_node_names(hide_name_regexes=["a.*"])
             .with_file_output("/tmp/x").build())
    assert (built["max_depth"], built["min_params"], built["min_float_ops"], built["select"], built["order_by"],
            built["account_displayed_op_only"], built["hide_name_regexes"], built["show_name_regexes"],
            built["output"]) == (3, 2, 9, ["params"], "name", False, ["a.*"], [".*"], "file:outfile=/tmp/x")
    assert B().with_empty_output().build()["output"] == "none"
    assert B().with_empty_output().with_stdout_output().build()["output"] == "stdout"
    assert flops == B.float_operation(), "build() must not share state with the preset it started from"


def test_trainable_parameters_by_scope(capsys):
    g = _model()
    r = profile(g, cmd="scope", options=B.trainable_variables_parameter())
    assert r.name == "_TFProfRoot" and r.total_parameters == 3 * 5 + 5 + 3 * 3 * 3 * 4
    assert [c.name for c in r.children] == ["conv", "dense"]
    nodes = _by_name(r)
    assert (nodes["conv"].parameters, nodes["conv"].total_parameters) == (0, 108)
    assert [c.name for c in nodes["dense"].children] == ["dense/b", "dense/w"]
    assert nodes["dense/w"].parameters == 15 and "not_trained" not in nodes
    # definitions count the displayed nodes, scope parents and the root included
    assert (r.total_definition_count, nodes["conv"].total_definition_count) == (6, 2)
    text = capsys.readouterr().out
    assert "_TFProfRoot (--/128 params)" in text and "    conv/k (3x3x3x4, 108/108 params)" in text


def test_default_graph_and_default_options(capsys):
    with _model().as_default():
        r = profile()
    assert r.total_parameters == 128 and "# parameters" in capsys.readouterr().out


def test_float_operations_match_registered_formulas(capsys):
    g = _model()
    r = profile(g, options=B(B.float_operation()).with_node_names(hide_name_regexes=[".*Initializer.*"]).build())
    nodes = _by_name(r)
    conv_out = 2 * 8 * 8 * 4
    expect = {"dense/MatMul": 2 * 3 * 4 * 5, "dense/BiasAdd": 4 * 5, "conv/Conv2D": 2 * conv_out * 3 * 3 * 3,
              "Sum": 20 - 1, "Mean": conv_out, "loss": 1}
    assert {n: nodes[n].float_ops for n in expect} == expect
    assert r.total_float_ops == sum(expect.values())
    # float_operation() orders by total FLOPs, largest first, and hides nodes without FLOPs
    assert [c.name for c in r.children][:2] == ["conv/Conv2D", "Mean"] and "x" not in nodes
    assert "conv/Conv2D (27.65k/27.65k flops)" in capsys.readouterr().out


def test_initializer_flops_nest_under_their_scope():
    r = profile(_model(), options=QUIET)
    init = _by_name(r)["dense/w/Initializer/random_uniform"]
    # random_uniform is itself an Add over the variable's 15 elements; its Mul (15) and Sub (1) nest under it
    assert (init.float_ops, init.total_float_ops, len(init.children)) == (15, 31, 2)


def test_unknown_shapes_count_nothing():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        tf.matmul(x, tf.placeholder(tf.float32, [3, 5]))
        tf.matmul(tf.placeholder(tf.float32, [2, 3]), tf.placeholder(tf.float32, [3, 5]), transpose_a=False)
    r = profile(g, options=QUIET)
    assert [(c.name, c.float_ops) for c in r.children] == [("MatMul_1", 2 * 3 * 2 * 5)]


def test_gradient_and_pooling_ops_are_counted():
    g = tf.Graph()
    with g.as_default():
        img = tf.placeholder(tf.float32, [2, 9, 9, 3])
        k = tf.placeholder(tf.float32, [3, 3, 3, 4])
        c = tf.nn.conv2d(img, k, [1, 2, 2, 1], "VALID")
        ap = tf.nn.avg_pool(img, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        mp = tf.nn.max_pool(img, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")
        loss = tf.reduce_sum(c) + tf.reduce_sum(ap) + tf.reduce_sum(mp)
        tf.gradients(loss, [img, k])
    by_type = {}
    for n in _by_name(profile(g, options=QUIET)).values():
        by_type.setdefault(g.get_operation_by_name(n.name).type, []).append(n.float_ops)
    backprop = 2 * 9 * 9 * 3 * 3 * 3 * 4 * 2 // (2 * 2)  # batch*h*w*kh*kw*in*out*2/strides (TF's formula)
    assert by_type["Conv2D"] == [2 * (2 * 4 * 4 * 4) * 3 * 3 * 3]
    assert by_type["Conv2DBackpropInput"] == [backprop] and by_type["Conv2DBackpropFilter"] == [backprop]
    assert by_type["AvgPool"] == [(2 * 4 * 4 * 3) * 4] and by_type["MaxPool"] == [(2 * 5 * 5 * 3) * 9]
    assert by_type["AvgPoolGrad"] == [2 * (2 * 4 * 4 * 3) * 4]
    assert by_type["MaxPoolGrad"] == [(2 * 5 * 5 * 3) * 9 + 2 * 5 * 5 * 3]


def test_node_filters_depth_and_totals():
    g = _model()
    params = B.trainable_variables_parameter()
    hidden = profile(g, options=B(params).with_node_names(hide_name_regexes=["dense/b"]).with_empty_output().build())
    assert hidden.total_parameters == 123 and "dense/b" not in _by_name(hidden)
    shallow = profile(g, options=B(params).with_max_depth(2).with_empty_output().build())
    assert [(c.name, c.total_parameters, len(c.children)) for c in shallow.children] == [("conv", 0, 0),
                                                                                         ("dense", 0, 0)]
    assert not profile(g, options=B(params).with_max_depth(1).with_empty_output().build()).children
    trimmed = profile(g, options=B(QUIET).with_node_names(trim_name_regexes=[".*random_uniform"],
                                                          show_name_regexes=["conv.*"]).build())
    assert [(c.name, c.total_float_ops) for c in trimmed.children] == [("conv/Conv2D", 27648),
                                                                       ("conv/k/Initializer/random_uniform", 108)]
    big = profile(g, options=B(params).with_min_parameters(20).with_empty_output().build())
    assert big.total_parameters == 108


def test_file_and_empty_output(tmp_path, capsys):
    path = tmp_path / "report.txt"
    profile(_model(), options=B(B.trainable_variables_parameter()).with_file_output(str(path)).build())
    assert "dense/w (3x5, 15/15 params)" in path.read_text() and capsys.readouterr().out == ""
    profile(_model(), options=QUIET)
    assert capsys.readouterr().out == ""


def test_time_and_memory_from_a_traced_run():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [20, 30])
        with tf.name_scope("layer"):
            y = tf.matmul(x, x, transpose_b=True)
        z = tf.reduce_sum(y)
        meta = tf.RunMetadata()
        with tf.Session() as s:
            s.run(z, feed_dict={x: np.ones((20, 30), np.float32)}, run_metadata=meta,
                  options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE))
    r = profile(g, run_meta=meta, options=B(B.time_and_memory(min_micros=0)).with_empty_output().build())
    layer = _by_name(r)["layer/MatMul"]
    assert layer.requested_bytes == 20 * 20 * 4 and layer.run_count == 1
    assert layer.exec_micros == layer.cpu_exec_micros and r.total_exec_micros >= layer.exec_micros
    assert r.total_requested_bytes >= 20 * 20 * 4 + 4
    # memory limits apply to a node's subtree: the op-less 'layer' scope shows, holding its MatMul
    scoped = profile(g, run_meta=meta, options=B(B.time_and_memory(min_micros=0, min_bytes=1)).with_empty_output()
                     .build())
    layer_scope = _by_name(scoped)["layer"]
    assert (layer_scope.requested_bytes, layer_scope.total_requested_bytes) == (0, 20 * 20 * 4)
    assert [c.name for c in layer_scope.children] == ["layer/MatMul"]


def test_errors():
    g = _model()
    with pytest.raises(errors.UnimplementedError, match="cmd='code'"):
        profile(g, cmd="code", options=QUIET)
    with pytest.raises(errors.InvalidArgumentError, match="order_by"):
        profile(g, options=B(QUIET).order_by("size").build())
    with pytest.raises(errors.InvalidArgumentError, match="select"):
        profile(g, options=B(QUIET).select(["flops"]).build())
    with pytest.raises(errors.UnimplementedError, match="timeline"):
        profile(g, options=B(QUIET).with_timeline_output("/tmp/t.json").build())
    with pytest.raises(errors.UnimplementedError, match="op_log"):
        profile(g, op_log=object(), options=QUIET)


def test_all_accounted_types_count_placeholders_as_tf_does():
    opts = B(B.trainable_variables_parameter()).with_accounted_types([".*"]).with_empty_output().build()
    nodes = _by_name(profile(_model(), options=opts))
    params = {name: n.parameters for name, n in nodes.items() if n.parameters}
    assert params == {"conv/k": 108, "dense/b": 5, "dense/w": 15, "img": 2 * 8 * 8 * 3, "not_trained": 7, "x": 12}
    unshown = B(opts).account_displayed_op_only(False).with_min_parameters(100).build()
    assert profile(_model(), options=unshown).total_parameters == 531
    assert "dense/w/Initializer (0/0 params)" in _text(opts)


def test_runtime_made_nodes_are_profiled():
    g = tf.Graph()
    with g.as_default():
        z = tf.reduce_sum(tf.constant(np.ones((3, 4), np.float32)))
        meta = tf.RunMetadata()
        with tf.Session() as s:
            s.run(z, run_metadata=meta, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE))
    traced = {ns.node_name for d in meta.step_stats.dev_stats for ns in d.node_stats}
    opts = B(B.time_and_memory(min_micros=0, min_bytes=0)).with_empty_output().build()
    nodes = _by_name(profile(g, run_meta=meta, options=opts))
    assert traced <= set(nodes) and all(nodes[n].run_count == 1 for n in traced)


def test_elementwise_reduction_and_batched_formulas():
    from labflow.profiler.flops import float_ops

    g = tf.Graph()
    with g.as_default():
        a = tf.placeholder(tf.float32, [4, 5])
        img = tf.placeholder(tf.float32, [2, 9, 9, 3])
        made = {"softmax": tf.nn.softmax(a), "l2": tf.nn.l2_loss(a), "rsqrt": tf.rsqrt(a),
                "sqdiff": tf.squared_difference(a, a), "argmax": tf.argmax(a, 1), "mean": tf.reduce_mean(a, 0),
                "bmm": tf.matmul(tf.zeros([2, 4, 3]), tf.zeros([2, 3, 5])), "addn": tf.add_n([a, a, a]),
                "div": a / 2.0, "greater": a > 1.0, "relu": tf.nn.relu(a), "exp": tf.exp(a),
                "depthwise": tf.nn.depthwise_conv2d(img, tf.placeholder(tf.float32, [3, 3, 3, 2]), [1, 1, 1, 1],
                                                    "SAME")}
    got = {k: float_ops(t.op) for k, t in made.items()}
    n = 20
    assert got == {"softmax": 5 * n, "l2": 3 * n - 1, "rsqrt": 2 * n, "sqdiff": 2 * n, "argmax": n - 4,
                   "mean": n, "bmm": 2 * 3 * (2 * 4 * 5), "addn": 2 * n, "div": n, "greater": n,
                   "relu": 0, "exp": 0, "depthwise": 2 * (2 * 9 * 9 * 6) * 3 * 3}

"""Rich reprs (no ipywidgets), the IPython integration, and safe notebook re-runs."""

from __future__ import annotations

import warnings

import pytest
from nbmodels import live_svg, mlp, traced_two_device_step
from test_graph_view import assert_offline

import labflow as tf
from labflow import notebook as nb
from labflow.notebook import repr as reprs
from labflow.notebook.rerun import GraphRerunWarning, find_duplicates


def test_tensor_and_operation_reprs_show_name_dtype_shape_op_device_and_site():
    x, _, loss, _, _ = mlp()
    h = reprs.tensor_html(tf.get_default_graph().get_tensor_by_name("layer1/MatMul:0"))
    assert "<b>Tensor</b>" in h and "layer1/MatMul:0" in h and "float32[?,100]" in h
    assert "MatMul" in h and "(any: chosen by the placer)" in h and "layer1/add" in h
    o = reprs.operation_html(loss.op)
    assert "<b>Operation</b>" in o and "softmax_cross_entropy_with_logits_sg:0 float32[?]" in o
    assert "attr keep_dims" in o and "nbmodels.py" in o and "reduce_mean" in o
    v = reprs.variable_html(tf.global_variables()[0])
    assert "<b>Variable</b>" in v and "layer1/W:0" in v and "layer1/W/Assign" in v


def test_session_and_run_metadata_reprs():
    sess, md, _ = traced_two_device_step()
    with sess:
        s = reprs.session_html(sess)
        assert "local (in-process)" in s and "CPU:0 (CPU), CPU:1 (CPU)" in s and "Send/Recv" in s
        assert "last step" in s and "ops (version" in s
    assert "closed" in reprs.session_html(sess)
    r = reprs.run_metadata_html(md)
    assert "<b>RunMetadata</b>" in r and "partition graphs" in r and 'class="lf-bar"' in live_svg(r)
    assert_offline(r)
    assert "empty (run with" in reprs.run_metadata_html(tf.RunMetadata())


def test_graph_repr_is_an_inline_graph_view():
    assert "empty" in reprs.graph_html(tf.get_default_graph())
    mlp()
    h = reprs.graph_html(tf.get_default_graph())
    assert 'class="lf-sc" data-scope="layer1"' in live_svg(h)
    assert "too many to draw" in reprs.graph_html(tf.get_default_graph(), max_ops=5)
    assert 'data-scope="layer1"' in live_svg(reprs.graph_def_html(tf.get_default_graph().as_graph_def()))


def test_install_reprs_replaces_the_plain_ones():
    from labflow.framework.tensor import Operation, Tensor
    saved = {c: c.__dict__.get("_repr_html_") for c in (Tensor, Operation, tf.Graph, tf.Session.__mro__[1],
                                                       tf.Variable)}
    try:
        nb.install_reprs()
        x = tf.placeholder(tf.float32, [2], name="x")
        assert "<b>Tensor</b>" in x._repr_html_()
        assert "<b>Operation</b>" in x.op._repr_html_()
        assert 'data-name="x"' in live_svg(tf.get_default_graph()._repr_html_())
        with tf.Session() as sess:
            assert "<b>Session</b>" in sess._repr_html_()
    finally:
        for c, f in saved.items():
            if f is None:
                c.__dict__.get("_repr_html_") and delattr(c, "_repr_html_")
            else:
                c._repr_html_ = f


def test_find_duplicates_matches_re_created_ops_only():
    def build():
        x = tf.placeholder(tf.float32, [2], name="x")
        with tf.name_scope("layer"):
            return tf.identity(x * 2.0, name="y")
    sizes = []
    for _ in range(2):  # the same stack of lines twice: a re-run
        build()
        sizes.append(len(tf.get_default_graph().get_operations()))
    n = sizes[0]
    ops2 = tf.get_default_graph().get_operations()
    dups = find_duplicates(ops2[:n], ops2[n:])
    assert ("x", "x_1") in dups and ("layer/y", "layer_1/y") in dups and len(dups) == len(ops2) - n
    tf.placeholder(tf.float32, [2], name="x")  # same name, another line: not a re-run
    ops3 = tf.get_default_graph().get_operations()
    assert find_duplicates(ops3[:-1], ops3[-1:]) == []


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    sh = InteractiveShell.instance()
    assert nb.install(sh)
    sh.run_cell("import labflow as tf")
    yield sh
    nb.unload_ipython_extension(sh)
    InteractiveShell.clear_instance()


CELL = "x = tf.placeholder(tf.float32, [None, 3], name='x')\ny = tf.nn.relu(x, name='y')\n"


def test_rerunning_a_cell_warns_that_the_graph_doubled(shell):
    with warnings.catch_warnings():
        warnings.simplefilter("error", GraphRerunWarning)
        assert shell.run_cell(CELL).success
    with pytest.warns(GraphRerunWarning, match=r"added 2 op\(s\).*'x' → 'x_1'.*%%labflow_graph"):
        shell.run_cell(CELL)
    nb.rerun_warnings(False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", GraphRerunWarning)
            shell.run_cell(CELL)
    finally:
        nb.rerun_warnings(True)


def test_labflow_graph_magic_rebuilds_instead_of_doubling(shell):
    with warnings.catch_warnings():
        warnings.simplefilter("error", GraphRerunWarning)
        for _ in range(2):
            assert shell.run_cell("%%labflow_graph\n" + CELL).success
    names = [o.name for o in tf.get_default_graph().get_operations()]
    assert names == ["x", "y"]
    assert shell.run_cell("%%labflow_graph g2\n" + CELL.replace("'y'", "'z'")).success
    g2 = shell.user_ns["g2"]
    assert [o.name for o in g2.get_operations()] == ["x", "z"]
    assert [o.name for o in tf.get_default_graph().get_operations()] == ["x", "y"]
    assert not shell.run_cell("%%labflow_graph not-a-name\n" + CELL).success
    failed = shell.run_cell("%%labflow_graph\nraise KeyError('boom')")
    assert not failed.success and type(failed.error_in_exec).__name__ == "_CellFailed"
    shell.run_cell("%labflow_reset")
    assert tf.get_default_graph().get_operations() == []


def test_ipython_formatters_display_protobuf_results(shell):
    _, md, _ = traced_two_device_step()
    fmt = shell.display_formatter.formatters["text/html"]
    assert "<b>RunMetadata</b>" in fmt(md)
    assert 'class="lf-bar"' in live_svg(fmt(md.step_stats))
    assert "<svg" in live_svg(fmt(tf.get_default_graph().as_graph_def()))


def test_reset_closes_the_interactive_session_and_clears_the_graph():
    tf.placeholder(tf.float32, name="x")
    s = tf.InteractiveSession()
    assert tf.get_default_session() is s
    g = nb.reset()
    assert tf.get_default_session() is None and s._closed
    assert g is tf.get_default_graph() and g.get_operations() == []


def test_fresh_graph_context():
    tf.placeholder(tf.float32, name="outside")
    outer = tf.get_default_graph()
    for _ in range(2):
        with nb.fresh_graph() as g:
            tf.placeholder(tf.float32, name="x")
        assert [o.name for o in g.get_operations()] == ["x"]
    assert tf.get_default_graph() is outer and len(outer.get_operations()) == 1
    assert nb.install(object()) is False

"""tf.train.ExponentialMovingAverage and assign_moving_average: values against NumPy, TF's names, the
CIFAR-10 pattern (averages under a control dependency on the train op), restoring averages."""

import numpy as np
import pytest

import labflow as tf
from labflow.train.moving_averages import assign_moving_average


def test_assign_moving_average_without_debias():
    tf.reset_default_graph()
    v = tf.Variable([1.0, 2.0])
    x = tf.placeholder(tf.float32, [2])
    upd = assign_moving_average(v, x, 0.9, zero_debias=False)
    assert upd.op.type == "AssignSub"
    assert upd.op.name == "AssignMovingAvg"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        want = np.array([1.0, 2.0])
        for val in ([3.0, -1.0], [0.0, 5.0]):
            sess.run(upd, {x: val})
            want = 0.9 * want + 0.1 * np.array(val)
        np.testing.assert_allclose(sess.run(v), want, rtol=1e-6)


def test_assign_moving_average_zero_debias_is_unbiased():
    tf.reset_default_graph()
    v = tf.Variable([0.0, 0.0], name="avg")
    x = tf.placeholder(tf.float32, [2])
    upd = assign_moving_average(v, x, 0.8)
    names = sorted(g.op.name for g in tf.global_variables())
    assert names == ["avg", "avg/biased", "avg/local_step"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        biased = np.zeros(2)
        for t, val in enumerate(([4.0, 2.0], [1.0, 1.0], [2.0, 8.0]), start=1):
            got = sess.run(upd, {x: val})
            biased = 0.8 * biased + 0.2 * np.array(val)
            np.testing.assert_allclose(got, biased / (1 - 0.8 ** t), rtol=1e-5)
        # The first debiased average is the first value itself.


def test_ema_names_values_and_num_updates():
    tf.reset_default_graph()
    w = tf.Variable([1.0, 2.0], name="W")
    b = tf.Variable(3.0, name="b")
    step = tf.Variable(0, name="step", trainable=False)
    ema = tf.train.ExponentialMovingAverage(0.99, num_updates=step)
    op = ema.apply([w, b])
    assert op.name == "ExponentialMovingAverage" and op.type == "NoOp"
    assert ema.average(w).op.name == "W/ExponentialMovingAverage"
    assert ema.average_name(b) == "b/ExponentialMovingAverage"
    assert ema.average(step) is None
    assert ema.name == "ExponentialMovingAverage"
    assert tf.get_collection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES) == [w, b]
    assert not ema.average(w).trainable
    assert ema.average(w).op.colocation_groups() == w.op.colocation_groups()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(ema.average(w)), [1.0, 2.0])  # starts at the initial value
        avg = np.array([1.0, 2.0])
        for n, val in enumerate(([3.0, 0.0], [5.0, 1.0]), start=0):
            sess.run([w.assign(val), step.assign(n)])
            sess.run(op)
            decay = min(0.99, (1.0 + n) / (10.0 + n))
            avg = decay * avg + (1 - decay) * np.array(val)
            np.testing.assert_allclose(sess.run(ema.average(w)), avg, rtol=1e-6)


def test_ema_of_tensors_starts_at_zero_and_debiases():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [], name="loss")
    plain = tf.train.ExponentialMovingAverage(0.9, name="avg")
    debiased = tf.train.ExponentialMovingAverage(0.9, zero_debias=True, name="davg")
    ops = [plain.apply([x]), debiased.apply([x])]
    assert plain.average(x).op.name == "loss/avg"
    assert tf.get_collection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES) == []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(ops, {x: 5.0})
        assert sess.run(plain.average(x)) == pytest.approx(0.5)
        assert sess.run(debiased.average(x)) == pytest.approx(5.0)


def test_cifar10_pattern_and_restoring_averages(tmp_path):
    tf.reset_default_graph()
    w = tf.Variable([2.0, -1.0], name="weights")
    loss = tf.reduce_sum(tf.square(w))
    global_step = tf.train.get_or_create_global_step()
    apply_gradient_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=global_step)
    ema = tf.train.ExponentialMovingAverage(0.5, global_step)
    with tf.control_dependencies([apply_gradient_op]):
        variables_averages_op = ema.apply(tf.trainable_variables())
    with tf.control_dependencies([apply_gradient_op, variables_averages_op]):
        train_op = tf.no_op(name="train")
    # The shadow's initializer must not depend on the train op (TF's init_scope).
    assert not ema.average(w).initializer.control_inputs
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        want_w, want_avg = np.array([2.0, -1.0]), np.array([2.0, -1.0])
        for n in range(3):
            sess.run(train_op)
            want_w = want_w - 0.1 * 2 * want_w
            decay = min(0.5, (1.0 + n + 1) / (10.0 + n + 1))  # the step is incremented before the average
            want_avg = decay * want_avg + (1 - decay) * want_w
        np.testing.assert_allclose(sess.run(w), want_w, rtol=1e-6)
        np.testing.assert_allclose(sess.run(ema.average(w)), want_avg, rtol=1e-6)
        path = saver.save(sess, str(tmp_path / "model"))

    tf.reset_default_graph()
    w2 = tf.Variable([0.0, 0.0], name="weights")
    ema2 = tf.train.ExponentialMovingAverage(0.5)
    to_restore = ema2.variables_to_restore()
    assert to_restore == {"weights/ExponentialMovingAverage": w2}
    with tf.Session() as sess:
        tf.train.Saver(to_restore).restore(sess, path)
        np.testing.assert_allclose(sess.run(w2), want_avg, rtol=1e-6)


def test_variables_to_restore_keeps_unaveraged_variables():
    tf.reset_default_graph()
    a = tf.Variable(1.0, name="a")
    gs = tf.Variable(0, name="global_step", trainable=False)
    ema = tf.train.ExponentialMovingAverage(0.9)
    ema.apply([a])
    got = ema.variables_to_restore()
    assert got["a/ExponentialMovingAverage"] is a
    assert got["global_step"] is gs
    assert len(got) == 2  # the shadow's own name now restores `a`, so the shadow is not listed twice
    assert got == ema.variables_to_restore([a])


def test_apply_twice_reuses_shadows_and_rejects_integers():
    tf.reset_default_graph()
    a = tf.Variable(1.0, name="a")
    ema = tf.train.ExponentialMovingAverage(0.9)
    ema.apply([a])
    shadow = ema.average(a)
    ema.apply([a])
    assert ema.average(a) is shadow
    assert len(tf.global_variables()) == 2
    with pytest.raises(TypeError, match="must be half, float, or double"):
        ema.apply([tf.Variable(1, name="i")])

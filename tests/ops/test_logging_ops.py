"""tf.Assert's and tf.Print's messages look like TF's: every value in brackets, arrays cut to `summarize`."""

import numpy as np
import pytest

import labflow as tf


def test_assert_message_brackets_every_value():
    x = tf.placeholder(tf.int32)
    check = tf.Assert(tf.reduce_all(x > 0), ["x must be positive", x], summarize=3)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            sess.run(check, {x: [1, -2, 3, 4]})
    assert "assertion failed: [x must be positive] [1 -2 3...]" in info.value.message


def test_print_concatenates_bracketed_values(capfd):
    x = tf.constant([1, 2, 3])
    p = tf.Print(x, ["hello", x, tf.constant(5)], message="m:")
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(p), [1, 2, 3])
    assert "m:[hello][1 2 3][5]" in capfd.readouterr().err

"""Test helper: every element an iterator still yields."""

import labflow as tf


def drain(sess, nxt, limit=1000):
    """Runs `nxt` until OutOfRangeError (at most `limit` times) and returns the elements."""
    out = []
    try:
        while len(out) < limit:
            out.append(sess.run(nxt))
    except tf.errors.OutOfRangeError:
        pass
    return out

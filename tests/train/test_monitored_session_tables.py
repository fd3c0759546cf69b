"""MonitoredTrainingSession initializes lookup tables with the local variables, as TF's Scaffold does."""

import labflow as tf


def test_monitored_session_initializes_tables(tmp_path):
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()
        table = tf.contrib.lookup.index_table_from_tensor(tf.constant(["a", "b", "c"]), num_oov_buckets=1)
        ids = table.lookup(tf.constant(["c", "a", "zzz"]))
        with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path)) as sess:
            got = sess.run(ids)
    assert got[:2].tolist() == [2, 0]
    assert got[2] == 3  # the one out-of-vocabulary bucket

"""FileWriter: event files that TensorBoard's own reader reads back, and the writer thread's guarantees."""

from __future__ import annotations

import glob
import os
import re
import socket
import struct
import time

import numpy as np
import pytest

import labflow as tf
from labflow import summary as S
from labflow.framework.protos import config_pb2, event_pb2
from labflow.summary import event_file_writer as efw

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader  # noqa: E402

ALL = {k: 0 for k in ("compressedHistograms", "images", "audio", "scalars", "histograms", "tensors")}


def _acc(path):
    acc = EventAccumulator(str(path), size_guidance=ALL)
    acc.Reload()
    return acc


def _events(path):
    """Every event TensorBoard's loader reads from one file, as written (it stops at the first bad record)."""
    return list(LegacyEventFileLoader(str(path)).Load())


def _event_file(logdir):
    (f,) = glob.glob(os.path.join(str(logdir), "events.out.tfevents.*"))
    return f


def _wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


# -- the record format ------------------------------------------------------------------------------
def test_crc32c_known_answer_and_framing():
    assert efw.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)
    rec = efw.encode_record(b"abc")
    assert struct.unpack("<Q", rec[:8])[0] == 3 and rec[12:15] == b"abc" and len(rec) == 19


def test_import_labflow_does_not_load_the_crc_library():
    import subprocess
    import sys
    code = "import sys, labflow, labflow.summary; print('google_crc32c' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_file_name_and_first_event(tmp_path):
    t0 = time.time()
    with S.FileWriter(str(tmp_path / "run"), filename_suffix=".v2") as w:
        assert w.get_logdir() == str(tmp_path / "run")
    name = os.path.basename(_event_file(tmp_path / "run"))
    m = re.fullmatch(r"events\.out\.tfevents\.(\d{10})\.(.+)\.v2", name)
    assert m and m.group(2) == socket.gethostname() and abs(int(m.group(1)) - t0) < 5
    (first,) = _events(_event_file(tmp_path / "run"))
    assert first.file_version == "brain.Event:2" and first.wall_time >= int(t0)


def test_two_writers_in_the_same_second_get_two_files(tmp_path):
    a, b = S.FileWriter(str(tmp_path)), S.FileWriter(str(tmp_path))
    a.close()
    b.close()
    assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 2


# -- TensorBoard reads every kind of summary ---------------------------------------------------------
def test_tensorboard_reads_scalars_histograms_images_audio_text_and_graph(tmp_path):
    rs = np.random.RandomState(0)
    x = tf.placeholder(tf.float32, [], name="x")
    data = rs.randn(500).astype(np.float32)
    with tf.name_scope("train"):
        S.scalar("loss", x)
    S.histogram("weights", tf.constant(data))
    imgs = rs.randint(0, 256, (2, 6, 5, 3)).astype(np.uint8)
    S.image("input", tf.constant(imgs))
    S.audio("sound", tf.constant(rs.uniform(-1, 1, (1, 80, 2)).astype(np.float32)), 8000)
    S.text("notes", tf.constant("**bold** text"))
    merged = S.merge_all()
    t0 = time.time()
    with tf.Session() as sess, S.FileWriter(str(tmp_path), sess.graph) as w:
        for step in range(3):
            w.add_summary(sess.run(merged, {x: 10.0 - step}), global_step=step)
    t1 = time.time()
    acc = _acc(tmp_path)

    scalars = acc.Scalars("train/loss")
    assert [(e.step, e.value) for e in scalars] == [(0, 10.0), (1, 9.0), (2, 8.0)]
    assert all(t0 <= e.wall_time <= t1 for e in scalars)

    h = acc.Histograms("weights")[0].histogram_value
    assert (h.min, h.max, h.num) == (data.min(), data.max(), 500)
    assert h.sum == pytest.approx(data.astype(np.float64).sum(), rel=1e-9)
    assert sum(h.bucket) == 500 and len(h.bucket) == len(h.bucket_limit)
    lim = np.array(h.bucket_limit)
    counts = np.histogram(data.astype(np.float64), bins=np.concatenate([[-np.inf], lim]))[0]
    np.testing.assert_array_equal(counts, h.bucket)

    assert acc.Tags()["images"] == ["input/image/0", "input/image/1"]
    im = acc.Images("input/image/1")[2]
    assert (im.width, im.height, im.step) == (5, 6, 2)
    png = im.encoded_image_string
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (5, 6)

    au = acc.Audio("sound/audio/0")[0]
    assert (au.content_type, au.sample_rate, au.length_frames) == ("audio/wav", 8000.0, 80)
    assert au.encoded_audio_string[:4] == b"RIFF" and au.encoded_audio_string[8:12] == b"WAVE"

    assert acc.PluginTagToContent("text") == {"notes": b""}
    assert [e.tensor_proto.string_val for e in acc.Tensors("notes")] == [[b"**bold** text"]] * 3

    graph = acc.Graph()
    assert [n.name for n in graph.node] == [op.name for op in sess.graph.get_operations()]
    assert any(n.op == "ScalarSummary" and "_output_shapes" in n.attr for n in graph.node)
    assert acc.MetaGraph().graph_def.node[0].name == graph.node[0].name


def test_metadata_is_written_once_per_tag(tmp_path):
    t = S.text("notes", "hi")
    with tf.Session() as sess, S.FileWriter(str(tmp_path)) as w:
        for i in range(3):
            w.add_summary(sess.run(t), i)
    summaries = [e.summary for e in _events(_event_file(tmp_path)) if e.HasField("summary")]
    assert [v.value[0].HasField("metadata") for v in summaries] == [True, False, False]


def test_add_summary_takes_protos_bytes_and_fetched_values(tmp_path):
    s = S.Summary(value=[S.Summary.Value(tag="a", simple_value=1.0)])
    with S.FileWriter(str(tmp_path)) as w:
        w.add_summary(s, 1)
        w.add_summary(s.SerializeToString(), np.int64(2))
        w.add_summary(np.array(s.SerializeToString(), dtype=object), np.array(3))
        with pytest.raises(TypeError, match="Summary"):
            w.add_summary(3.0)
        with pytest.raises(ValueError, match="not a serialized Summary"):
            w.add_summary(b"\xff\xff\xff")
    assert [e.step for e in _acc(tmp_path).Scalars("a")] == [1, 2, 3]


def test_session_log_run_metadata_and_raw_events(tmp_path):
    md = config_pb2.RunMetadata()
    md.step_stats.dev_stats.add(device="/cpu:0")
    with S.FileWriter(str(tmp_path)) as w:
        w.add_session_log(S.SessionLog(status=S.SessionLog.START), 0)
        w.add_run_metadata(md, "step0", global_step=0)
        with pytest.raises(ValueError, match="already used"):
            w.add_run_metadata(md, "step0")
        w.add_event(event_pb2.Event(wall_time=123.0, step=9, file_version="custom"))
    acc = _acc(tmp_path)
    got = acc.RunMetadata("step0")
    assert got.step_stats.dev_stats[0].device == "/cpu:0"
    evs = _events(_event_file(tmp_path))
    assert evs[1].session_log.status == S.SessionLog.START
    assert (evs[-1].wall_time, evs[-1].step, evs[-1].file_version) == (123.0, 9, "custom")


def test_add_graph_checks_its_arguments(tmp_path):
    g = tf.Graph()
    with g.as_default():
        tf.constant(1.0, name="c")
    with S.FileWriter(str(tmp_path)) as w:
        with pytest.raises(ValueError, match="not both"):
            w.add_graph(g, graph_def=g.as_graph_def())
        with pytest.raises(TypeError, match="Graph"):
            w.add_graph("graph")
        w.add_graph(None, graph_def=g.as_graph_def())  # deprecated, still written
        w.add_graph(g, global_step=3)
    assert [n.name for n in _acc(tmp_path).Graph().node] == ["c"]
    graphs = [e for e in _events(_event_file(tmp_path)) if e.HasField("graph_def")]
    assert len(graphs) == 2 and graphs[1].step == 3


# -- a training loop ---------------------------------------------------------------------------------
def test_training_loop_with_merge_all(tmp_path):
    rs = np.random.RandomState(1)
    xs = rs.randn(64, 3).astype(np.float32)
    ys = xs @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, 1])
    w = tf.Variable(tf.zeros([3, 1]), name="w")
    b = tf.Variable(tf.zeros([1]), name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    S.scalar("loss", loss)
    S.histogram("w", w)  # the scope "w" is the variable's: the tag becomes "w_1", as in TF
    merged = S.merge_all()
    steps = 30
    with tf.Session() as sess, S.FileWriter(str(tmp_path / "train"), sess.graph) as writer:
        sess.run(tf.global_variables_initializer())
        for i in range(steps):
            summ, _ = sess.run([merged, train], {x: xs, y: ys})
            writer.add_summary(summ, i)
    acc = _acc(tmp_path / "train")
    losses = acc.Scalars("loss")
    assert [e.step for e in losses] == list(range(steps))
    assert losses[-1].value < 0.1 * losses[0].value
    assert [e.histogram_value.num for e in acc.Histograms("w_1")] == [3.0] * steps


# -- the writer thread ---------------------------------------------------------------------------------
def _scalar_events(path):
    return [e for e in _events(path) if e.HasField("summary")]


def _summary(v):
    return S.Summary(value=[S.Summary.Value(tag="v", simple_value=v)])


def test_thread_flushes_every_flush_secs(tmp_path):
    w = S.FileWriter(str(tmp_path), max_queue=1000, flush_secs=0.2)
    try:
        w.add_summary(_summary(1.0), 1)
        path = _event_file(tmp_path)
        assert _wait_for(lambda: len(_scalar_events(path)) == 1), "the thread never flushed"
    finally:
        w.close()


def test_flush_secs_zero_flushes_every_event(tmp_path):
    w = S.FileWriter(str(tmp_path), max_queue=1000, flush_secs=0)
    try:
        for i in range(2):
            w.add_summary(_summary(float(i)), i)
        path = _event_file(tmp_path)
        assert _wait_for(lambda: len(_scalar_events(path)) == 2)
        with pytest.raises(TypeError, match="Event"):
            w.add_event("not an event")
    finally:
        w.close()


def test_thread_flushes_after_max_queue_events(tmp_path):
    w = S.FileWriter(str(tmp_path), max_queue=3, flush_secs=1000)
    try:
        for i in range(3):
            w.add_summary(_summary(float(i)), i)
        path = _event_file(tmp_path)
        assert _wait_for(lambda: len(_scalar_events(path)) == 3)
    finally:
        w.close()


def test_close_drains_the_queue_and_reopen_starts_a_new_file(tmp_path):
    w = S.FileWriter(str(tmp_path), max_queue=5, flush_secs=1000)
    for i in range(300):
        w.add_summary(_summary(float(i)), i)
    w.close()
    first = _event_file(tmp_path)
    assert [e.step for e in _scalar_events(first)] == list(range(300))
    with pytest.warns(UserWarning, match="closed FileWriter"):
        w.add_summary(_summary(-1.0), 999)
    w.close()  # closing twice is fine
    time.sleep(1.05)  # a new second: the reopened file sorts after the first, as TensorBoard reads them
    w.reopen()
    w.add_summary(_summary(7.0), 1000)
    w.close()
    files = sorted(glob.glob(str(tmp_path / "events.out.tfevents.*")))
    assert len(files) == 2 and files[0] == first
    assert [e.step for e in _scalar_events(files[1])] == [1000]
    assert [e.step for e in _acc(tmp_path).Scalars("v")][-2:] == [299, 1000]


def test_flush_writes_everything_added(tmp_path):
    w = S.FileWriter(str(tmp_path), max_queue=1000, flush_secs=1000)
    try:
        for i in range(50):
            w.add_summary(_summary(float(i)), i)
        w.flush()
        assert len(_scalar_events(_event_file(tmp_path))) == 50
    finally:
        w.close()


class _FailingFile:
    def __init__(self, f):
        self.f = f
        self.closed = False

    def write(self, data):
        raise OSError(28, "No space left on device")

    def flush(self):
        self.f.flush()

    def close(self):
        self.closed = True
        self.f.close()


def test_writer_thread_errors_surface_on_the_next_call(tmp_path):
    w = S.FileWriter(str(tmp_path), flush_secs=1000)
    ew = w.event_writer
    w.flush()
    ew._worker.f = ew._file = _FailingFile(ew._file)
    w.add_summary(_summary(1.0), 1)  # queued: the failure happens in the thread
    with pytest.raises(OSError, match="No space left"):
        w.flush()
    assert ew.closed
    w.close()  # already closed: no second error


def test_add_blocks_on_a_full_queue_but_never_deadlocks_after_an_error(tmp_path):
    w = S.FileWriter(str(tmp_path), max_queue=2, flush_secs=1000)
    w.event_writer._worker.f = w.event_writer._file = _FailingFile(w.event_writer._file)
    with pytest.raises(OSError):
        for i in range(100):
            w.add_summary(_summary(float(i)), i)
        w.close()


# -- damaged files -----------------------------------------------------------------------------------
def _write_steps(logdir, n):
    with S.FileWriter(str(logdir)) as w:
        for i in range(n):
            w.add_summary(_summary(float(i)), i)
    return _event_file(logdir)


def _record_offsets(path):
    data = open(path, "rb").read()
    offs, pos = [], 0
    while pos < len(data):
        offs.append(pos)
        pos += 16 + struct.unpack("<Q", data[pos:pos + 8])[0]
    assert pos == len(data)
    return offs


@pytest.mark.parametrize("cut", ["header", "data", "crc"])
def test_truncated_file_is_read_up_to_the_cut(tmp_path, cut):
    path = _write_steps(tmp_path, 10)
    offs = _record_offsets(path)
    start = offs[8]  # record 8 is step 7 (record 0 is the file_version event)
    end = {"header": start + 5, "data": start + 20, "crc": offs[9] - 2}[cut]
    with open(path, "r+b") as f:
        f.truncate(end)
    assert [e.step for e in _acc(tmp_path).Scalars("v")] == list(range(7))


def test_corrupted_record_stops_the_reader_there(tmp_path):
    path = _write_steps(tmp_path, 10)
    offs = _record_offsets(path)
    with open(path, "r+b") as f:
        f.seek(offs[5] + 14)  # inside the data of record 5 (step 4): its CRC no longer matches
        b = f.read(1)
        f.seek(offs[5] + 14)
        f.write(bytes([b[0] ^ 0xFF]))
    assert [e.step for e in _scalar_events(path)] == [0, 1, 2, 3]


# -- FileWriterCache -----------------------------------------------------------------------------------
def test_file_writer_cache(tmp_path):
    tf.constant(1.0, name="in_default_graph")
    a = S.FileWriterCache.get(str(tmp_path / "a"))
    assert S.FileWriterCache.get(str(tmp_path / "a")) is a
    b = S.FileWriterCache.get(str(tmp_path / "b"))
    assert b is not a
    S.FileWriterCache.clear()
    assert a.event_writer.closed and b.event_writer.closed
    assert S.FileWriterCache.get(str(tmp_path / "a")) is not a
    S.FileWriterCache.clear()
    assert [n.name for n in _acc(tmp_path / "a").Graph().node] == ["in_default_graph"]


# -- reading back with labflow's own iterator ------------------------------------------------------------
def test_summary_iterator_reads_what_tensorboard_reads(tmp_path):
    path = _write_steps(tmp_path, 5)
    ours = list(S.summary_iterator(path))
    assert ours[0].file_version == "brain.Event:2"
    assert [e.SerializeToString() for e in ours] == [e.SerializeToString() for e in _events(path)]
    assert [(e.step, e.summary.value[0].simple_value) for e in ours[1:]] == [(i, float(i)) for i in range(5)]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_summary_iterator_raises_data_loss_after_the_good_records(tmp_path, damage):
    path = _write_steps(tmp_path, 5)
    offs = _record_offsets(path)
    with open(path, "r+b") as f:
        if damage == "truncate":
            f.truncate(offs[4] + 3)
        else:
            f.seek(offs[4] + 13)
            b = f.read(1)
            f.seek(offs[4] + 13)
            f.write(bytes([b[0] ^ 1]))
    it = S.summary_iterator(path)
    assert [next(it).step for _ in range(4)] == [0, 0, 1, 2]
    with pytest.raises(tf.errors.DataLossError, match="truncated" if damage == "truncate" else "CRC"):
        next(it)

"""DeviceSpec parsing, printing and merging (TF 1.x `tf.DeviceSpec`)."""

from __future__ import annotations

import pytest

import labflow as tf
from labflow.framework.device_spec import canonical_name, merge_device


@pytest.mark.parametrize("text, fields", [
    ("", (None, None, None, None, None)),
    ("/cpu:0", (None, None, None, "CPU", 0)),
    ("/CPU:1", (None, None, None, "CPU", 1)),
    ("/gpu:*", (None, None, None, "GPU", None)),
    ("/device:GPU:1", (None, None, None, "GPU", 1)),
    ("/device:gpu:1", (None, None, None, "GPU", 1)),
    ("/job:ps/task:0", ("ps", None, 0, None, None)),
    ("/job:worker/replica:0/task:1/device:GPU:0", ("worker", 0, 1, "GPU", 0)),
    ("job:worker/task:3/cpu", ("worker", None, 3, "CPU", None)),
])
def test_from_string(text, fields):
    d = tf.DeviceSpec.from_string(text)
    assert (d.job, d.replica, d.task, d.device_type, d.device_index) == fields


@pytest.mark.parametrize("bad, msg", [
    ("/jobs:ps", "Unknown attribute: 'jobs'"),
    ("/foo:1", "Unknown attribute: 'foo'"),
    ("/device:GPU", "Unknown attribute: 'device'"),
    ("/cpu:0/gpu:0", "Cannot specify multiple device types"),
    ("/task:x", "task must be an integer"),
    ("/gpu:one", "index must be an integer"),
])
def test_malformed(bad, msg):
    with pytest.raises(ValueError, match=msg):
        tf.DeviceSpec.from_string(bad)


def test_to_string_is_canonical():
    assert tf.DeviceSpec.from_string("/job:w/task:1/gpu:0").to_string() == "/job:w/task:1/device:GPU:0"
    assert tf.DeviceSpec(device_type="gpu").to_string() == "/device:GPU:*"
    assert tf.DeviceSpec(job="ps", replica=0, task=2).to_string() == "/job:ps/replica:0/task:2"
    assert str(tf.DeviceSpec(device_type="CPU", device_index=0)) == "/device:CPU:0"
    assert tf.DeviceSpec().to_string() == ""
    assert canonical_name("/cpu:0") == "/device:CPU:0" and canonical_name(None) == ""


def test_merge_from_inner_wins():
    d = tf.DeviceSpec.from_string("/job:worker/task:1/gpu:0")
    d.merge_from(tf.DeviceSpec.from_string("/job:ps/cpu:1"))
    assert d.to_string() == "/job:ps/task:1/device:CPU:1"
    a = tf.DeviceSpec.from_string("/job:worker")
    b = a.make_merged_spec(tf.DeviceSpec.from_string("/task:2"))
    assert b.to_string() == "/job:worker/task:2" and a.to_string() == "/job:worker"
    assert merge_device("/job:worker", "/gpu:0") == "/job:worker/device:GPU:0"
    assert merge_device("", "/gpu:0") == "/device:GPU:0" and merge_device("/cpu:0", "") == "/device:CPU:0"


def test_parse_from_string_replaces_fields():
    d = tf.DeviceSpec(job="a", task=1)
    assert d.parse_from_string("/gpu:2") is d
    assert d.to_string() == "/device:GPU:2"


def test_equality_hash_copy_replace():
    a = tf.DeviceSpec.from_string("/job:ps/task:0")
    b = tf.DeviceSpec(job="ps", task=0)
    assert a == b and hash(a) == hash(b) and a != tf.DeviceSpec(job="ps")
    c = a.copy()
    c.task = 5
    assert a.task == 0
    assert a.replace(task=3).to_string() == "/job:ps/task:3"
    with pytest.raises(TypeError):
        a.replace(bogus=1)


def test_matches():
    full = tf.DeviceSpec.from_string("/job:localhost/replica:0/task:0/device:GPU:1")
    assert tf.DeviceSpec.from_string("/gpu:1").matches(full)
    assert tf.DeviceSpec.from_string("/job:localhost").matches(full)
    assert not tf.DeviceSpec.from_string("/cpu:0").matches(full)


def test_integer_fields_validated():
    with pytest.raises(ValueError):
        tf.DeviceSpec(task="x")
    with pytest.raises(ValueError):
        tf.DeviceSpec(replica=-1)

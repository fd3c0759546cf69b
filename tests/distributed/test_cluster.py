"""ClusterSpec (TF 1.x semantics) and TF_CONFIG parsing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from labflow.distributed import ClusterSpec, cluster_from_tf_config, is_chief_task
from labflow.framework.protos import cluster_pb2


def test_lists_and_properties():
    spec = ClusterSpec({"ps": ["ps0:2222", "ps1:2222"], "worker": ["w0:2222", "w1:2222", "w2:2222"]})
    assert spec.jobs == ["ps", "worker"]
    assert spec.num_tasks("ps") == 2 and spec.num_tasks("worker") == 3
    assert spec.task_indices("worker") == [0, 1, 2]
    assert spec.task_address("worker", 1) == "w1:2222"
    assert spec.job_tasks("ps") == ["ps0:2222", "ps1:2222"]
    assert spec.as_dict() == {"ps": ["ps0:2222", "ps1:2222"], "worker": ["w0:2222", "w1:2222", "w2:2222"]}
    assert bool(spec) and not ClusterSpec({})


def test_sparse_dict_jobs():
    spec = ClusterSpec({"worker": {1: "w1:2222", 3: "w3:2222"}, "ps": {"0": "ps0:2222"}})
    assert spec.task_indices("worker") == [1, 3]
    assert spec.num_tasks("worker") == 2
    assert spec.job_tasks("worker") == [None, "w1:2222", None, "w3:2222"]
    # Dense from 0 comes back as a list (even when given as a dict); sparse stays a dict.
    assert spec.as_dict() == {"worker": {1: "w1:2222", 3: "w3:2222"}, "ps": ["ps0:2222"]}
    assert ClusterSpec({"w": {0: "a", 1: "b"}}).as_dict() == {"w": ["a", "b"]}
    assert ClusterSpec({"w": {}}).as_dict() == {"w": {}}
    assert ClusterSpec({"w": {}}).job_tasks("w") == []


def test_as_cluster_def_sorted_and_round_trips():
    spec = ClusterSpec({"worker": ["w0", "w1"], "ps": {2: "p2"}})
    cdef = spec.as_cluster_def()
    assert isinstance(cdef, cluster_pb2.ClusterDef)
    assert [j.name for j in cdef.job] == ["ps", "worker"]
    assert dict(cdef.job[0].tasks) == {2: "p2"}
    assert dict(cdef.job[1].tasks) == {0: "w0", 1: "w1"}
    wire = cluster_pb2.ClusterDef.FromString(cdef.SerializeToString())
    assert ClusterSpec(wire) == spec
    assert ClusterSpec(spec) == spec
    assert ClusterSpec(spec.as_dict()) == spec
    assert ClusterSpec(spec).as_cluster_def() is not cdef  # a copy, not shared


def test_equality_and_repr():
    a = ClusterSpec({"worker": ["w0", "w1"]})
    assert a == ClusterSpec({"worker": {0: "w0", 1: "w1"}})
    assert a == {"worker": ["w0", "w1"]}
    assert a != ClusterSpec({"worker": ["w0"]})
    assert a != {"worker": 3}
    assert a != "worker"
    assert repr(ClusterSpec({"worker": {1: "w1"}, "ps": ["p0"]})) == \
        "ClusterSpec({'ps': ['p0'], 'worker': {1: 'w1'}})"
    with pytest.raises(TypeError):
        hash(a)


def test_bytes_names_and_addresses():
    spec = ClusterSpec({b"worker": [b"w0:1"]})
    assert spec.jobs == ["worker"] and spec.task_address("worker", 0) == "w0:1"


def test_errors_match_tf():
    spec = ClusterSpec({"worker": ["w0"]})
    with pytest.raises(ValueError, match="No such job in cluster: 'ps'"):
        spec.num_tasks("ps")
    for fn in (spec.task_indices, spec.job_tasks):
        with pytest.raises(ValueError, match="No such job in cluster"):
            fn("ps")
    with pytest.raises(ValueError, match="No task with index 4 in job 'worker'"):
        spec.task_address("worker", 4)
    with pytest.raises(ValueError, match="No such job in cluster"):
        spec.task_address("ps", 0)
    with pytest.raises(TypeError, match="must be a dictionary mapping one or more job names"):
        ClusterSpec(["w0"])
    with pytest.raises(TypeError, match="The tasks for job 'worker' must be a list or a dictionary"):
        ClusterSpec({"worker": "w0:2222"})
    with pytest.raises(ValueError, match="Task address 3 must be bytes or unicode"):
        ClusterSpec({"worker": [3]})
    with pytest.raises(TypeError, match="Job name 5 must be bytes or unicode"):
        ClusterSpec({5: ["a"]})
    with pytest.raises(ValueError, match="Task indices of job 'worker' must be integers"):
        ClusterSpec({"worker": {"x": "a"}})


def _env(config) -> dict[str, str]:
    return {"TF_CONFIG": config if isinstance(config, str) else json.dumps(config)}


CLUSTER = {"chief": ["c:1"], "worker": ["w0:1", "w1:1"], "ps": ["p0:1"]}


def test_tf_config_worker():
    spec, job, index = cluster_from_tf_config(_env({"cluster": CLUSTER, "task": {"type": "worker", "index": 1},
                                                    "rpc_layer": "grpc"}))
    assert spec == ClusterSpec(CLUSTER) and (job, index) == ("worker", 1)
    assert not is_chief_task(spec, job, index)


def test_tf_config_chief_and_defaults():
    spec, job, index = cluster_from_tf_config(_env({"cluster": CLUSTER, "task": {"type": "chief"}}))
    assert (job, index) == ("chief", 0)
    assert is_chief_task(spec, job, index)
    no_chief = ClusterSpec({"worker": ["a", "b"]})
    assert is_chief_task(no_chief, "worker", 0) and not is_chief_task(no_chief, "worker", 1)
    assert is_chief_task(ClusterSpec({"master": ["m"], "worker": ["a"]}), "master", 0)
    assert not is_chief_task(ClusterSpec(CLUSTER), "worker", 0)
    assert is_chief_task(ClusterSpec({}), None, None)


def test_tf_config_string_index_sparse_and_evaluator():
    spec, job, index = cluster_from_tf_config(_env({"cluster": {"worker": {"3": "w3:1"}},
                                                    "task": {"type": "worker", "index": "3"}}))
    assert (job, index) == ("worker", 3) and spec.task_indices("worker") == [3]
    _, job, index = cluster_from_tf_config(_env({"cluster": CLUSTER, "task": {"type": "evaluator", "index": 0}}))
    assert (job, index) == ("evaluator", 0)


def test_tf_config_absent_or_empty_is_local(monkeypatch):
    assert cluster_from_tf_config({}) == (ClusterSpec({}), None, None)
    assert cluster_from_tf_config({"TF_CONFIG": "  "}) == (ClusterSpec({}), None, None)
    assert cluster_from_tf_config(_env({"cluster": {}})) == (ClusterSpec({}), None, None)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["w:1"]}, "task": {"type": "worker"}}))
    assert cluster_from_tf_config()[1:] == ("worker", 0)


@pytest.mark.parametrize("config, match", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ({"task": {"type": "worker", "index": 0}}, 'no "cluster"'),
    ({"cluster": ["w0"], "task": {"type": "worker"}}, '"cluster" must be an object'),
    ({"cluster": {"worker": "w0"}, "task": {"type": "worker"}}, '"cluster" is malformed'),
    ({"cluster": {"worker": ["w0"]}}, 'needs a "task" object'),
    ({"cluster": {"worker": ["w0"]}, "task": {"index": 0}}, 'has no "type"'),
    ({"cluster": {"worker": ["w0"]}, "task": {"type": "worker", "index": "x"}}, "index must be an integer"),
    ({"cluster": {"worker": ["w0"]}, "task": {"type": "worker", "index": 1.5}}, "index must be an integer"),
    ({"cluster": {"worker": ["w0"]}, "task": {"type": "worker", "index": -1}}, "must be >= 0"),
    ({"cluster": {"worker": ["w0"]}, "task": {"type": "ps", "index": 0}}, "'ps' is not a job in the cluster"),
    ({"cluster": {"worker": ["w0"]}, "task": {"type": "worker", "index": 2}}, "index 2 is not a task"),
    ({"cluster": {"chief": ["a", "b"]}, "task": {"type": "chief"}}, 'only one "chief" node'),
    ({"cluster": {"worker": ["w0"]}, "task": {"type": "worker"}, "rpc_layer": "mpi"}, "only speaks 'grpc'"),
])
def test_tf_config_errors(config, match):
    with pytest.raises(ValueError, match=match):
        cluster_from_tf_config(_env(config))


def test_no_grpc_and_not_imported_by_labflow():
    code = ("import sys, labflow; assert 'labflow.distributed' not in sys.modules; "
            "import labflow.distributed.cluster, labflow.distributed.tensor_coding; "
            "assert 'grpc' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)

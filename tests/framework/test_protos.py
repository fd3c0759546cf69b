"""The generated protobuf modules: fresh, importable, and wire-compatible with TensorFlow's protos.

TensorFlow's own definitions are read from the copies the tensorboard package ships
(``tensorboard.compat.proto``, package ``tensorboard``, same field numbers as TF's).
"""

from __future__ import annotations

import base64
import importlib
import pkgutil

import pytest
from google.protobuf import descriptor_pool, json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

import labflow.framework.protos as lf_protos

MODULES = sorted(m.name for m in pkgutil.iter_modules(lf_protos.__path__) if m.name.endswith("_pb2"))


def _lf(module: str):
    return importlib.import_module(f"labflow.framework.protos.{module}")


def _tb(module: str):
    pytest.importorskip("tensorboard")
    return importlib.import_module(f"tensorboard.compat.proto.{module}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------------------------------------------------
# Generation and import


def test_generated_code_is_fresh():
    pytest.importorskip("grpc_tools")
    from labflow.tools import gen_protos

    if gen_protos.grpcio_tools_version() != gen_protos.PINNED_GRPCIO_TOOLS:
        pytest.skip(f"output is only reproducible with grpcio-tools=={gen_protos.PINNED_GRPCIO_TOOLS}")
    assert gen_protos.check() == [], "run: python -m labflow.tools.gen_protos"


def test_every_source_has_a_module():
    from labflow.tools import gen_protos

    expected = {gen_protos.generated_path(s).as_posix() for s in gen_protos.proto_sources()}
    import labflow.distributed.protos as dist_protos
    dist = sorted(m.name for m in pkgutil.iter_modules(dist_protos.__path__) if m.name.endswith("_pb2"))
    have = {f"labflow/framework/protos/{m}.py" for m in MODULES} | {f"labflow/distributed/protos/{m}.py" for m in dist}
    assert expected == have


@pytest.mark.parametrize("module", ["master_pb2", "worker_pb2"])
def test_distributed_protos_import(module):
    mod = importlib.import_module(f"labflow.distributed.protos.{module}")
    assert mod.DESCRIPTOR.package == "labflow.distributed"


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_under_current_runtime(module):
    mod = _lf(module)
    assert mod.DESCRIPTOR.package == "labflow"
    # A unique registered file name keeps us clear of other packages' "graph.proto" in the default pool.
    assert mod.DESCRIPTOR.name == f"labflow/framework/protos/{module.removesuffix('_pb2')}.proto"


# ---------------------------------------------------------------------------------------------------------
# Schema: every field we define has TF's name, number, label and type


def _tb_pool() -> descriptor_pool.DescriptorPool:
    pytest.importorskip("tensorboard")
    import tensorboard.compat.proto as tb_protos

    for m in pkgutil.iter_modules(tb_protos.__path__):
        if m.name.endswith("_pb2"):
            importlib.import_module(f"tensorboard.compat.proto.{m.name}")
    return descriptor_pool.Default()


def _tb_name(full_name: str) -> str:
    assert full_name.startswith("labflow."), full_name
    return "tensorboard." + full_name.removeprefix("labflow.")


def _type_name(field: FieldDescriptor) -> str | None:
    sub = field.message_type or field.enum_type
    if sub is None:
        return None
    if sub.full_name.startswith("google.protobuf."):
        return sub.full_name
    return sub.full_name.split(".", 1)[1]


def _is_repeated(field: FieldDescriptor) -> bool:
    # protobuf 7 dropped FieldDescriptor.label; is_repeated is missing from the oldest runtimes.
    if hasattr(field, "is_repeated"):
        return field.is_repeated
    return field.label == FieldDescriptor.LABEL_REPEATED


def _compare_enum(ours: EnumDescriptor, theirs: EnumDescriptor) -> list[str]:
    theirs_values = {v.name: v.number for v in theirs.values}
    return [
        f"{ours.full_name}.{v.name} = {v.number}, TF has {theirs_values.get(v.name)}"
        for v in ours.values
        if theirs_values.get(v.name) != v.number
    ]


def _compare_message(ours: Descriptor, theirs: Descriptor) -> list[str]:
    problems = []
    for f in ours.fields:
        t = theirs.fields_by_number.get(f.number)
        where = f"{ours.full_name}.{f.name} = {f.number}"
        if t is None:
            problems.append(f"{where}: TF has no field {f.number}")
            continue
        ours_sig = (
            f.name,
            f.type,
            _is_repeated(f),
            _type_name(f),
            f.containing_oneof and f.containing_oneof.name,
        )
        theirs_sig = (
            t.name,
            t.type,
            _is_repeated(t),
            _type_name(t),
            t.containing_oneof and t.containing_oneof.name,
        )
        if ours_sig != theirs_sig:
            problems.append(f"{where}: ours {ours_sig} != TF {theirs_sig}")
    for e in ours.enum_types:
        problems += _compare_enum(e, theirs.enum_types_by_name[e.name])
    for n in ours.nested_types:
        if n.name not in theirs.nested_types_by_name:
            problems.append(f"{n.full_name}: TF has no such nested message")
            continue
        problems += _compare_message(n, theirs.nested_types_by_name[n.name])
    return problems


# Messages tensorboard does not ship: their TF field numbers are spelled out here
# (from tensorflow/python/training/checkpoint_state.proto).
NOT_IN_TENSORBOARD = {
    "checkpoint_state_pb2": {"CheckpointState": {
        "model_checkpoint_path": (1, "string", False), "all_model_checkpoint_paths": (2, "string", True),
        "all_model_checkpoint_timestamps": (3, "double", True), "last_preserved_timestamp": (4, "double", False)}},
    # tensorflow/core/example/{feature,example}.proto (types by number: 2 float, 3 int64, 11 message, 12 bytes)
    "feature_pb2": {"BytesList": {"value": (1, 12, True)}, "FloatList": {"value": (1, 2, True)},
                    "Int64List": {"value": (1, 3, True)},
                    "Feature": {"bytes_list": (1, 11, False), "float_list": (2, 11, False),
                                "int64_list": (3, 11, False)},
                    "Features": {"feature": (1, 11, True)}, "FeatureList": {"feature": (1, 11, True)},
                    "FeatureLists": {"feature_list": (1, 11, True)}},
    "example_pb2": {"Example": {"features": (1, 11, False)},
                    "SequenceExample": {"context": (1, 11, False), "feature_lists": (2, 11, False)}},
    # tensorflow/core/protobuf/saved_model.proto and tensorflow_server.proto (TF 1.x's ServerDef fields)
    "saved_model_pb2": {"SavedModel": {"saved_model_schema_version": (1, 3, False), "meta_graphs": (2, 11, True)}},
    "tensorflow_server_pb2": {"ServerDef": {
        "cluster": (1, 11, False), "job_name": (2, "string", False), "task_index": (3, 5, False),
        "default_session_config": (4, 11, False), "protocol": (5, "string", False), "port": (6, 5, False)}},
    # tensorflow/core/protobuf/tensor_bundle.proto and framework/tensor_slice.proto (V2 checkpoint index entries;
    # types by number: 3 int64, 5 int32, 7 fixed32, 11 message, 14 enum)
    "tensor_bundle_pb2": {
        "BundleHeaderProto": {"num_shards": (1, 5, False), "endianness": (2, 14, False), "version": (3, 11, False)},
        "BundleEntryProto": {"dtype": (1, 14, False), "shape": (2, 11, False), "shard_id": (3, 5, False),
                             "offset": (4, 3, False), "size": (5, 3, False), "crc32c": (6, 7, False),
                             "slices": (7, 11, True)},
        "TensorSliceProto": {"extent": (1, 11, True)}},
    # tensorflow/core/profiler/tfprof_output.proto (GraphNodeProto without tensor_value; 3 int64, 11 message)
    "tfprof_output_pb2": {"GraphNodeProto": {
        "name": (1, "string", False), "run_count": (21, 3, False), "exec_micros": (2, 3, False),
        "accelerator_exec_micros": (17, 3, False), "cpu_exec_micros": (18, 3, False),
        "requested_bytes": (3, 3, False), "peak_bytes": (24, 3, False), "residual_bytes": (25, 3, False),
        "output_bytes": (26, 3, False), "parameters": (4, 3, False), "float_ops": (13, 3, False),
        "devices": (10, "string", True), "total_definition_count": (23, 3, False), "total_run_count": (22, 3, False),
        "total_exec_micros": (6, 3, False), "total_accelerator_exec_micros": (19, 3, False),
        "total_cpu_exec_micros": (20, 3, False), "total_requested_bytes": (7, 3, False),
        "total_peak_bytes": (27, 3, False), "total_residual_bytes": (28, 3, False),
        "total_output_bytes": (29, 3, False), "total_parameters": (8, 3, False), "total_float_ops": (14, 3, False),
        "shapes": (11, 11, True), "input_shapes": (16, 11, True), "children": (12, 11, True)}},
}
_TYPE_NAMES = {9: "string", 1: "double"}


@pytest.mark.parametrize("module", sorted(NOT_IN_TENSORBOARD))
def test_schema_of_messages_tensorboard_lacks(module):
    for msg_name, fields in NOT_IN_TENSORBOARD[module].items():
        msg = _lf(module).DESCRIPTOR.message_types_by_name[msg_name]
        got = {f.name: (f.number, _TYPE_NAMES.get(f.type, f.type), _is_repeated(f)) for f in msg.fields}
        assert got == fields


@pytest.mark.parametrize("module", [m for m in MODULES if m not in NOT_IN_TENSORBOARD])
def test_schema_matches_tensorflow(module):
    pool = _tb_pool()
    file = _lf(module).DESCRIPTOR
    problems = []
    for msg in file.message_types_by_name.values():
        problems += _compare_message(msg, pool.FindMessageTypeByName(_tb_name(msg.full_name)))
    for enum in file.enum_types_by_name.values():
        problems += _compare_enum(enum, pool.FindEnumTypeByName(_tb_name(enum.full_name)))
    assert not problems, "\n".join(problems)


def test_datatype_values_match_tensorflow():
    ours, theirs = _lf("types_pb2").DataType, _tb("types_pb2").DataType
    for name, value in ours.items():
        assert theirs.Value(name) == value, name
    # Every TF 1.x type (0..23) and its reference type (+100) is present.
    tf1 = {n: v for n, v in theirs.items() if v <= 23 or 101 <= v <= 123}
    assert dict(ours.items()) == tf1


# ---------------------------------------------------------------------------------------------------------
# Wire: populated messages survive labflow -> bytes -> TF and TF -> bytes -> labflow

# Samples are dicts in protobuf's JSON mapping (int64 as strings, bytes as base64), parsed into both sides;
# kept compact by hand: one level of nesting per line reads better here than one key per line.
# fmt: off
_SHAPE = {"dim": [{"size": "-1"}, {"size": "784", "name": "features"}]}
_TENSOR_FLOAT = {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "2"}]}, "float_val": [0.5, -1.25]}
_TENSOR = {
    "dtype": "DT_FLOAT", "tensor_shape": _SHAPE, "version_number": 1,
    "tensor_content": _b64(b"\x00\x00\x80?\x00\x00\x00@"),
    "half_val": [15360, 48128], "float_val": [0.5, -1.25], "double_val": [0.1], "int_val": [-3, 7],
    "string_val": [_b64(b"hello"), _b64(b"\xff\x00")], "scomplex_val": [1.0, 2.0],
    "int64_val": ["-9007199254740993"], "bool_val": [True, False], "dcomplex_val": [3.0, -4.0],
    "resource_handle_val": [{
        "device": "/job:ps/replica:0/task:0/device:CPU:0", "container": "c", "name": "v",
        "hash_code": "18446744073709551615", "maybe_type_name": "Var",
        "dtypes_and_shapes": [{"dtype": "DT_INT64", "shape": {"unknown_rank": True}}],
    }],
    "variant_val": [{"type_name": "T", "metadata": _b64(b"m"), "tensors": [_TENSOR_FLOAT]}],
    "uint32_val": [4294967295], "uint64_val": ["18446744073709551615"],
}
_ATTRS = {
    "s": {"s": _b64(b"SAME")},
    "i": {"i": "-5"},
    "f": {"f": 0.25},
    "b": {"b": True},
    "type": {"type": "DT_HALF_REF"},
    "shape": {"shape": _SHAPE},
    "unknown_shape": {"shape": {"unknown_rank": True}},
    "tensor": {"tensor": _TENSOR},
    "func": {"func": {"name": "f", "attr": {"T": {"type": "DT_FLOAT"}}}},
    "placeholder": {"placeholder": "T"},
    "empty_list": {"list": {}},
    "list": {"list": {
        "s": [_b64(b"a"), _b64(b"")], "i": ["1", "-2"], "f": [1.5, -0.5], "b": [True, False],
        "type": ["DT_FLOAT", "DT_INT32"], "shape": [_SHAPE, {"unknown_rank": True}, {}],
        "tensor": [_TENSOR_FLOAT], "func": [{"name": "g"}],
    }},
}
_NODE = {
    "name": "layer1/MatMul", "op": "MatMul", "input": ["x", "layer1/W/read:0", "^init"],
    "device": "/job:worker/replica:0/task:1/device:GPU:0",
    "attr": {"T": {"type": "DT_FLOAT"}, "transpose_a": {"b": False}, "transpose_b": {"b": True}},
    "experimental_debug_info": {"original_node_names": ["a"], "original_func_names": ["f"]},
}
_OP_DEF = {
    "name": "MatMul",
    "input_arg": [
        {"name": "a", "type_attr": "T", "description": "left"},
        {"name": "b", "type": "DT_FLOAT", "number_attr": "N", "is_ref": True,
         "handle_data": [{"dtype": "DT_FLOAT", "shape": _SHAPE}]},
    ],
    "output_arg": [{"name": "product", "type_list_attr": "Tout"}],
    "control_output": ["c"],
    "attr": [
        {"name": "T", "type": "type", "allowed_values": {"list": {"type": ["DT_FLOAT", "DT_DOUBLE"]}}},
        {"name": "N", "type": "int", "has_minimum": True, "minimum": "1", "default_value": {"i": "2"},
         "description": "n"},
    ],
    "deprecation": {"version": 9, "explanation": "use X"}, "summary": "s", "description": "d",
    "is_commutative": True, "is_aggregate": True, "is_stateful": True, "allows_uninitialized_input": True,
    "is_distributed_communication": True,
}
_GRAPH = {
    "node": [
        {"name": "x", "op": "Placeholder",
         "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": _SHAPE}}},
        _NODE,
    ],
    "versions": {"producer": 26, "min_consumer": 12, "bad_consumers": [3, 4]},
    "version": 7,
    "library": {
        "function": [{
            "signature": _OP_DEF,
            "attr": {"_noinline": {"b": True}},
            "arg_attr": {"0": {"attr": {"_output_shapes": {"list": {"shape": [_SHAPE]}}}}},
            "resource_arg_unique_id": {"1": 5},
            "node_def": [_NODE],
            "ret": {"product": "layer1/MatMul:product:0"},
            "control_ret": {"c": "layer1/MatMul"},
        }],
        "gradient": [{"function_name": "f", "gradient_func": "g"}],
        "registered_gradients": [{"gradient_func": "g", "registered_op_type": "Op"}],
    },
    "debug_info": {
        "files": ["model.py"],
        "frames_by_id": {"7": {"file_index": 0, "line": 12, "col": 4, "func": "build", "code": "x = f()"}},
        "traces_by_id": {"9": {"file_line_cols": [{"line": 3}], "frame_id": ["7"]}},
        "traces": {"x": {"frame_id": ["7", "18446744073709551615"]}},
        "name_to_trace_id": {"x": "9"},
    },
}
_SUMMARY = {"value": [
    {"tag": "loss", "simple_value": 0.5, "node_name": "loss_1", "metadata": {
        "display_name": "Loss", "summary_description": "d", "data_class": "DATA_CLASS_SCALAR",
        "plugin_data": {"plugin_name": "scalars", "content": _b64(b"\x08\x01")}}},
    {"tag": "w", "histo": {
        "min": -1.0, "max": 2.0, "num": 3.0, "sum": 1.0, "sum_squares": 5.0,
        "bucket_limit": [0.0, 1.0, 1.7976931348623157e308], "bucket": [1.0, 0.0, 2.0]}},
    {"tag": "img", "image": {
        "height": 2, "width": 3, "colorspace": 3, "encoded_image_string": _b64(b"\x89PNG\r\n")}},
    {"tag": "snd", "audio": {
        "sample_rate": 16000.0, "num_channels": "1", "length_frames": "4",
        "encoded_audio_string": _b64(b"RIFF"), "content_type": "audio/wav"}},
    {"tag": "t", "tensor": _TENSOR_FLOAT},
    {"tag": "old", "obsolete_old_style_histogram": _b64(b"x")},
]}
_STEP_STATS = {"dev_stats": [{
    "device": "/job:localhost/replica:0/task:0/device:CPU:0",
    "thread_names": {"3": "worker-3"},
    "node_stats": [{
        "node_name": "layer1/MatMul", "all_start_micros": "1700000000000000", "op_start_rel_micros": "1",
        "op_end_rel_micros": "20", "all_end_rel_micros": "22",
        "memory": [{
            "allocator_name": "cpu", "total_bytes": "1024", "peak_bytes": "2048", "live_bytes": "512",
            "allocator_bytes_in_use": "4096",
            "allocation_records": [{"alloc_micros": "5", "alloc_bytes": "-64"}],
        }],
        "output": [{"slot": 0, "tensor_description": {
            "dtype": "DT_FLOAT", "shape": _SHAPE, "allocation_description": {
                "requested_bytes": "64", "allocated_bytes": "64", "allocator_name": "cpu",
                "allocation_id": "3", "has_single_reference": True, "ptr": "140000000"}}}],
        "timeline_label": "layer1/MatMul = MatMul(x, layer1/W/read)",
        "scheduled_micros": "1700000000000000", "thread_id": 3,
        "referenced_tensor": [{"requested_bytes": "8"}],
        "memory_stats": {
            "temp_memory_size": "1", "persistent_memory_size": "2", "persistent_tensor_alloc_ids": ["3"],
            "device_temp_memory_size": "4", "device_persistent_memory_size": "5",
            "device_persistent_tensor_alloc_ids": ["6"]},
        "all_start_nanos": "1", "op_start_rel_nanos": "2", "op_end_rel_nanos": "3", "all_end_rel_nanos": "4",
        "scheduled_nanos": "5",
    }],
}]}
_COST_GRAPH = {
    "node": [{
        "name": "n", "device": "/device:CPU:0", "id": 1,
        "input_info": [{"preceding_node": 0, "preceding_port": 1}],
        "output_info": [{"size": "64", "alias_input_port": "-1", "shape": _SHAPE, "dtype": "DT_FLOAT"}],
        "temporary_memory_size": "1", "persistent_memory_size": "2", "host_temp_memory_size": "3",
        "device_temp_memory_size": "4", "device_persistent_memory_size": "5", "compute_cost": "6",
        "compute_time": "7", "memory_time": "8", "is_final": True, "control_input": [0], "inaccurate": True,
    }],
    "cost": [{"cost": 1.5, "dimension": "flops"}],
}
_RUN_OPTIONS = {
    "trace_level": "FULL_TRACE", "timeout_in_ms": "5000", "inter_op_thread_pool": 1,
    "output_partition_graphs": True, "report_tensor_allocations_upon_oom": True,
}
_RUN_METADATA = {
    "step_stats": _STEP_STATS, "cost_graph": _COST_GRAPH, "partition_graphs": [_GRAPH, {"node": [_NODE]}],
    "function_graphs": [{
        "partition_graphs": [_GRAPH], "pre_optimization_graph": _GRAPH,
        "post_optimization_graph": {"versions": {"producer": 1}}}],
    "session_metadata": {"name": "s", "version": "2"},
}
_CONFIG = {
    "device_count": {"CPU": 4, "GPU": 0}, "intra_op_parallelism_threads": 2,
    "inter_op_parallelism_threads": 3, "use_per_session_threads": True,
    "session_inter_op_thread_pool": [{"num_threads": 2, "global_name": "g"}], "placement_period": 5,
    "device_filters": ["/job:ps"],
    "gpu_options": {
        "per_process_gpu_memory_fraction": 0.5, "allow_growth": True, "allocator_type": "BFC",
        "deferred_deletion_bytes": "1", "visible_device_list": "1,0", "polling_active_delay_usecs": 2,
        "polling_inactive_delay_msecs": 3, "force_gpu_compatible": True},
    "allow_soft_placement": True, "log_device_placement": True,
    "graph_options": {
        "enable_recv_scheduling": True, "build_cost_model": "1", "build_cost_model_after": "2",
        "infer_shapes": True, "place_pruned_graph": True, "enable_bfloat16_sendrecv": True,
        "timeline_step": 4,
        "optimizer_options": {
            "do_common_subexpression_elimination": True, "do_constant_folding": True,
            "max_folded_constant_in_bytes": "9", "do_function_inlining": True, "opt_level": "L0",
            "global_jit_level": "OFF", "cpu_global_jit": True}},
    "operation_timeout_in_ms": "60000",
    "cluster_def": {"job": [{"name": "worker", "tasks": {"0": "localhost:2222", "1": "localhost:2223"}}]},
    "isolate_session_state": True, "share_cluster_devices_in_session": True,
}
_CALLABLE_OPTIONS = {
    "feed": ["x:0"], "fetch": ["y:0"], "target": ["train"], "run_options": {"trace_level": "SOFTWARE_TRACE"},
    "tensor_connection": [{"from_tensor": "a:0", "to_tensor": "b:0"}], "feed_devices": {"x:0": "/cpu:0"},
    "fetch_devices": {"y:0": "/gpu:0"}, "fetch_skip_sync": True,
}
_SAVER = {
    "filename_tensor_name": "save/Const:0", "save_tensor_name": "save/control_dependency:0",
    "restore_op_name": "save/restore_all", "max_to_keep": 5, "sharded": True,
    "keep_checkpoint_every_n_hours": 10000.0, "version": "V2",
}
_META_GRAPH = {
    "meta_info_def": {
        "meta_graph_version": "v1", "stripped_op_list": {"op": [_OP_DEF]}, "tags": ["serve"],
        "tensorflow_version": "1.15.0", "tensorflow_git_version": "labflow", "stripped_default_attrs": True,
        "function_aliases": {"f": "g"}},
    "graph_def": _GRAPH,
    "saver_def": {"filename_tensor_name": "save/Const:0", "version": "V1"},
    "collection_def": {
        "trainable_variables": {"bytes_list": {"value": [_b64(b"\n\x01W")]}},
        "train_op": {"node_list": {"value": ["train", "y:0"]}},
        "global_step": {"int64_list": {"value": ["1", "-2"]}},
        "rates": {"float_list": {"value": [0.5]}},
    },
    "signature_def": {"serving_default": {
        "inputs": {"x": {"name": "x:0", "dtype": "DT_FLOAT", "tensor_shape": _SHAPE}},
        "outputs": {"y": {"dtype": "DT_INT64", "coo_sparse": {
            "values_tensor_name": "v:0", "indices_tensor_name": "i:0", "dense_shape_tensor_name": "s:0"}}},
        "method_name": "tensorflow/serving/predict",
        "defaults": {"k": _TENSOR_FLOAT},
    }},
    "asset_file_def": [{"tensor_info": {"name": "vocab:0"}, "filename": "vocab.txt"}],
}
_CASES = [
    ("tensor_shape_pb2", "TensorShapeProto", _SHAPE),
    ("tensor_shape_pb2", "TensorShapeProto", {"unknown_rank": True}),
    ("tensor_pb2", "TensorProto", _TENSOR),
    ("versions_pb2", "VersionDef", _GRAPH["versions"]),
    *(("attr_value_pb2", "AttrValue", value) for value in _ATTRS.values()),
    ("node_def_pb2", "NodeDef", _NODE),
    ("op_def_pb2", "OpList", {"op": [_OP_DEF]}),
    ("graph_pb2", "GraphDef", _GRAPH),
    ("summary_pb2", "Summary", _SUMMARY),
    ("event_pb2", "Event", {"wall_time": 1700000000.25, "step": "0", "file_version": "brain.Event:2"}),
    ("event_pb2", "Event", {"wall_time": 1.5, "step": "3", "graph_def": _b64(b"\n\x05\n\x01x\x12\x00")}),
    ("event_pb2", "Event", {"wall_time": 2.0, "step": "9", "summary": _SUMMARY,
                            "source_metadata": {"writer": "labflow"}}),
    ("event_pb2", "Event", {"step": "1", "log_message": {"level": "WARN", "message": "m"}}),
    ("event_pb2", "Event", {"session_log": {"status": "CHECKPOINT", "checkpoint_path": "/c", "msg": "m"}}),
    ("event_pb2", "Event", {"tagged_run_metadata": {"tag": "step1", "run_metadata": _b64(b"\n\x00")}}),
    ("event_pb2", "Event", {"meta_graph_def": _b64(b"\x12\x00")}),
    ("step_stats_pb2", "StepStats", _STEP_STATS),
    ("cost_graph_pb2", "CostGraphDef", _COST_GRAPH),
    ("config_pb2", "RunOptions", _RUN_OPTIONS),
    ("config_pb2", "RunMetadata", _RUN_METADATA),
    ("config_pb2", "ConfigProto", _CONFIG),
    ("config_pb2", "CallableOptions", _CALLABLE_OPTIONS),
    ("saver_pb2", "SaverDef", _SAVER),
    ("meta_graph_pb2", "MetaGraphDef", _META_GRAPH),
]
# fmt: on


def _case_id(case) -> str:
    module, message, sample = case
    return f"{message}-{'_'.join(sample)[:40]}"


@pytest.mark.parametrize(("module", "message", "sample"), _CASES, ids=[_case_id(c) for c in _CASES])
def test_wire_round_trip_with_tensorflow(module, message, sample):
    ours_cls, theirs_cls = getattr(_lf(module), message), getattr(_tb(module), message)
    ours = json_format.ParseDict(sample, ours_cls())
    theirs = json_format.ParseDict(sample, theirs_cls())
    expected = json_format.MessageToDict(ours, preserving_proto_field_name=True)
    assert expected, "sample parsed to an empty message"

    # labflow -> bytes -> TF: every field arrives under the same name (nothing left as unknown fields).
    data = ours.SerializeToString(deterministic=True)
    as_theirs = theirs_cls.FromString(data)
    assert json_format.MessageToDict(as_theirs, preserving_proto_field_name=True) == expected
    assert as_theirs.SerializeToString(deterministic=True) == data

    # TF -> bytes -> labflow. The bytes may differ from ours only where TF's message is proto2
    # (GraphDebugInfo), which also writes fields explicitly set to zero; the parsed values are equal.
    as_ours = ours_cls.FromString(theirs.SerializeToString(deterministic=True))
    assert as_ours == ours
    assert json_format.MessageToDict(as_ours, preserving_proto_field_name=True) == expected


def test_tensorflow_fields_labflow_omits_survive_a_round_trip():
    # A TF GraphDef may carry fields labflow reserves (NodeDef.experimental_type = 7): parsing keeps them as
    # unknown fields, so reading and re-writing a TF graph does not lose them.
    tb_node_def = _tb("node_def_pb2")
    theirs = tb_node_def.NodeDef(name="n", op="Identity")
    theirs.experimental_type.type_id = 1000
    data = theirs.SerializeToString()
    ours = _lf("node_def_pb2").NodeDef.FromString(data)
    assert (ours.name, ours.op) == ("n", "Identity")
    assert tb_node_def.NodeDef.FromString(ours.SerializeToString()) == theirs


def test_half_val_and_tensor_content_built_from_python():
    tensor_pb2, types_pb2 = _lf("tensor_pb2"), _lf("types_pb2")
    t = tensor_pb2.TensorProto(dtype=types_pb2.DT_HALF, half_val=[15360])
    t.tensor_shape.dim.add(size=1)
    theirs = _tb("tensor_pb2").TensorProto.FromString(t.SerializeToString())
    assert theirs.dtype == _tb("types_pb2").DT_HALF
    assert list(theirs.half_val) == [15360]
    assert [d.size for d in theirs.tensor_shape.dim] == [1]

"""`tf.saved_model.signature_def_utils`: SignatureDef protos for TF Serving's predict, classify and regress APIs."""

from __future__ import annotations

from typing import Any

from labflow.framework.proto_convert import make_tensor_proto
from labflow.framework.protos import meta_graph_pb2, types_pb2
from labflow.framework.tensor import Tensor
from labflow.saved_model import signature_constants as sc
from labflow.saved_model import utils

__all__ = ["build_signature_def", "classification_signature_def", "is_valid_signature", "predict_signature_def",
           "regression_signature_def"]


def build_signature_def(inputs: dict | None = None, outputs: dict | None = None, method_name: str | None = None,
                        defaults: dict | None = None) -> meta_graph_pb2.SignatureDef:
    """Builds a SignatureDef proto.

    Args:
        inputs: signature input key -> `TensorInfo` (see `build_tensor_info`).
        outputs: signature output key -> `TensorInfo`.
        method_name: e.g. `signature_constants.PREDICT_METHOD_NAME`.
        defaults: input key -> a constant `Tensor` whose value is the input's default.

    Returns:
        The `SignatureDef`.

    Raises:
        ValueError: a default that is not a constant tensor.
    """
    sig = meta_graph_pb2.SignatureDef()
    for key, info in (inputs or {}).items():
        sig.inputs[key].CopyFrom(info)
    for key, info in (outputs or {}).items():
        sig.outputs[key].CopyFrom(info)
    if method_name is not None:
        sig.method_name = method_name
    for key, default in (defaults or {}).items():
        if not isinstance(default, Tensor) or default.op.type != "Const":
            raise ValueError(f"Unable to convert object {default!s} of type {type(default)} to TensorProto: a "
                             "signature default must be a tf.constant.")
        sig.defaults[key].CopyFrom(make_tensor_proto(default.op.get_attr("value")))
    return sig


def _typed_info(tensor: Any, dtype: int, what: str) -> meta_graph_pb2.TensorInfo:
    """The TensorInfo of `tensor`; ValueError "<what> must be ... Found tensors of type X." on another dtype."""
    info = utils.build_tensor_info(tensor)
    if info.dtype != dtype:
        raise ValueError(f"{what} Found tensors of type {types_pb2.DataType.Name(info.dtype)}.")
    return info


def regression_signature_def(examples: Any, predictions: Any) -> meta_graph_pb2.SignatureDef:
    """A signature for TF Serving's Regress API: serialized tf.Examples in, float predictions out.

    Args:
        examples: a string `Tensor` of serialized `tf.Example`s.
        predictions: a float32 `Tensor`.

    Returns:
        A SignatureDef with input "inputs", output "outputs" and method "tensorflow/serving/regress".

    Raises:
        ValueError: a missing argument, or an input that is not a string Tensor / an output that is not float32.
    """
    if examples is None:
        raise ValueError("Regression `examples` cannot be None.")
    if not isinstance(examples, Tensor):
        raise ValueError(f"Expected regression `examples` to be of type Tensor. Found `examples` of type "
                         f"{type(examples)}.")
    if predictions is None:
        raise ValueError("Regression `predictions` cannot be None.")
    inp = _typed_info(examples, types_pb2.DT_STRING, "Regression input tensors must be of type string.")
    out = _typed_info(predictions, types_pb2.DT_FLOAT, "Regression output tensors must be of type float.")
    return build_signature_def({sc.REGRESS_INPUTS: inp}, {sc.REGRESS_OUTPUTS: out}, sc.REGRESS_METHOD_NAME)


def classification_signature_def(examples: Any, classes: Any, scores: Any) -> meta_graph_pb2.SignatureDef:
    """A signature for TF Serving's Classify API: serialized tf.Examples in, class names and/or scores out.

    Args:
        examples: a string `Tensor` of serialized `tf.Example`s.
        classes: a string `Tensor` of class labels, or None.
        scores: a float32 `Tensor` of scores, or None (not both None).

    Returns:
        A SignatureDef with input "inputs", outputs "classes"/"scores", method "tensorflow/serving/classify".

    Raises:
        ValueError: a missing argument or a tensor of the wrong dtype.
    """
    if examples is None:
        raise ValueError("Classification `examples` cannot be None.")
    if not isinstance(examples, Tensor):
        raise ValueError(f"Classification `examples` must be a string Tensor. Found `examples` of type "
                         f"{type(examples)}.")
    if classes is None and scores is None:
        raise ValueError("Classification `classes` and `scores` cannot both be None.")
    inp = _typed_info(examples, types_pb2.DT_STRING, "Classification input tensors must be of type string.")
    outputs = {}
    if classes is not None:
        outputs[sc.CLASSIFY_OUTPUT_CLASSES] = _typed_info(
            classes, types_pb2.DT_STRING, "Classification classes must be of type string Tensor.")
    if scores is not None:
        outputs[sc.CLASSIFY_OUTPUT_SCORES] = _typed_info(
            scores, types_pb2.DT_FLOAT, "Classification scores must be a float Tensor.")
    return build_signature_def({sc.CLASSIFY_INPUTS: inp}, outputs, sc.CLASSIFY_METHOD_NAME)


def predict_signature_def(inputs: dict, outputs: dict) -> meta_graph_pb2.SignatureDef:
    """A signature for TF Serving's Predict API: any named tensors in and out.

    Args:
        inputs: input key -> `Tensor` (or `SparseTensor`).
        outputs: output key -> `Tensor` (or `SparseTensor`).

    Returns:
        A SignatureDef with method "tensorflow/serving/predict".

    Raises:
        ValueError: `inputs` or `outputs` is None or empty.
    """
    if not inputs:
        raise ValueError("Prediction `inputs` cannot be None or empty.")
    if not outputs:
        raise ValueError("Prediction `outputs` cannot be None or empty.")
    return build_signature_def({k: utils.build_tensor_info(t) for k, t in inputs.items()},
                               {k: utils.build_tensor_info(t) for k, t in outputs.items()},
                               sc.PREDICT_METHOD_NAME)


def is_valid_signature(signature_def: meta_graph_pb2.SignatureDef | None) -> bool:
    """Whether TF Serving can serve `signature_def`: a well-formed predict, classify or regress signature."""
    if signature_def is None:
        return False
    return (_is_valid_classification_signature(signature_def) or _is_valid_regression_signature(signature_def)
            or _is_valid_predict_signature(signature_def))


def _is_valid_predict_signature(sig: meta_graph_pb2.SignatureDef) -> bool:
    return sig.method_name == sc.PREDICT_METHOD_NAME and bool(sig.inputs) and bool(sig.outputs)


def _is_valid_regression_signature(sig: meta_graph_pb2.SignatureDef) -> bool:
    return (sig.method_name == sc.REGRESS_METHOD_NAME
            and set(sig.inputs) == {sc.REGRESS_INPUTS} and sig.inputs[sc.REGRESS_INPUTS].dtype == types_pb2.DT_STRING
            and set(sig.outputs) == {sc.REGRESS_OUTPUTS}
            and sig.outputs[sc.REGRESS_OUTPUTS].dtype == types_pb2.DT_FLOAT)


def _is_valid_classification_signature(sig: meta_graph_pb2.SignatureDef) -> bool:
    if sig.method_name != sc.CLASSIFY_METHOD_NAME:
        return False
    if set(sig.inputs) != {sc.CLASSIFY_INPUTS} or sig.inputs[sc.CLASSIFY_INPUTS].dtype != types_pb2.DT_STRING:
        return False
    if not sig.outputs or set(sig.outputs) - {sc.CLASSIFY_OUTPUT_CLASSES, sc.CLASSIFY_OUTPUT_SCORES}:
        return False
    wanted = {sc.CLASSIFY_OUTPUT_CLASSES: types_pb2.DT_STRING, sc.CLASSIFY_OUTPUT_SCORES: types_pb2.DT_FLOAT}
    return all(sig.outputs[k].dtype == wanted[k] for k in sig.outputs)


def op_signature_def(op: Any, key: str) -> meta_graph_pb2.SignatureDef:
    """A SignatureDef whose one output names `op` (how TF 2.x builders store init and train ops)."""
    return build_signature_def(outputs={key: utils.build_tensor_info_from_op(op)})


def load_op_from_signature_def(signature_def: meta_graph_pb2.SignatureDef, key: str,
                               import_scope: str | None = None) -> Any:
    """The op (or tensor) that `signature_def.outputs[key]` names in the default graph.

    Raises:
        NotFoundError: no such op in the graph.
    """
    from labflow import errors
    try:
        return utils.get_element_from_tensor_info(signature_def.outputs[key], import_scope=import_scope)
    except KeyError:
        raise errors.NotFoundError(None, None, f'The key "{key}" could not be found in the graph. Please make sure '
                                   "the SignatureDef in the SavedModel names an op of its graph.") from None

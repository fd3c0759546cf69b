"""Summary ops: each produces a serialized `Summary` protocol buffer as a 0-d string tensor.

The ops are TF's (ScalarSummary, HistogramSummary, ImageSummary, AudioSummaryV2, TensorSummaryV2,
MergeSummary), with TF's input and attr names, so GraphDefs look like TensorFlow's. They run on the
CPU only (they build protos on the host), hold no state and have no gradient. What they compute
besides protos (histogram buckets, image normalization, PNG and WAV) lives in summary_encoding.py.

The public wrappers are TF 1.x's `tf.summary.*` (scalar, histogram, image, audio, text,
tensor_summary, merge, merge_all; exported by labflow.summary) and the 2016 names exported here for
`tf.*`: scalar_summary, histogram_summary, image_summary, audio_summary, merge_summary,
merge_all_summaries. A string tensor holds `bytes` (a 0-d NumPy object array), like every labflow
string tensor; `FileWriter.add_summary` takes those bytes as they come out of `Session.run`.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import GraphKeys, name_scope
from labflow.framework.proto_convert import make_tensor_proto
from labflow.framework.protos import summary_pb2
from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Tensor
from labflow.ops import summary_encoding as _enc
from labflow.ops.common import ALL_TYPES, REAL_TYPES, constant_value, convert_to_tensor, dims, make_tensor

__all__ = ["scalar_summary", "histogram_summary", "image_summary", "audio_summary", "merge_summary",
           "merge_all_summaries"]

_IMAGE_TYPES = (_dt.uint8, _dt.float16, _dt.float32, _dt.float64)
_BAD_COLOR = np.array([255, 0, 0, 255], dtype=np.uint8)  # TF's default: opaque red
_BAD_COLOR.setflags(write=False)


# -- helpers ------------------------------------------------------------------------------------------
def _out(summary: summary_pb2.Summary) -> np.ndarray:
    """A Summary as the op's value: a 0-d object array holding its serialized bytes."""
    out = np.empty((), dtype=object)
    out[()] = summary.SerializeToString()
    return out


def _tag_str(t: Any) -> str:
    """One element of a string tensor (bytes) as a proto `string` (tags are UTF-8 in TF's files)."""
    return t.decode("utf-8", errors="replace") if isinstance(t, bytes) else str(t)


def _scalar_tag(tag: np.ndarray) -> str:
    if tag.ndim != 0:
        raise errors.InvalidArgumentError(None, None, f"tag must be scalar, got shape {shape_str(tag.shape)}")
    return _tag_str(tag[()])


def _check_string(t: Tensor, what: str) -> None:
    if t.dtype.base_dtype != _dt.string:
        raise TypeError(f"Input '{what}' must be a string tensor, got {t.dtype.base_dtype.name}")


def _check_scalar(t: Tensor, what: str) -> None:
    d = dims(t)
    if d is not None and len(d) != 0:
        raise ValueError(f"'{what}' must be a scalar (rank 0), got shape {shape_str(d)}")


def _check_min(attrs: dict, attr: str, minimum: int) -> None:
    v = attrs[attr]
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < minimum:
        raise ValueError(f"Value for attr '{attr}' of {v!r} must be at least minimum {minimum}")


def _tag_of(t: Tensor) -> str:
    """" (tag 'x')" when the tag is a known constant, for messages (TF's SingleTag)."""
    v = constant_value(t)
    if v is not None and np.size(v) == 1:
        return f" (tag '{_tag_str(np.asarray(v).reshape(-1)[0])}')"
    return ""


_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w\.]")


def _clean_tag(name: str | None) -> str | None:
    """TF's clean_tag: characters other than letters, digits, '_', '-', '/', '.' become '_'."""
    if name is None:
        return None
    return _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")


@contextlib.contextmanager
def _summary_scope(name: str | None, family: str | None = None, default_name: str | None = None,
                   values: list | None = None) -> Iterator[tuple[str, str]]:
    """TF's summary_op_util.summary_scope: yields (tag, scope); the tag is the scope without its '/'."""
    name, family = _clean_tag(name), _clean_tag(family)
    base = name if family is None else f"{family}/{name}"
    with name_scope(base, default_name, values=values or []) as scope:
        tag = scope.rstrip("/") if family is None else f"{family}/{scope.rstrip('/')}"
        yield tag, scope


def _collect(val: Tensor, collections: Any, default: list[str]) -> None:
    keys = default if collections is None else ([collections] if isinstance(collections, str) else collections)
    for key in keys:
        val.graph.add_to_collection(key, val)


def _string(value: Any, name: str) -> Tensor:
    t = convert_to_tensor(value, dtype=_dt.string, name=name) if not isinstance(value, Tensor) else value
    _check_string(t, name)
    return t


# -- ScalarSummary ------------------------------------------------------------------------------------
def _scalar_summary_shape(ins, attrs):
    tags, values = ins
    _check_string(tags, "tags")
    a, b = dims(tags), dims(values)
    if a is not None and b is not None and a != b and None not in a + b:
        raise ValueError(f"tags and values not the same shape: {shape_str(a)} != {shape_str(b)}{_tag_of(tags)}")
    return _dt.string, ()


@op("ScalarSummary", inputs=("tags", "values"), types=REAL_TYPES, type_inputs=("values",),
    shape=_scalar_summary_shape, devices=("CPU",), not_differentiable=True)
def scalar_summary_kernel(xp, tags, values):
    if tags.shape != values.shape:
        single = f" (tag '{_tag_str(tags.reshape(-1)[0])}')" if tags.size == 1 else ""
        raise errors.InvalidArgumentError(None, None, f"tags and values not the same shape: "
                                          f"{shape_str(tags.shape)} != {shape_str(values.shape)}{single}")
    s = summary_pb2.Summary()
    for tag, v in zip(tags.reshape(-1).tolist(), values.reshape(-1).astype(np.float32).tolist()):
        s.value.add(tag=_tag_str(tag), simple_value=v)
    return _out(s)


# -- HistogramSummary ---------------------------------------------------------------------------------
def _histogram_summary_shape(ins, attrs):
    _check_string(ins[0], "tag")
    _check_scalar(ins[0], "tag")
    return _dt.string, ()


@op("HistogramSummary", inputs=("tag", "values"), types=REAL_TYPES, type_inputs=("values",),
    shape=_histogram_summary_shape, devices=("CPU",), not_differentiable=True, needs_ctx=True)
def histogram_summary_kernel(xp, tag, values, *, ctx):
    v = np.asarray(values).astype(np.float64).reshape(-1)
    if not np.isfinite(v).all():
        raise errors.InvalidArgumentError(None, None, f"Nan in summary histogram for: {ctx.name}")
    s = summary_pb2.Summary()
    s.value.add(tag=_scalar_tag(tag), histo=summary_pb2.HistogramProto(**_enc.histogram_fields(v)))
    return _out(s)


# -- ImageSummary -------------------------------------------------------------------------------------
def _image_error(d: tuple) -> str:
    return f"Tensor must be 4-D with last dim 1, 3, or 4, not {shape_str(d)}"


def _image_summary_shape(ins, attrs):
    _check_string(ins[0], "tag")
    _check_scalar(ins[0], "tag")
    _check_min(attrs, "max_images", 1)
    d = dims(ins[1])
    if d is not None and (len(d) != 4 or d[3] not in (1, 3, 4, None)):
        raise ValueError(_image_error(d))
    return _dt.string, ()


@op("ImageSummary", inputs=("tag", "tensor"), attrs={"max_images": 3, "bad_color": _BAD_COLOR},
    types=_IMAGE_TYPES, type_inputs=("tensor",), shape=_image_summary_shape, devices=("CPU",),
    not_differentiable=True)
def image_summary_kernel(xp, tag, tensor, *, max_images, bad_color):
    base_tag = _scalar_tag(tag)
    if tensor.ndim != 4 or tensor.shape[3] not in (1, 3, 4):
        raise errors.InvalidArgumentError(None, None, _image_error(tensor.shape))
    n = min(max_images, tensor.shape[0])
    _, h, w, depth = tensor.shape
    images = tensor[:n]
    if tensor.dtype != np.uint8:
        if np.size(bad_color) < depth:
            raise errors.InvalidArgumentError(None, None, f"expected depth <= bad_color.size, got depth = "
                                              f"{depth}, bad_color.size = {np.size(bad_color)}")
        images = _enc.normalize_images(images, bad_color)
    s = summary_pb2.Summary()
    for i in range(n):
        # The tag depends on the number of images asked for, not the number produced (TF's rule).
        v = s.value.add(tag=f"{base_tag}/image/{i}" if max_images > 1 else f"{base_tag}/image")
        v.image.height, v.image.width, v.image.colorspace = h, w, depth
        v.image.encoded_image_string = _enc.encode_png(images[i])
    return _out(s)


# -- AudioSummaryV2 -----------------------------------------------------------------------------------
def _audio_summary_shape(ins, attrs):
    tag, tensor, rate = ins
    _check_string(tag, "tag")
    _check_scalar(tag, "tag")
    _check_min(attrs, "max_outputs", 1)
    for t, what in ((tensor, "tensor"), (rate, "sample_rate")):
        if t.dtype.base_dtype != _dt.float32:
            raise TypeError(f"Input '{what}' of 'AudioSummaryV2' Op has type {t.dtype.base_dtype.name} that "
                            "does not match expected type of float32.")
    d = dims(tensor)
    if d is not None and not 2 <= len(d) <= 3:
        raise ValueError(f"Tensor must be 3-D or 2-D, got: {shape_str(d)}")
    _check_scalar(rate, "sample_rate")
    return _dt.string, ()


@op("AudioSummaryV2", inputs=("tag", "tensor", "sample_rate"), attrs={"max_outputs": 3},
    shape=_audio_summary_shape, devices=("CPU",), not_differentiable=True)
def audio_summary_kernel(xp, tag, tensor, sample_rate, *, max_outputs):
    base_tag = _scalar_tag(tag)
    if not 2 <= tensor.ndim <= 3:
        raise errors.InvalidArgumentError(None, None, f"Tensor must be 3-D or 2-D, got: {shape_str(tensor.shape)}")
    if np.size(sample_rate) != 1:
        raise errors.InvalidArgumentError(None, None, "sample_rate must be rank-0 or contain a single value")
    rate = float(np.asarray(sample_rate, dtype=np.float32).reshape(-1)[0])
    if not rate > 0.0:
        raise errors.InvalidArgumentError(None, None, "sample_rate must be > 0")
    batch, frames = tensor.shape[:2]
    channels = 1 if tensor.ndim == 2 else tensor.shape[2]
    clips = tensor.reshape(batch, frames, channels)
    wav_rate = max(int(np.rint(np.float32(rate))), 1)  # lrintf, at least 1 Hz
    s = summary_pb2.Summary()
    for i in range(min(max_outputs, batch)):
        v = s.value.add(tag=f"{base_tag}/audio/{i}" if max_outputs > 1 else f"{base_tag}/audio")
        a = v.audio
        a.sample_rate, a.num_channels, a.length_frames, a.content_type = rate, channels, frames, "audio/wav"
        a.encoded_audio_string = _enc.encode_wav(clips[i], wav_rate)
    return _out(s)


# -- TensorSummaryV2 ----------------------------------------------------------------------------------
def _tensor_summary_shape(ins, attrs):
    tag, _, meta = ins
    _check_string(tag, "tag")
    _check_scalar(tag, "tag")
    _check_string(meta, "serialized_summary_metadata")
    return _dt.string, ()


@op("TensorSummaryV2", inputs=("tag", "tensor", "serialized_summary_metadata"), types=ALL_TYPES,
    type_inputs=("tensor",), shape=_tensor_summary_shape, devices=("CPU",), not_differentiable=True)
def tensor_summary_kernel(xp, tag, tensor, serialized_summary_metadata):
    s = summary_pb2.Summary()
    v = s.value.add(tag=_scalar_tag(tag))
    v.tensor.CopyFrom(make_tensor_proto(np.asarray(tensor)))
    meta = serialized_summary_metadata.reshape(-1)[0]
    try:
        v.metadata.ParseFromString(meta)
    except Exception:  # noqa: BLE001 - the protobuf runtimes raise different DecodeError classes
        raise errors.InvalidArgumentError(None, None, "Could not parse serialized_summary_metadata") from None
    return _out(s)


# -- MergeSummary -------------------------------------------------------------------------------------
def _merge_summary_shape(ins, attrs):
    for i, t in enumerate(ins):
        _check_string(t, f"inputs[{i}]")
    return _dt.string, ()


@op("MergeSummary", inputs=("*inputs",), attrs={"N": 1}, shape=_merge_summary_shape, devices=("CPU",),
    not_differentiable=True)
def merge_summary_kernel(xp, *inputs):
    s = summary_pb2.Summary()
    seen: set[str] = set()
    part = summary_pb2.Summary()
    for t in inputs:
        for blob in np.asarray(t).reshape(-1).tolist():
            try:
                part.ParseFromString(blob)
            except Exception:  # noqa: BLE001 - the protobuf runtimes raise different DecodeError classes
                raise errors.InvalidArgumentError(None, None, "Could not parse one of the summary inputs") \
                    from None
            for v in part.value:
                # Tensor summaries may leave the tag empty: those are never duplicates (TF's rule).
                if v.tag and v.tag in seen:
                    raise errors.InvalidArgumentError(None, None,
                                                      f"Duplicate tag {v.tag} found in summary inputs")
                seen.add(v.tag)
            s.value.extend(part.value)
    return _out(s)


# -- public wrappers: tf.summary.* ----------------------------------------------------------------------
def scalar(name: str, tensor: Any, collections: list | None = None, family: str | None = None) -> Tensor:
    """Outputs a `Summary` protocol buffer with one scalar value (op type ScalarSummary).

    Args:
        name: the summary's name; the tag is the enclosing name scope plus `name` (made unique).
        tensor: a real numeric tensor holding one value.
        collections: graph collections to add the summary to (default `[GraphKeys.SUMMARIES]`).
        family: a tag prefix, shown as the tab name in TensorBoard.

    Returns:
        A scalar string tensor: the serialized `Summary`.

    Raises:
        TypeError: `tensor` is not real numeric.
        ValueError: `tensor` has a static shape with more than one element.
    """
    with _summary_scope(name, family, values=[tensor]) as (tag, scope):
        values = convert_to_tensor(tensor, name="values")
        val = make_tensor("ScalarSummary", [_string(tag, "tags"), values], name=scope)
        _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def histogram(name: str, values: Any, collections: list | None = None, family: str | None = None) -> Tensor:
    """Outputs a `Summary` protocol buffer with a histogram of `values` (op type HistogramSummary).

    The buckets are TF's defaults (exponential, 10% apart, from 1e-12 to 1e20, both signs, and 0).
    Running the op on non-finite values raises InvalidArgumentError ("Nan in summary histogram for").

    Args:
        name: the summary's name (the tag, under the enclosing name scope).
        values: a real numeric tensor of any shape.
        collections: graph collections to add the summary to (default `[GraphKeys.SUMMARIES]`).
        family: a tag prefix, shown as the tab name in TensorBoard.

    Returns:
        A scalar string tensor: the serialized `Summary`.
    """
    with _summary_scope(name, family, "HistogramSummary", values=[values]) as (tag, scope):
        v = convert_to_tensor(values, name="values")
        val = make_tensor("HistogramSummary", [_string(tag, "tag"), v], name=scope)
        _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def image(name: str, tensor: Any, max_outputs: int = 3, collections: list | None = None,
          family: str | None = None) -> Tensor:
    """Outputs a `Summary` with up to `max_outputs` PNG images (op type ImageSummary).

    `tensor` is [batch, height, width, channels] with 1 (grey), 3 (RGB) or 4 (RGBA) channels. uint8
    images are written as they are. Float images are normalized per image: if all values are >= 0
    they are scaled so the largest is 255; otherwise 0 goes to 128 and they are scaled so the largest
    magnitude reaches 1 or 255. Non-finite pixels are drawn red. Tags are `name/image/i`
    (`name/image` when `max_outputs` is 1).

    Args:
        name: the summary's name (the tag prefix, under the enclosing name scope).
        tensor: a uint8, float16, float32 or float64 tensor [batch, height, width, channels].
        max_outputs: the most images to write (the first ones of the batch); at least 1.
        collections: graph collections to add the summary to (default `[GraphKeys.SUMMARIES]`).
        family: a tag prefix, shown as the tab name in TensorBoard.

    Returns:
        A scalar string tensor: the serialized `Summary`.

    Raises:
        ValueError: the static shape is not 4-D with 1, 3 or 4 channels, or `max_outputs` < 1.
    """
    with _summary_scope(name, family, values=[tensor]) as (tag, scope):
        t = convert_to_tensor(tensor, name="tensor")
        val = make_tensor("ImageSummary", [_string(tag, "tag"), t], {"max_images": max_outputs}, name=scope)
        _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def audio(name: str, tensor: Any, sample_rate: Any, max_outputs: int = 3, collections: list | None = None,
          family: str | None = None) -> Tensor:
    """Outputs a `Summary` with up to `max_outputs` WAV clips (op type AudioSummaryV2).

    Args:
        name: the summary's name (tags are `name/audio/i`, or `name/audio` when `max_outputs` is 1).
        tensor: float32 [batch, frames, channels] or [batch, frames], values in [-1, 1].
        sample_rate: a float32 scalar (or Python number): samples per second.
        max_outputs: the most clips to write; at least 1.
        collections: graph collections to add the summary to (default `[GraphKeys.SUMMARIES]`).
        family: a tag prefix, shown as the tab name in TensorBoard.

    Returns:
        A scalar string tensor: the serialized `Summary`.
    """
    with _summary_scope(name, family, values=[tensor]) as (tag, scope):
        rate = convert_to_tensor(sample_rate, dtype=_dt.float32, name="sample_rate")
        t = convert_to_tensor(tensor, name="tensor")
        val = make_tensor("AudioSummaryV2", [_string(tag, "tag"), t, rate], {"max_outputs": max_outputs},
                          name=scope)
        _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def tensor_summary(name: str, tensor: Any, summary_description: str | None = None,
                   collections: list | None = None, summary_metadata: Any = None, family: str | None = None,
                   display_name: str | None = None) -> Tensor:
    """Outputs a `Summary` holding `tensor` as a TensorProto (op type TensorSummaryV2).

    Args:
        name: the summary's name (the tag, under the enclosing name scope).
        tensor: a tensor of any type and shape.
        summary_description: stored in the metadata's `summary_description`.
        collections: graph collections to add the summary to (default `[GraphKeys.SUMMARIES]`).
        summary_metadata: a `SummaryMetadata` proto (e.g. naming a TensorBoard plugin).
        family: a tag prefix, shown as the tab name in TensorBoard.
        display_name: stored in the metadata's `display_name`.

    Returns:
        A scalar string tensor: the serialized `Summary`.
    """
    meta = summary_pb2.SummaryMetadata()
    if summary_metadata is not None:
        meta.CopyFrom(summary_metadata)
    if summary_description is not None:
        meta.summary_description = summary_description
    if display_name is not None:
        meta.display_name = display_name
    with _summary_scope(name, family, values=[tensor]) as (tag, scope):
        t = convert_to_tensor(tensor, name="tensor")
        m = convert_to_tensor(meta.SerializeToString(), dtype=_dt.string, name="serialized_summary_metadata")
        val = make_tensor("TensorSummaryV2", [_string(tag, "tag"), t, m], name=scope)
        _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def text(name: str, tensor: Any, collections: list | None = None) -> Tensor:
    """Outputs a `Summary` with a string tensor for TensorBoard's text dashboard (Markdown).

    Args:
        name: the summary's name (the tag, under the enclosing name scope).
        tensor: a string tensor (or Python string / list of strings) of any shape.
        collections: graph collections to add the summary to (default `[GraphKeys.SUMMARIES]`).

    Returns:
        A scalar string tensor: the serialized `Summary` (a TensorSummaryV2 op).

    Raises:
        ValueError: `tensor` is not a string tensor.
    """
    t = tensor if isinstance(tensor, Tensor) else convert_to_tensor(tensor)
    if t.dtype.base_dtype != _dt.string:
        raise ValueError(f"Expected tensor {t.name} to have dtype string, got {t.dtype.base_dtype.name}")
    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    return tensor_summary(name, t, summary_metadata=meta, collections=collections)


def merge(inputs: list, collections: list | None = None, name: str | None = None) -> Tensor:
    """Merges summaries into one `Summary` (op type MergeSummary); a repeated tag fails at run time.

    Args:
        inputs: string tensors holding serialized `Summary` protos.
        collections: graph collections to add the merged summary to (default: none).
        name: a name for the op (the op is `<name>/<name>`, or `Merge/MergeSummary`, like TF).

    Returns:
        A scalar string tensor: the merged serialized `Summary`.

    Raises:
        ValueError: `inputs` is empty.
    """
    ins = [_string(x, "inputs") for x in inputs]
    if not ins:
        raise ValueError("merge: inputs must be a non-empty list of summary tensors")
    with name_scope(name, "Merge", ins):
        val = make_tensor("MergeSummary", ins, {"N": len(ins)}, name=name or "MergeSummary")
        _collect(val, collections, [])
    return val


def merge_all(key: str = GraphKeys.SUMMARIES, scope: str | None = None, name: str | None = None) -> Tensor | None:
    """Merges every summary in the collection `key` (default graph); None when there is none.

    Args:
        key: the collection holding the summaries.
        scope: keep only summaries whose name matches this regex (`re.match`).
        name: a name for the merge op.
    """
    from labflow.framework.graph import get_collection
    summaries = get_collection(key, scope=scope)
    return merge(summaries, name=name) if summaries else None


def get_summary_description(node_def: Any) -> summary_pb2.SummaryDescription:
    """The `SummaryDescription` of a TensorSummary node's `description` attr (TF's helper).

    Raises:
        ValueError: the node is not a TensorSummary op.
    """
    if node_def.op != "TensorSummary":
        raise ValueError(f"Can't get_summary_description on {node_def.op}")
    desc = summary_pb2.SummaryDescription()
    desc.ParseFromString(node_def.attr["description"].s)
    return desc


# -- the 2016 names: tf.scalar_summary & co. -----------------------------------------------------------
def scalar_summary(tags: Any, values: Any, collections: list | None = None, name: str | None = None) -> Tensor:
    """TF 0.x `tf.scalar_summary(tags, values)`: one value per tag (tags and values of the same shape)."""
    with name_scope(name, "ScalarSummary", [tags, values]) as scope:
        t, v = _string(tags, "tags"), convert_to_tensor(values, name="values")
        val = make_tensor("ScalarSummary", [t, v], name=scope)
        _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def histogram_summary(tag: Any, values: Any, collections: list | None = None, name: str | None = None) -> Tensor:
    """TF 0.x `tf.histogram_summary(tag, values)`: the tag is used as given (no name scope prefix)."""
    with name_scope(name, "HistogramSummary", [tag, values]) as scope:
        t, v = _string(tag, "tag"), convert_to_tensor(values, name="values")
        val = make_tensor("HistogramSummary", [t, v], name=scope)
        _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def image_summary(tag: Any, tensor: Any, max_images: int = 3, collections: list | None = None,
                  name: str | None = None) -> Tensor:
    """TF 0.x `tf.image_summary(tag, tensor, max_images=3)`: images tagged `tag/image/i`."""
    with name_scope(name, "ImageSummary", [tag, tensor]) as scope:
        t, x = _string(tag, "tag"), convert_to_tensor(tensor, name="tensor")
        val = make_tensor("ImageSummary", [t, x], {"max_images": max_images}, name=scope)
        _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def audio_summary(tag: Any, tensor: Any, sample_rate: Any, max_outputs: int = 3,
                  collections: list | None = None, name: str | None = None) -> Tensor:
    """TF 0.x `tf.audio_summary(tag, tensor, sample_rate, max_outputs=3)`: clips tagged `tag/audio/i`."""
    with name_scope(name, "AudioSummary", [tag, tensor]) as scope:
        rate = convert_to_tensor(sample_rate, dtype=_dt.float32, name="sample_rate")
        t, x = _string(tag, "tag"), convert_to_tensor(tensor, name="tensor")
        val = make_tensor("AudioSummaryV2", [t, x, rate], {"max_outputs": max_outputs}, name=scope)
        _collect(val, collections, [GraphKeys.SUMMARIES])
    return val


def merge_summary(inputs: list, collections: list | None = None, name: str | None = None) -> Tensor:
    """TF 0.x `tf.merge_summary(inputs)` (the op is `MergeSummary/MergeSummary` by default)."""
    ins = [_string(x, "inputs") for x in inputs]
    if not ins:
        raise ValueError("merge_summary: inputs must be a non-empty list of summary tensors")
    with name_scope(name, "MergeSummary", ins):
        val = make_tensor("MergeSummary", ins, {"N": len(ins)}, name=name or "MergeSummary")
        _collect(val, collections, [])
    return val


def merge_all_summaries(key: str = GraphKeys.SUMMARIES) -> Tensor | None:
    """TF 0.x `tf.merge_all_summaries()`: None when there is none, the summary itself when there is one."""
    from labflow.framework.graph import get_collection
    summaries = get_collection(key)
    if not summaries:
        return None
    return summaries[0] if len(summaries) == 1 else merge_summary(summaries)

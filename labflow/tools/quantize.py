"""8-bit quantization of frozen inference graphs, TF 1.x style (tensorflow/tools/quantization/
quantize_graph.py and the Graph Transform Tool's quantize_weights / quantize_nodes).

    frozen = tf.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), ["logits"])
    small = quantize_weights(frozen)                       # 4x smaller weights, float arithmetic
    q = quantize_graph(frozen, ["logits"])                 # 8-bit arithmetic, ranges measured each run
    ranges = calibrate(frozen, ["logits"], [{"x:0": batch} for batch in representative_batches])
    qc = quantize_graph(frozen, ["logits"], ranges=ranges)  # 8-bit arithmetic, fixed activation ranges

"eightbit" replaces float MatMul and Conv2D (and the bias adds, ReLUs, pools and reshapes that follow
them) with QuantizedMatMul / QuantizedConv2D / QuantizedBiasAdd / QuantizedRelu / QuantizedMaxPool / ...:
weights become quint8 constants with their float range, activations are quantized with QuantizeV2
(MIN_FIRST), qint32 accumulators are brought back to quint8 with Requantize, and float readers get a
Dequantize (see quantize_rewrite.py for the details). Outputs keep their names and float32 dtype.

Without `ranges`, every activation range is measured at run time (a Min and a Max per quantized input,
a RequantizationRange per accumulator): TF's eightbit mode. `calibrate` runs the float graph on
representative inputs and records those ranges once; the rewrite then uses them as constants (TF's
freeze_requantization_ranges / fallback ranges), which removes those reductions from every run.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.graph_io import _as_graph_def
from labflow.framework.proto_convert import make_ndarray
from labflow.framework.protos import graph_pb2
from labflow.tools.graph_util import extract_sub_graph, node_name
from labflow.tools.quantize_rewrite import EightBitRewriter, Emitter, quantize_weight, tensor_name

__all__ = ["quantize_graph", "quantize_weights", "calibrate", "MODES"]

MODES = ("eightbit", "weights")


def _outputs(output_names: Any) -> list[str]:
    if isinstance(output_names, str):
        output_names = [output_names]
    names = [node_name(o) for o in output_names or ()]
    if not names:
        raise ValueError("output_names must name at least one node the quantized graph computes")
    return names


def _check(gd: graph_pb2.GraphDef, what: str) -> graph_pb2.GraphDef:
    """Imports the result into a scratch graph: a rewrite error surfaces here, naming the node."""
    import labflow as lf
    g = lf.Graph()
    try:
        with g.as_default():
            lf.import_graph_def(gd, name="")
    except (ValueError, TypeError) as e:
        raise ValueError(f"{what} produced a graph labflow cannot import (a bug in the rewrite): {e}") from e
    return gd


def quantize_weights(graph_def: Any, minimum_size: int = 1024) -> graph_pb2.GraphDef:
    """Stores large float32 constants as quint8 plus their float range (the Graph Transform Tool's
    `quantize_weights`): the model is ~4x smaller and still computes in float.

    Each float32 Const with at least `minimum_size` elements becomes `<name>_quantized_const` (quint8),
    `<name>_quantized_min` / `_max` and a MIN_FIRST Dequantize named `<name>`, so its readers are unchanged.
    At run time the Dequantize of a constant is folded once per session (runtime/rewrite.py), for constants
    up to the folding limit; larger ones are dequantized each run.

    Args:
        graph_def: a frozen GraphDef (or its serialized bytes).
        minimum_size: smaller constants (biases, shapes) are kept as they are.

    Returns:
        The new GraphDef.
    """
    gd = _as_graph_def(graph_def)
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(gd.versions)
    emit = Emitter(out, {n.name for n in gd.node})
    for n in gd.node:
        v = make_ndarray(n.attr["value"].tensor) if n.op == "Const" else None
        if v is None or v.dtype != np.float32 or v.size < minimum_size:
            out.node.add().CopyFrom(n)
            continue
        codes, lo, hi = quantize_weight(v)
        q = emit.const(n.name + "_quantized_const", codes, _dt.quint8, n.device)
        mn = emit.const(n.name + "_quantized_min", np.float32(lo), _dt.float32, n.device)
        mx = emit.const(n.name + "_quantized_max", np.float32(hi), _dt.float32, n.device)
        emit.node("Dequantize", n.name, [q, mn, mx], {"T": _dt.quint8, "mode": "MIN_FIRST"}, n.device, exact=True)
    return _check(out, "quantize_weights")


def quantize_graph(graph_def: Any, output_names: Iterable[str], mode: str = "eightbit", *,
                   ranges: dict | None = None, fallback_range: tuple[float, float] | None = None) -> graph_pb2.GraphDef:
    """Rewrites a frozen float inference graph to 8-bit arithmetic (TF's quantize_graph.py).

    Args:
        graph_def: a frozen GraphDef (variables converted to constants), or its serialized bytes.
        output_names: the nodes the result must compute (everything else is dropped); they keep their
            names and float32 values.
        mode: "eightbit" (quantized arithmetic) or "weights" (`quantize_weights`: 8-bit storage only).
        ranges: float tensor name ("x:0") -> (min, max) of the activations, e.g. from `calibrate`; tensors
            found here are quantized with these fixed ranges instead of ones measured each run.
        fallback_range: (min, max) used for every activation without a `ranges` entry (TF's
            --quantized_fallback_min/max): fastest, and only as good as the guess.

    Returns:
        The quantized GraphDef.

    Raises:
        ValueError: an unknown mode, no output names, or an output missing from the graph.
    """
    if mode not in MODES:
        raise ValueError(f"quantize_graph: mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
    outs = _outputs(output_names)
    gd = extract_sub_graph(_as_graph_def(graph_def), outs)
    if mode == "weights":
        return quantize_weights(gd)
    if fallback_range is not None and not float(fallback_range[0]) <= float(fallback_range[1]):
        raise ValueError(f"quantize_graph: fallback_range must be (min, max) with min <= max, got {fallback_range}")
    rewritten = EightBitRewriter(gd, outs, ranges, fallback_range).rewrite()
    return _check(extract_sub_graph(rewritten, outs), "quantize_graph")


def calibrate(graph_def: Any, output_names: Iterable[str], feed_dicts: Iterable[dict],
              config: Any = None) -> dict[str, tuple[float, float]]:
    """Records the activation ranges the eightbit rewrite needs by running the float graph.

    Every float tensor the rewrite may quantize or requantize (the inputs and outputs of the nodes it
    would replace) is fetched for each feed dict, and its overall min and max kept.

    Args:
        graph_def: the frozen float GraphDef.
        output_names: as for `quantize_graph`.
        feed_dicts: representative inputs: dicts from tensor names of the graph ("x:0") to arrays.
        config: an optional ConfigProto for the session.

    Returns:
        {tensor name: (min, max)}, for `quantize_graph(..., ranges=...)`.
    """
    import labflow as lf
    outs = _outputs(output_names)
    gd = extract_sub_graph(_as_graph_def(graph_def), outs)
    rw = EightBitRewriter(gd, outs, None, None)
    for n in rw._topo():
        step = rw._decide(n)
        if step is not None:
            rw.plan[n.name] = step
    wanted = sorted({tensor_name(t) for name, (_, *ins) in rw.plan.items() for t in [name, *ins]
                     if rw._is_f32(t) and rw._float_const(t) is None})
    found: dict[str, list[float]] = {}
    g = lf.Graph()
    with g.as_default():
        lf.import_graph_def(gd, name="")
    with lf.Session(graph=g, config=config) as sess:
        for feed in feed_dicts:
            vals = sess.run(wanted, {tensor_name(k): v for k, v in feed.items()})
            for t, v in zip(wanted, vals):
                lo, hi = float(np.min(v)), float(np.max(v))
                r = found.setdefault(t, [lo, hi])
                r[0], r[1] = min(r[0], lo), max(r[1], hi)
    if not found and wanted:
        raise ValueError("calibrate: feed_dicts was empty; give at least one batch of representative inputs")
    return {t: (r[0], r[1]) for t, r in found.items()}


def main(args: Any) -> int:
    """`labflow quantize`: reads a frozen GraphDef, writes the quantized one, prints the sizes."""
    import sys

    from labflow.fileio import atomic_write
    from labflow.framework.graph_io import read_graph_def
    gd = read_graph_def(args.input)
    fallback = None
    if (args.fallback_min is None) != (args.fallback_max is None):
        print("labflow quantize: give both --fallback-min and --fallback-max, or neither", file=sys.stderr)
        return 2
    if args.fallback_min is not None:
        fallback = (args.fallback_min, args.fallback_max)
    q = quantize_graph(gd, args.outputs.split(","), mode=args.mode, fallback_range=fallback)
    data = q.SerializeToString()
    atomic_write(args.output, data)
    print(f"{args.input}: {gd.ByteSize()} bytes -> {args.output}: {len(data)} bytes ({args.mode})")
    return 0


def add_parser(sub: Any) -> None:
    """Registers the `quantize` subcommand on the CLI's subparsers."""
    p = sub.add_parser("quantize", help="quantize a frozen GraphDef to 8 bits (TF's quantize_graph)",
                       description="Rewrites a frozen inference GraphDef (.pb, variables as constants) to 8-bit "
                                   "arithmetic ('eightbit') or 8-bit weight storage ('weights').")
    p.add_argument("--in", dest="input", required=True, help="the frozen GraphDef (binary .pb or text .pbtxt)")
    p.add_argument("--out", dest="output", required=True, help="where the quantized GraphDef (binary) goes")
    p.add_argument("--outputs", required=True, help="comma-separated output node names")
    p.add_argument("--mode", choices=MODES, default="eightbit", help="default %(default)s")
    p.add_argument("--fallback-min", type=float, default=None, help="fixed activation range minimum")
    p.add_argument("--fallback-max", type=float, default=None, help="fixed activation range maximum")

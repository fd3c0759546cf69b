"""tf.profiler.profile: TF 1.x's tfprof 'scope' view of a graph (parameters, FLOPs, time and memory of a run)."""
from __future__ import annotations

import re
import sys
from typing import Any

from labflow import errors
from labflow.framework import graph as _graph
from labflow.framework.protos import tfprof_output_pb2
from labflow.profiler import flops as _flops
from labflow.profiler.option_builder import ProfileOptionBuilder

_ROOT = "_TFProfRoot"
# tfprof gives a node parameters from its static shape for these op types (Placeholder too, as TF does).
_PARAM_OPS = ("Variable", "VariableV2", "VarHandleOp", "Placeholder")
_STATS = ("run_count", "exec_micros", "accelerator_exec_micros", "cpu_exec_micros", "requested_bytes",
          "peak_bytes", "residual_bytes", "output_bytes", "parameters", "float_ops")
_ORDER_KEYS = {"name": None, "bytes": "total_requested_bytes", "peak_bytes": "total_peak_bytes",
               "residual_bytes": "total_residual_bytes", "output_bytes": "total_output_bytes",
               "micros": "total_exec_micros", "accelerator_micros": "total_accelerator_exec_micros",
               "cpu_micros": "total_cpu_exec_micros", "params": "total_parameters",
               "float_ops": "total_float_ops", "occurrence": "total_run_count"}
# The columns the text report renders; TF's other selects (device, op_types, input_shapes, ...) are not supported.
_SELECTABLE = ("bytes", "micros", "params", "float_ops", "occurrence")


class _Node:
    """A node of the name tree: one op, or a parent name no op has (TF's fake scope node)."""

    def __init__(self, name: str, op: Any = None):
        self.name = name
        self.op = op
        # A parent scope no op has gets an empty type, so account_type_regexes like '.*' account it (as TF).
        self.types: set[str] = {op.type} if op is not None else {""}
        self.stats = dict.fromkeys(_STATS, 0)
        self.children: list[_Node] = []
        self.account = False
        self.totals = dict(self.stats)


def _num(n: int) -> str:
    if n < 1000:
        return str(n)
    for scale, unit in ((1e6, "k"), (1e9, "m")):
        if n < scale:
            return f"{n / (scale / 1000):.2f}{unit}"
    return f"{n / 1e9:.2f}b"


def _time(us: int) -> str:
    if us < 1000:
        return f"{us}us"
    return f"{us / 1000:.2f}ms" if us < 1000000 else f"{us / 1e6:.2f}sec"


def _memory(b: int) -> str:
    if b < 1000:
        return f"{b}B"
    for scale, unit in ((1e6, "KB"), (1e9, "MB")):
        if b < scale:
            return f"{b / (scale / 1000):.2f}{unit}"
    return f"{b / 1e9:.2f}GB"


def _variable_params(op: Any) -> int:
    from labflow.framework.shapes import TensorShape

    shape = TensorShape(op.get_attr("shape")) if op.type == "VarHandleOp" else op.outputs[0].shape
    return shape.num_elements() or 0


def _build_nodes(graph: Any, run_meta: Any) -> dict[str, _Node]:
    nodes: dict[str, _Node] = {}
    tags = ((_graph.GraphKeys.TRAINABLE_VARIABLES, "_trainable_variables"),
            (_graph.GraphKeys.GLOBAL_VARIABLES, "_variables"))
    tagged: dict[str, set[str]] = {}
    for key, tag in tags:
        for v in graph.get_collection(key):
            op = getattr(v, "op", None)
            if op is not None:
                tagged.setdefault(op.name, set()).add(tag)
    for op in graph.get_operations():
        node = nodes[op.name] = _Node(op.name, op)
        node.types |= tagged.get(op.name, set())
        if op.type in _PARAM_OPS:
            node.stats["parameters"] = _variable_params(op)
        node.stats["float_ops"] = _flops.float_ops(op)
    if run_meta is not None:
        _add_run_stats(nodes, run_meta)
    return nodes


def _add_run_stats(nodes: dict[str, _Node], run_meta: Any) -> None:
    for dev in run_meta.step_stats.dev_stats:
        accelerator = "GPU" in dev.device.upper()
        for ns in dev.node_stats:
            node = nodes.get(ns.node_name)
            if node is None:
                # Nodes the runtime made (folded constants, Send/Recv) get their own node, typed from the label.
                node = nodes[ns.node_name] = _Node(ns.node_name)
                label = ns.timeline_label.partition(" = ")[2]
                node.types = {label.partition("(")[0]} if label else {""}
            s = node.stats
            micros = max(0, ns.op_end_rel_micros - ns.op_start_rel_micros)
            out_bytes = sum(o.tensor_description.allocation_description.requested_bytes for o in ns.output)
            s["run_count"] = 1
            s["exec_micros"] += micros
            s["accelerator_exec_micros" if accelerator else "cpu_exec_micros"] += micros
            s["requested_bytes"] += out_bytes
            s["peak_bytes"] += out_bytes
            s["output_bytes"] += out_bytes
            if accelerator:
                node.types.add("gpu")


def _tree(nodes: dict[str, _Node]) -> _Node:
    root = _Node(_ROOT)
    for name in sorted(nodes):
        child = nodes[name]
        while "/" in name:
            name = name.rsplit("/", 1)[0]
            parent = nodes.get(name)
            created = parent is None
            if created:
                parent = nodes[name] = _Node(name)
            parent.children.append(child)
            if not created:
                break
            child = parent
        else:
            root.children.append(child)
    return root


def _full_match(regexes: list[str], values: Any) -> bool:
    return any(re.fullmatch(r, v) for r in regexes for v in values)


def _account(node: _Node, opts: dict) -> bool:
    """Keeps only the subtrees that hold an accounted node (TF's TFScope::Account)."""
    node.children = [c for c in node.children if _account(c, opts)]
    node.account = _full_match(opts["account_type_regexes"], node.types)
    node.totals = {k: (v if node.account else 0) for k, v in node.stats.items()}
    for c in node.children:
        for k, v in c.totals.items():
            node.totals[k] += v
    return node.account or bool(node.children)


def _should_show(node: _Node, opts: dict, depth: int) -> bool:
    # As TF: memory and time limits apply to the accounted subtree, parameter/FLOP/run limits to the node itself.
    subtree = (("requested_bytes", "min_bytes"), ("peak_bytes", "min_peak_bytes"),
               ("residual_bytes", "min_residual_bytes"), ("output_bytes", "min_output_bytes"),
               ("exec_micros", "min_micros"), ("accelerator_exec_micros", "min_accelerator_micros"),
               ("cpu_exec_micros", "min_cpu_micros"))
    own = (("parameters", "min_params"), ("float_ops", "min_float_ops"), ("run_count", "min_occurrence"))
    if (any(node.totals[stat] < opts.get(limit, 0) for stat, limit in subtree)
            or any(node.stats[stat] < opts.get(limit, 0) for stat, limit in own) or depth > opts["max_depth"]):
        return False
    return _full_match(opts["show_name_regexes"], [node.name]) and not _full_match(
        opts["hide_name_regexes"], [node.name])


def _proto(node: _Node) -> Any:
    p = tfprof_output_pb2.GraphNodeProto(name=node.name, **node.stats)
    if node.op is not None:
        if node.op.device:
            p.devices.append(node.op.device)
        for t in node.op.outputs:
            if t.shape.ndims is not None:
                p.shapes.add().CopyFrom(t.shape.as_proto())
        for i, t in enumerate(node.op.inputs):
            if t.shape.ndims is not None:
                p.input_shapes[i].CopyFrom(t.shape.as_proto())
    return p


def _add_totals(p: Any, node: _Node | None, children: list, sources: list | None = None) -> None:
    """Sets p's totals: definitions over the displayed `children`, statistics over `sources` (default: them)."""
    own = node is not None and node.account
    p.total_definition_count = 1 + sum(c.total_definition_count for c in children)
    sources = children if sources is None else sources
    for stat in _STATS:
        total = "total_" + stat
        setattr(p, total, (node.stats[stat] if own else 0) + sum(getattr(c, total) for c in sources))


def _order(children: list, opts: dict) -> list:
    key = _ORDER_KEYS[opts["order_by"]]
    if key is None:
        return sorted(children, key=lambda c: c.name)
    return sorted(children, key=lambda c: (-getattr(c, key), c.name))


def _show(node: _Node, opts: dict, depth: int, started: bool) -> list:
    """The displayed protos of `node`'s subtree: a hidden node hands its displayed descendants to its parent."""
    started = started or _full_match(opts["start_name_regexes"], [node.name])
    shown = started and _should_show(node, opts, depth)
    kids: list = []
    if not _full_match(opts["trim_name_regexes"], [node.name]):
        for c in node.children:
            kids += _show(c, opts, depth + 1, started)
    if not shown:
        return kids
    p = _proto(node)
    p.children.extend(_order(kids, opts))
    _add_totals(p, node, kids, None if opts["account_displayed_op_only"] else [_all_totals(c) for c in node.children])
    return [p]


def _all_totals(node: _Node) -> Any:
    """Totals over every accounted node below, shown or not (account_displayed_op_only=False)."""
    return tfprof_output_pb2.GraphNodeProto(**{"total_" + k: v for k, v in node.totals.items()})


def _fields(p: Any, node: _Node | None, select: list[str]) -> str:
    """One report row's columns in TF's order: bytes, times, parameters, FLOPs, runs; '--' marks unaccounted."""
    account = node is not None and node.account

    def pair(stat: str, fmt: Any) -> str:
        own = fmt(getattr(p, stat)) if account else "--"
        return f"{own}/{fmt(getattr(p, 'total_' + stat))}"

    out = []
    if "bytes" in select:
        out.append(pair("requested_bytes", _memory))
    if "micros" in select:
        out += [pair(s, _time) for s in ("exec_micros", "accelerator_exec_micros", "cpu_exec_micros")]
    if "params" in select:
        shape = ""
        if account and p.shapes and node.op is not None and node.op.type in _PARAM_OPS:
            dims = [str(d.size) for d in p.shapes[0].dim]
            shape = ("x".join(dims) + ", ") if dims else ""
        out.append(shape + pair("parameters", _num) + " params")
    if "float_ops" in select:
        out.append(pair("float_ops", _num) + " flops")
    if "occurrence" in select:
        out.append(pair("run_count", str) + " occurrence")
    return ", ".join(out)


def _render(root: Any, nodes: dict[str, _Node], opts: dict) -> str:
    """The report's 'Profile:' table: a header, then one indented row per displayed node."""
    select = opts["select"]
    heads = {"bytes": "requested bytes", "micros": "total execution time | accelerator execution time | "
             "cpu execution time", "params": "# parameters", "float_ops": "# float_ops",
             "occurrence": "# occurrence"}
    header = " | ".join(["node name"] + [heads[s] for s in heads if s in select])
    lines = [header]

    def walk(p: Any, indent: int) -> None:
        lines.append(f"{'  ' * indent}{p.name} ({_fields(p, nodes.get(p.name), select)})")
        for c in p.children:
            walk(c, indent + 1)

    walk(root, 0)
    return "\n".join(lines)


def _check_options(options: dict) -> dict:
    opts = dict(options)
    for key, value in ProfileOptionBuilder().build().items():
        opts.setdefault(key, value)
    if opts["order_by"] not in _ORDER_KEYS:
        raise errors.InvalidArgumentError(
            None, None, f"tf.profiler options: order_by={opts['order_by']!r} is not one of {sorted(_ORDER_KEYS)}")
    bad = [s for s in opts["select"] if s not in _SELECTABLE]
    if bad:
        raise errors.InvalidArgumentError(
            None, None, f"tf.profiler options: select has attributes labflow does not report {bad}; use some of "
            f"{list(_SELECTABLE)}")
    out = opts["output"]
    if not (out in ("stdout", "none") or out.startswith("file:outfile=")):
        raise errors.UnimplementedError(
            None, None, f"tf.profiler options: output {out!r} is not supported by labflow; use stdout, none "
            "(with_empty_output) or file:outfile=PATH (with_file_output)")
    return opts


def _options_text(opts: dict) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return ",".join(v) if isinstance(v, list) else str(v)

    rows = [f"-{k:<26} {value(v)}" for k, v in opts.items() if k != "output"]
    rows.append(f"-{'output':<26} {opts['output']}:")
    return "\n".join(["", "=" * 25 + "Options" + "=" * 29, *rows, ""])


def _emit(text: str, opts: dict) -> None:
    out = opts["output"]
    if out == "stdout":
        sys.stdout.write(_options_text(opts) + "\n" + "=" * 18 + "Model Analysis Report" + "=" * 22 + "\n"
                         + text + "\n\n" + "=" * 22 + "End of Report" + "=" * 26 + "\n")
    elif out.startswith("file:outfile="):
        with open(out[len("file:outfile="):], "w", encoding="utf-8") as f:
            f.write(text + "\n")


def profile(graph: Any = None, run_meta: Any = None, op_log: Any = None, cmd: str = "scope",
            options: dict | None = None) -> Any:
    """Profiles a graph (and optionally one traced run) the way TF 1.x's tfprof does.

    Args:
        graph: The Graph to profile; None profiles the default graph.
        run_meta: A RunMetadata from `sess.run(..., options=RunOptions(trace_level=FULL_TRACE),
            run_metadata=...)`; it adds execution time and memory (output bytes) per op.
        op_log: TF's OpLogProto of extra op types; labflow supports only None.
        cmd: The view: 'scope' (nodes organized by name scope). Other TF views are not supported.
        options: A dict from ProfileOptionBuilder; None means
            ProfileOptionBuilder.trainable_variables_parameter().

    Returns:
        A GraphNodeProto rooted at '_TFProfRoot' whose children are the displayed nodes, with self
        (`parameters`, `float_ops`, `exec_micros`, ...) and subtree (`total_*`) statistics.

    Raises:
        InvalidArgumentError: options hold an unknown order_by or select attribute.
        UnimplementedError: a cmd other than 'scope', an op_log, or an output other than stdout, none or file.
    """
    if cmd != "scope":
        raise errors.UnimplementedError(
            None, None, f"tf.profiler.profile: cmd={cmd!r} is not supported by labflow; use cmd='scope'")
    if op_log is not None:
        raise errors.UnimplementedError(
            None, None, "tf.profiler.profile: op_log is not supported by labflow; pass op_log=None")
    opts = _check_options(ProfileOptionBuilder.trainable_variables_parameter() if options is None else options)
    graph = _graph.get_default_graph() if graph is None else graph
    nodes = _build_nodes(graph, run_meta)
    tree = _tree(nodes)
    _account(tree, opts)
    root = tfprof_output_pb2.GraphNodeProto(name=_ROOT)
    kids = [p for c in tree.children for p in _show(c, opts, 2, False)]
    root.children.extend(_order(kids, opts))
    _add_totals(root, None, kids,
                None if opts["account_displayed_op_only"] else [_all_totals(c) for c in tree.children])
    _emit(_render(root, nodes, opts), opts)
    return root

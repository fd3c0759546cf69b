"""Step 4 and 5: compile a partition into one flat Python function, and run it.

Each partition becomes generated source with one line per node, e.g.

    v7 = k3(xp, v2, v5, transpose_a=a3_0, transpose_b=a3_1); del v2

Kernels, attrs and contexts are bound as globals at compile time, values live in local variables
and are released (`del`) right after their last consumer. A failing line maps back to its node,
so errors name the op without any bookkeeping on the hot path.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import sys
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.backend import threads
from labflow.runtime.devices import Device, deref
from labflow.runtime.partition import FEED, FETCH, Partition, PNode

_plan_ids = itertools.count(1)

# Ops whose NumPy kernels may return a view of (or the object of) their first input: a fetch whose
# value might alias a variable's storage or a constant is copied, so later updates never reach it.
VIEW_OPS = frozenset({"Identity", "Reshape", "Squeeze", "ExpandDims", "Transpose", "StridedSlice",
                      "Slice", "StopGradient", "Snapshot", "PreventGradient", "Unpack", "Split",
                      "SplitV", "ReverseV2", "PlaceholderWithDefault", "BroadcastTo", "Cast",
                      "IdentityN", "Sum"})


class NodeContext:
    """What a `needs_ctx` kernel sees of its node: name, device, resources and attrs."""

    __slots__ = ("name", "op", "device", "resources", "attrs", "state", "used_outputs")

    def __init__(self, node: PNode):
        self.name = node.name
        self.op = node.op
        self.device = node.device
        self.resources = node.device.resources
        self.attrs = node.attrs
        self.state: Any = None
        # which outputs the plan reads (set at compile time): a kernel may skip work for the others
        self.used_outputs: list[bool] | None = None


class Step:
    """The per-run state a `needs_step` kernel sees: the rendezvous and the step id.

    Kernels that block (queue dequeues, accumulator takes) wait in short slices and call
    `check_cancelled()` between them, so an aborted step or a closed session never leaves them waiting.
    """

    __slots__ = ("rendezvous", "step_id", "session", "traces")

    def __init__(self, rendezvous: Any, step_id: int, session: Any = None, traces: list | None = None):
        self.rendezvous = rendezvous
        self.step_id = step_id
        self.session = session
        self.traces = traces

    def check_cancelled(self) -> None:
        """Raises the step's abort error (e.g. CancelledError) once the step or its session was cancelled."""
        err = getattr(self.rendezvous, "error", None)
        if err is not None:
            raise err


def _copy(v: Any) -> Any:
    """A fetched value the user owns: arrays copied, 0-d results as NumPy scalars / bytes (like TF)."""
    if getattr(v, "ndim", 1) == 0:
        return v[()]
    return v.copy() if hasattr(v, "copy") else v


def _scalar(v: Any) -> Any:
    """0-d arrays are returned as NumPy scalars (or bytes for strings), as TF's Session.run does."""
    return v[()] if type(v) is np.ndarray and v.ndim == 0 else v


class CompiledPartition:
    """A partition's generated function plus what is needed to map failures back to nodes."""

    def __init__(self, device: Device, fn: Any, filename: str, line_nodes: dict[int, PNode], source: str,
                 feed_indices: list[int], nodes: list[PNode]):
        self.device = device
        self.fn = fn
        self.filename = filename
        self.line_nodes = line_nodes
        self.source = source
        self.feed_indices = feed_indices
        self.nodes = nodes

    def node_for_traceback(self, tb: Any) -> PNode | None:
        node = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                node = self.line_nodes.get(tb.tb_lineno)
            tb = tb.tb_next
        return node


def _device_copy(v: Any) -> Any:
    return v.copy() if hasattr(v, "copy") else v


def _may_alias_variable(src: PNode, idx: int) -> bool:
    """True when the value of (src, idx) may share memory with a variable (updated in place later)."""
    seen = 0
    while True:
        if src.out_dtypes[idx].is_ref_dtype:
            return True
        if src.type not in VIEW_OPS or not src.inputs or seen > 100:
            return False
        src, idx = src.inputs[0]
        seen += 1


def _may_alias_state(src: PNode, idx: int) -> bool:
    """True when the value of (src, idx) may share memory with a variable or a constant."""
    seen = 0
    while True:
        if src.type == "Const" or src.out_dtypes[idx].is_ref_dtype or src.type == FEED:
            return True
        if src.type not in VIEW_OPS or not src.inputs or seen > 100:
            return False
        src, idx = src.inputs[0]
        seen += 1


def compile_partition(part: Partition, traced: bool = False, index: int = 0,
                      function: bool = False) -> CompiledPartition:
    """Generates and compiles the flat plan of one partition.

    `traced` makes a separate variant that records (node, start, end, outputs) per node into
    `step.traces[index]`; the untraced plan has no timing code at all, so tracing off costs nothing.
    `function`: the plan of a control-flow function (runtime/functions.py): its results stay where they
    are (on the device, 0-d arrays as arrays), copied only when they may share a variable's storage.
    """
    dev = part.device
    xp = dev.xp
    nodes = part.nodes
    g: dict[str, Any] = {"xp": xp, "_deref": deref, "_copy": _copy, "_scalar": _scalar, "_np": np,
                         "_dcopy": _device_copy, "__builtins__": __builtins__}
    if dev.device_type == "GPU":
        from labflow.backend import to_numpy
        g["_host"] = to_numpy
        g["_todev"] = dev.to_device

    gpu = dev.device_type == "GPU"
    # Where each value lives on a GPU partition: "dev" (a CuPy array) or "host" (NumPy: outputs of
    # host ops such as shape arithmetic, and constants, which keep a host copy for host inputs).
    loc: dict[tuple[int, int], str] = {}
    # Last use of every produced value, so it can be released right after.
    slot: dict[tuple[int, int], str] = {}
    last_use: dict[tuple[int, int], int] = {}
    pos = {id(n): i for i, n in enumerate(nodes)}
    for i, n in enumerate(nodes):
        for src, k in n.inputs:
            last_use[(id(src), k)] = i
    counter = itertools.count()

    def var(src: PNode, k: int) -> str:
        key = (id(src), k)
        v = slot.get(key)
        if v is None:
            v = slot[key] = f"v{next(counter)}"
        return v

    def fetch_expr(src: PNode, k: int, want: str) -> str:
        """The expression giving value (src, k) where `want` ("dev"/"host") it, converting if needed."""
        e = var(src, k)
        if not gpu:
            return e
        have = loc.get((id(src), k), "dev")
        if have == "const":
            return f"h{id(src)}" if want == "host" else e
        if have == want:
            return e
        return f"_host({e})" if want == "host" else f"_todev({e})"

    body: list[str] = []
    line_nodes: dict[int, PNode] = {}
    for i, n in enumerate(nodes):
        releases = [var(s, k) for s, k in dict.fromkeys(n.inputs) if last_use.get((id(s), k)) == i]
        if n.type == FEED:
            src_expr = f"feeds[{n.attrs['index']}]"
            # (a variant, a TensorArray's list, stays the Python object it is)
            to_dev = dev.device_type == "GPU" and n.out_dtypes[0].base_dtype != _dt.variant
            stmt = f"{var(n, 0)} = " + (f"_todev({src_expr})" if to_dev else src_expr)
            if (id(n), 0) not in last_use:
                stmt = "pass"
        elif n.type == FETCH and function:
            src, k = n.inputs[0]
            e = fetch_expr(src, k, "dev") if not src.out_dtypes[k].is_ref_dtype else f"_deref({var(src, k)})"
            if src.out_dtypes[k].is_ref_dtype or _may_alias_variable(src, k):
                e = f"_dcopy({e})"
            stmt = f"out[{n.attrs['index']}] = {e}"
        elif n.type == FETCH:
            src, k = n.inputs[0]
            e = fetch_expr(src, k, "host") if not src.out_dtypes[k].is_ref_dtype else var(src, k)
            if src.out_dtypes[k].is_ref_dtype:
                e = f"_deref({e})"
                if gpu:
                    e = f"_host({e})"
            e = f"_copy({e})" if _may_alias_state(src, k) else f"_scalar({e})"
            stmt = f"out[{n.attrs['index']}] = {e}"
        else:
            stmt = _node_call(i, n, dev, xp, g, var, last_use, fetch_expr, loc)
            if traced:
                stmt = _traced(stmt, i, gpu)
        if releases:
            stmt += "; del " + ", ".join(releases)
        body.append(stmt)
        line_nodes[len(body) + (3 if traced else 2)] = n  # the def and `with` lines (and _tr) come first
    del pos
    plan_id = next(_plan_ids)
    filename = f"<labflow plan {plan_id} {dev.name}>"
    head = "with _np.errstate(all='ignore'), _devctx:" if gpu else "with _np.errstate(all='ignore'):"
    if gpu:
        g["_devctx"] = dev.xp.cuda.Device(dev.index)
    elif any(n.opdef is not None and n.opdef.blas for n in nodes):
        g["_blas"] = threads.StepTuner()
        head = head[:-1] + ", _blas:"
    if traced:
        import time
        g["_now"] = time.perf_counter
        if gpu:
            g["_sync"] = dev.xp.cuda.runtime.deviceSynchronize
        import threading
        g["_ident"] = threading.get_native_id
        head = f"_tr = step.traces[{index}]; _tid = _ident()\n    {head}"
    src = f"def _plan(feeds, out, step):\n    {head}\n"
    src += "".join(f"        {s}\n" for s in body) if body else "        pass\n"
    code = compile(src, filename, "exec")
    exec(code, g)
    return CompiledPartition(dev, g["_plan"], filename, line_nodes, src, part.feed_indices, nodes)


def _traced(stmt: str, i: int, gpu: bool) -> str:
    """Wraps one node's statement with timing and a record of its outputs (for step stats)."""
    outs = "()"
    if " = " in stmt and stmt.startswith("v"):
        lhs = stmt.split(" = ", 1)[0]
        names = [v for v in lhs.split(", ") if v != "_"]
        outs = "(" + "".join(f"{v}, " for v in names) + ")"
    sync = "_sync(); " if gpu else ""
    return f"_t = _now(); {stmt}; {sync}_tr.append(({i}, _t, _now(), {outs}, _tid))"


_HOST_INT_DTYPES = frozenset({"int32", "int64"})


def _host_math(n: PNode, loc: dict) -> bool:
    """Whether a GPU node computes on the host: math over values that already live there.

    TF keeps int32 tensors of a GPU in host memory (its int32 GPU kernels are HostMemory
    registrations), so shape arithmetic never touches the device. The same here: a pure op whose
    inputs are all host values or constants and whose inputs and outputs are all int32/int64 runs
    its NumPy kernel; a gradient's `Prod(Shape(x)) // Maximum(...)` chain then costs no launches and
    no transfers. So does such an op over scalars of any dtype (a Mean gradient's
    `1 / Cast(count)`): a launch costs 10-25 us of host time, one scalar's copy to the device, where a
    consumer needs it, about as much as one launch. Values computed on the device stay there (a device
    tensor is never pulled back).
    """
    opdef = n.opdef
    if (not n.inputs or not n.out_dtypes or opdef.stateful or opdef.needs_ctx or opdef.needs_step
            or opdef.ref_inputs or opdef.session_constant or not opdef.has_kernel("CPU")):
        return False
    if any(loc.get((id(src), k), "dev") == "dev" for src, k in n.inputs):
        return False
    if all(src.out_dtypes[k].name in _HOST_INT_DTYPES for src, k in n.inputs) and all(
            d.name in _HOST_INT_DTYPES for d in n.out_dtypes):
        return True
    return all(src.out_dims[k] == () for src, k in n.inputs) and all(d == () for d in n.out_dims)


def _node_call(i: int, n: PNode, dev: Device, xp: Any, g: dict, var: Any, last_use: dict, fetch_expr: Any,
               loc: dict) -> str:
    opdef = n.opdef
    gpu = dev.device_type == "GPU"
    host_math = gpu and not opdef.host_op and _host_math(n, loc)
    on_host = gpu and (opdef.host_op or host_math)
    args = []
    nin = len(n.inputs)
    # host_inputs may count from the end (-1: the axis after a variadic list, as in ConcatV2).
    host_in = {h % nin for h in opdef.host_inputs} if nin else set()
    for j, (src, k) in enumerate(n.inputs):
        if src.out_dtypes[k].is_ref_dtype and j not in opdef.ref_inputs:
            e = f"_deref({var(src, k)})"
            if on_host or j in host_in:
                e = f"_host({e})" if gpu else e
        elif j in opdef.ref_inputs:
            e = var(src, k)
        else:
            e = fetch_expr(src, k, "host" if (on_host or j in host_in) else "dev")
        args.append(e)
    host_out = gpu and (opdef.host_outputs or host_math)
    if gpu:
        for k in range(len(n.out_dtypes)):
            loc[(id(n), k)] = "host" if host_out else "dev"
    kxp = np if host_out else xp
    g[f"x{i}"] = kxp
    fn = getattr(kxp, opdef.xp_fn, None) if opdef.xp_fn else None
    if n.type == "Const":
        # A constant is bound once at compile time: running it costs nothing. On a GPU it keeps a
        # host copy too, for consumers that read it on the host (axes, shapes).
        value = n.attrs["value"]
        if gpu:
            g[f"h{id(n)}"] = value
            loc[(id(n), 0)] = "const"
            if value.dtype == object:
                loc[(id(n), 0)] = "host"
            else:
                value = dev.to_device(value)
        g[f"k{i}"] = value
        return f"{var(n, 0)} = k{i}" if (id(n), 0) in last_use else "pass"
    if fn is not None:
        g[f"k{i}"] = fn
        call = f"k{i}({', '.join(args)})"
    else:
        kernel = opdef.kernel_for("CPU" if host_math else dev.device_type)
        if kernel is None:
            raise errors.NotFoundError(None, n.op, f"No kernel for op '{n.name}' (type {n.type}) on device "
                                       f"{dev.name}; kernels exist for: {', '.join(opdef.kernel_devices())}")
        if opdef.session_constant:
            kwargs = {a: n.attrs[a] for a in opdef.attrs if a in opdef.kernel_attrs}
            if opdef.needs_ctx:
                kwargs["ctx"] = NodeContext(n)
            g[f"k{i}"] = kernel(kxp, **kwargs)
            return f"{var(n, 0)} = k{i}" if (id(n), 0) in last_use else "pass"
        g[f"k{i}"] = kernel
        kw = []
        for j, a in enumerate(opdef.attrs):
            if a in opdef.kernel_attrs:
                g[f"a{i}_{j}"] = n.attrs[a]
                kw.append(f"{a}=a{i}_{j}")
        if opdef.needs_ctx:
            g[f"c{i}"] = NodeContext(n)
            kw.append(f"ctx=c{i}")
        if opdef.needs_step:
            kw.append("step=step")
        call = f"k{i}({', '.join([f'x{i}'] + args + kw)})"
    nout = len(n.out_dtypes)
    used = [(id(n), k) in last_use for k in range(nout)]
    if opdef.needs_ctx and f"c{i}" in g:
        g[f"c{i}"].used_outputs = used
    if nout == 0 or not any(used):
        return call
    if nout == 1:
        return f"{var(n, 0)} = {call}"
    return ", ".join(var(n, k) if used[k] else "_" for k in range(nout)) + f" = {call}"


def translate_error(exc: BaseException, compiled: CompiledPartition) -> BaseException:
    """Turns any failure inside a plan into an `OpError` naming the node, its type and device.

    The error also carries `node_name`, which is how a remote task names the failing node to the client.
    """
    node = compiled.node_for_traceback(sys.exc_info()[2] if exc is sys.exc_info()[1] else exc.__traceback__)
    err = _translate(exc, node)
    if node is not None and isinstance(err, errors.OpError) and not getattr(err, "node_name", None):
        err.node_name = node.name
    return err


def run_partitions(partitions: list[CompiledPartition], feeds: list, out: list, step: Step, pool: Any
                   ) -> BaseException | None:
    """Runs a step's partitions concurrently (a lone one on the calling thread) and returns its error.

    The first failure aborts the step's rendezvous, so sibling partitions waiting in a Recv or a blocking
    kernel end with CancelledError instead of hanging; the error returned is the real one, not those.
    """
    failures: list[BaseException] = []

    def run_one(cp: CompiledPartition) -> None:
        try:
            cp.fn(feeds, out, step)
        except Exception as e:  # noqa: BLE001 - the first error wins; siblings are cancelled
            err = translate_error(e, cp)
            failures.append(err)
            step.rendezvous.abort(errors.CancelledError(None, None, f"Step cancelled: a partition on "
                                                        f"{cp.device.name} failed: {getattr(err, 'message', err)}"))

    if len(partitions) == 1:
        run_one(partitions[0])
    else:
        concurrent.futures.wait([pool.submit(run_one, cp) for cp in partitions])
    if not failures:
        return None
    real = [f for f in failures if not isinstance(f, errors.CancelledError)]
    return (real or failures)[0]


def _translate(exc: BaseException, node: PNode | None) -> BaseException:
    if node is None:
        return exc
    where = f"[[node {node.name} (op: {node.type}) on {node.device.name}]]"
    if isinstance(exc, errors.OpError):
        if exc.op is None and node.op is not None:
            new = type(exc)(exc.node_def, node.op, f"{exc.message}\n\t {where}")
            return new
        return exc
    if isinstance(exc, MemoryError):
        cls = errors.ResourceExhaustedError
        msg = f"Out of memory while running op '{node.name}' (op: {node.type}) on {node.device.name}"
    else:
        cls = errors.InvalidArgumentError
        msg = f"{node.type} failed: {type(exc).__name__}: {exc}"
    return cls(None, node.op, f"{msg}\n\t {where}")

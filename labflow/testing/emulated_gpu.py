"""An emulated GPU: a NumPy-backed stand-in for the part of CuPy labflow uses, which counts launches.

For developing GPU code paths on a machine without a GPU. Inside `with emulated_gpu() as emu:` a
local session gets a /device:GPU:0 whose kernels run through the `xp is not np` branches labflow takes
on a real GPU, with NumPy doing the arithmetic. It checks the Python side of those paths (placement,
host/device copies, which code runs), never the CUDA kernels themselves: `cupy.fuse` functions and
ElementwiseKernel bodies are run by NumPy (a kernel body as Python statements), and labflow's
RawKernels by their NumPy twins (`ReferenceKernel`).

It also counts what would be kernel launches: every ufunc call or reduction on a device array, every
other array function, copies, fused functions and ElementwiseKernels (one each); host<->device copies
are counted apart. A real GPU step is often bound by launches (each ~5-10 us of host time in CuPy, far
more than the kernel takes on small tensors), so `emu.launches` is a proxy for its dispatch cost.
`node_launches(run_metadata)` attributes them to the nodes of a FULL_TRACE run.

Not a GPU simulator: timings of emulated runs mean nothing.
"""

from __future__ import annotations

import collections
import contextlib
import re
import types
from typing import Any, Iterator

import numpy as np

# Array functions that never launch a kernel in CuPy (views, metadata, allocation without init).
_NO_LAUNCH = frozenset({"empty", "empty_like", "reshape", "transpose", "swapaxes", "moveaxis", "expand_dims",
                        "squeeze", "broadcast_to", "ndim", "shape", "result_type", "can_cast", "iinfo",
                        "finfo", "issubdtype", "isscalar", "dtype", "broadcast_shapes", "split",
                        "atleast_1d", "atleast_2d", "ravel"})


class _State:
    def __init__(self) -> None:
        self.launches: collections.Counter = collections.Counter()
        self.transfers = 0
        self.paused = 0
        self.marks: list[int] = []
        self.total = 0

    def count(self, label: str) -> None:
        if not self.paused:
            self.launches[label] += 1
            self.total += 1


_state = _State()


@contextlib.contextmanager
def _uncounted() -> Iterator[None]:
    """What a counted operation does inside (NumPy's own ufunc calls) is part of its one launch."""
    _state.paused += 1
    try:
        yield
    finally:
        _state.paused -= 1


class ndarray(np.ndarray):  # noqa: N801 - CuPy's name
    """A device array: a NumPy array whose operations are counted as kernel launches."""

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        args = [np.asarray(x) if isinstance(x, ndarray) else x for x in inputs]
        outs = kwargs.get("out")
        if outs is not None:
            kwargs["out"] = tuple(np.asarray(o) if isinstance(o, ndarray) else o for o in outs)
        _state.count(ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}")
        with _uncounted():
            result = getattr(ufunc, method)(*args, **kwargs)
        if outs is not None and method != "at":
            return outs[0] if len(outs) == 1 else tuple(outs)
        return _wrap(result)

    def __getitem__(self, index: Any) -> Any:
        fancy = any(isinstance(i, (np.ndarray, list)) for i in (index if isinstance(index, tuple) else (index,)))
        if fancy:
            _state.count("take")
        with _uncounted():
            return _wrap(np.asarray(self)[_host(index) if fancy else index])

    def __setitem__(self, index: Any, value: Any) -> None:
        _state.count("setitem")
        np.asarray(self)[_host(index)] = _host(value)

    def copy(self, order: str = "C") -> Any:
        _state.count("copy")
        return np.asarray(self).copy(order).view(ndarray)

    def astype(self, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True,
               copy: bool = True) -> Any:
        if np.dtype(dtype) == self.dtype and not copy:
            return self
        _state.count("astype")
        return np.asarray(self).astype(dtype, order=order, casting=casting, copy=copy).view(ndarray)

    def get(self) -> np.ndarray:
        """The host copy (CuPy's `ndarray.get`)."""
        _state.transfers += 1
        return np.array(self)


ndarray.__module__ = "cupy_emulated"  # labflow tells device arrays by their class's module


def _wrap(value: Any) -> Any:
    """Device results as device arrays; CuPy returns 0-d arrays where NumPy returns scalars."""
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, np.ndarray):
        return value if isinstance(value, ndarray) else value.view(ndarray)
    if isinstance(value, np.generic):
        return np.asarray(value).view(ndarray)
    return value


def _host(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return type(value)(_host(v) for v in value)
    return np.asarray(value) if isinstance(value, ndarray) else value


def _on_device(args: Any) -> bool:
    return any(isinstance(a, ndarray) or (isinstance(a, (list, tuple)) and _on_device(a)) for a in args)


def _function(name: str, fn: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        if name not in _NO_LAUNCH:
            _state.count(name)
        with _uncounted():
            return _wrap(fn(*_host(list(args)), **{k: _host(v) for k, v in kwargs.items()}))
    call.__name__ = name
    return call


def asarray(value: Any, dtype: Any = None, order: Any = None) -> ndarray:
    if isinstance(value, ndarray) and (dtype is None or np.dtype(dtype) == value.dtype):
        return value
    if isinstance(value, ndarray):
        _state.count("astype")
    else:
        _state.transfers += 1
    return np.array(np.asarray(value), dtype=dtype, order=order or "K").view(ndarray)


def array(value: Any, dtype: Any = None, copy: bool = True, order: str = "K", ndmin: int = 0) -> ndarray:
    if isinstance(value, ndarray):
        _state.count("copy")
    else:
        _state.transfers += 1
    return np.array(np.asarray(value) if isinstance(value, ndarray) else value, dtype=dtype, copy=True,
                    order=order, ndmin=ndmin).view(ndarray)


def asnumpy(value: Any) -> np.ndarray:
    if isinstance(value, ndarray):
        _state.transfers += 1
        return np.array(value)
    return np.asarray(value)


def fuse(*args: Any, kernel_name: str | None = None) -> Any:
    """cupy.fuse: the function becomes one launch (its ops run uncounted, on NumPy)."""
    def deco(fn: Any) -> Any:
        def call(*xs: Any) -> Any:
            _state.count(f"fuse:{kernel_name or fn.__name__}")
            with _uncounted():
                return _wrap(fn(*_host(list(xs))))
        return call
    return deco(args[0]) if args and callable(args[0]) else deco


class ElementwiseKernel:
    """cupy.ElementwiseKernel, its C body run as Python statements over NumPy arrays (type declarations
    dropped); output arguments are updated in place, as CuPy does when they are passed."""

    def __init__(self, in_params: str, out_params: str, operation: str, name: str = "kernel", **_: Any):
        self.ins = [p.split()[-1] for p in in_params.split(",")]
        self.outs = [p.split()[-1] for p in out_params.split(",")]
        body = re.sub(r"^\s*[A-Za-z_][\w<>]*\s+(?=[A-Za-z_]\w*\s*=)", "", operation.strip(), flags=re.M)
        self.code = compile(body.replace(";", ""), f"<ElementwiseKernel {name}>", "exec")
        self.name = name

    def __call__(self, *args: Any) -> Any:
        _state.count(f"kernel:{self.name}")
        arrays = [np.asarray(a) for a in args]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        outs = arrays[len(self.ins):]
        scope = {n: np.broadcast_to(a, shape).copy() if a.shape != shape else a.copy()
                 for n, a in zip(self.ins + self.outs, arrays)}
        scope.update(sqrt=np.sqrt, exp=np.exp, log=np.log, tanh=np.tanh)
        exec(self.code, scope)
        for name, dst in zip(self.outs, outs):
            dst[...] = scope[name]
        return args[len(self.ins)] if len(self.outs) == 1 else tuple(args[len(self.ins):])


class ReferenceKernel:
    """Stands in for a hand-written CUDA RawKernel (labflow/ops/gpu_raw_kernels.py), whose C this
    emulator cannot run: one counted launch of the kernel's NumPy twin, which writes its outputs in
    place. Only the emulator has this name: labflow uses it to know it runs on one."""

    def __init__(self, name: str, reference: Any):
        self.name, self.reference = name, reference

    def __call__(self, *args: Any) -> Any:
        _state.count(f"kernel:{self.name}")
        with _uncounted():
            self.reference(*[np.asarray(a) if isinstance(a, np.ndarray) else a for a in args])
        return args[-1]


class _Pool:
    def __init__(self) -> None:
        self.limit = 0

    def set_limit(self, size: int = 0, fraction: float = 0.0) -> None:
        self.limit = int(fraction * _PROPS["totalGlobalMem"]) if fraction else size

    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass


_PROPS = {"name": b"labflow emulated GPU", "totalGlobalMem": 16 << 30, "major": 9, "minor": 0}
_pool = _Pool()


class _Device:
    def __init__(self, index: int = 0):
        self.id = index

    def __enter__(self) -> _Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def use(self) -> None:
        pass

    def synchronize(self) -> None:
        pass


def _synchronize() -> None:
    # Called after every node of a traced GPU plan: marks where one node's launches end.
    _state.marks.append(_state.total)


class _RandomState:
    """cupy.random.RandomState: its float samplers take `dtype` (NumPy's legacy ones do not)."""

    def __init__(self, seed: Any = None):
        self._rs = np.random.RandomState(seed)

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._rs, name)
        if not callable(fn):
            return fn
        if name in ("random_sample", "standard_normal", "uniform", "normal"):
            def typed(*args: Any, dtype: Any = float, **kwargs: Any) -> Any:
                return fn(*args, **kwargs).astype(dtype, copy=False)
            return _function(f"random.{name}", typed)
        return _function(f"random.{name}", fn)


class _SpecialModule(types.ModuleType):
    """cupyx.scipy.special: scipy.special's functions, each call one counted launch."""

    def __getattr__(self, name: str) -> Any:
        import scipy.special
        fn = _function(f"special.{name}", getattr(scipy.special, name))
        setattr(self, name, fn)
        return fn


class _Module(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        value = getattr(np, name)
        if isinstance(value, (np.ufunc, type, types.ModuleType)) or not callable(value):
            return value
        fn = _function(name, value)
        setattr(self, name, fn)
        return fn


def _module() -> _Module:
    m = _Module("cupy_emulated")
    m.ndarray = ndarray
    m.asarray, m.array, m.asnumpy, m.fuse, m.ElementwiseKernel = asarray, array, asnumpy, fuse, ElementwiseKernel
    m.ReferenceKernel = ReferenceKernel
    m.get_default_memory_pool = lambda: _pool
    m.random = types.SimpleNamespace(RandomState=_RandomState)
    m.scipy_special = _SpecialModule("cupyx_emulated.scipy.special")
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, getDeviceProperties=lambda i: dict(_PROPS),
                                    deviceSynchronize=_synchronize, memGetInfo=lambda: (16 << 30, 16 << 30))
    m.cuda = types.SimpleNamespace(Device=_Device, runtime=runtime)
    return m


class Emulation:
    """What `emulated_gpu()` yields: the counters."""

    module = None

    @property
    def launches(self) -> int:
        return sum(_state.launches.values())

    @property
    def by_kind(self) -> collections.Counter:
        return collections.Counter(_state.launches)

    @property
    def transfers(self) -> int:
        return _state.transfers

    def reset(self) -> None:
        _state.launches.clear()
        _state.transfers = 0
        _state.marks.clear()
        _state.total = 0

    def node_launches(self, run_metadata: Any) -> list[tuple[str, str, int]]:
        """(node name, op type, launches) per node of the last FULL_TRACE run since `reset()`, from the
        synchronization the traced plan does after every GPU node."""
        nodes = [ns for ds in run_metadata.step_stats.dev_stats if "GPU" in ds.device for ns in ds.node_stats]
        marks = [0] + _state.marks
        out = []
        for ns, (a, b) in zip(nodes, zip(marks, marks[1:])):
            label = ns.timeline_label.split(" = ", 1)[-1].split("(", 1)[0] if ns.timeline_label else ns.node_name
            out.append((ns.node_name, label, b - a))
        return out


@contextlib.contextmanager
def emulated_gpu() -> Iterator[Emulation]:
    """Within the block, labflow sees one (emulated) GPU; sessions made inside get /device:GPU:0."""
    from labflow.backend import cuda
    saved = cuda._cupy, cuda._probed
    emu = Emulation()
    emu.module = _module()
    cuda._cupy, cuda._probed = emu.module, True
    emu.reset()
    try:
        yield emu
    finally:
        cuda._cupy, cuda._probed = saved

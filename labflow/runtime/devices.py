"""Devices of one process: names, array modules and per-device resource managers (variables, RNG state)."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import Any

import numpy as np

from labflow import errors


class VarRef:
    """The storage of one variable on one device; kernels of ref inputs receive this object.

    `value` is None until the variable is initialized; updates happen in place on `value`.
    """

    __slots__ = ("name", "value", "dtype", "shape", "lock")

    def __init__(self, name: str, dtype: Any, shape: tuple | None):
        self.name = name
        self.value = None
        self.dtype = dtype
        self.shape = shape
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        state = "uninitialized" if self.value is None else f"{self.value.dtype}{list(self.value.shape)}"
        return f"<VarRef {self.name} {state}>"


def deref(ref: VarRef) -> Any:
    """The value behind a ref input; FailedPreconditionError when the variable has no value yet."""
    v = ref.value
    if v is None:
        raise errors.FailedPreconditionError(
            None, None, f"Attempting to use uninitialized value {ref.name}. Run the variable's initializer "
            f"first: sess.run(tf.global_variables_initializer()) (or sess.run({ref.name}.initializer)).")
    return v


class ResourceMgr:
    """Named, per-device state that outlives a single step: variables, RNG states, queues."""

    def __init__(self):
        self._items: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()  # a factory may look up other resources of the same device

    def lookup_or_create(self, container: str, name: str, factory: Any) -> Any:
        key = (container, name)
        item = self._items.get(key)
        if item is None:
            with self._lock:
                item = self._items.get(key)
                if item is None:
                    item = self._items[key] = factory()
        return item

    def lookup(self, container: str, name: str) -> Any:
        return self._items.get((container, name))

    def clear(self, container: str | None = None) -> None:
        with self._lock:
            if container is None:
                self._items.clear()
            else:
                for k in [k for k in self._items if k[0] == container]:
                    del self._items[k]

    def items(self) -> list:
        return list(self._items.items())


class Device:
    """One compute device: its full name, type, index, array module and resources."""

    def __init__(self, name: str, device_type: str, index: int, xp: Any, memory_limit: int = 0,
                 description: str = ""):
        self.name = name
        self.device_type = device_type
        self.index = index
        self.xp = xp
        self.resources = ResourceMgr()
        self.memory_limit = memory_limit
        self.description = description

    def to_device(self, value: Any) -> Any:
        """Copies a host (NumPy) value onto this device; identity on the CPU."""
        if self.device_type == "GPU":
            with self.xp.cuda.Device(self.index):
                return self.xp.asarray(value)
        return value

    def __repr__(self) -> str:
        return f"<Device {self.name}>"


class DeviceAttributes:
    """What `Session.list_devices()` returns for each device (TF's `_DeviceAttributes`)."""

    def __init__(self, name: str, device_type: str, memory_limit_bytes: int, incarnation: int = 0,
                 physical_device_desc: str = ""):
        self.name = name
        self.device_type = device_type
        self.memory_limit_bytes = memory_limit_bytes
        self.incarnation = incarnation
        self.physical_device_desc = physical_device_desc

    def __repr__(self) -> str:
        return (f"_DeviceAttributes({self.name}, {self.device_type}, {self.memory_limit_bytes}, "
                f"{self.incarnation})")


_allocator_tuned = False


def tune_host_allocator() -> bool:
    """Keeps large NumPy buffers in glibc's heap instead of fresh mmaps (once per process).

    Every step allocates the same 10-100 MB activations; with glibc's defaults each is a new mmap
    whose pages fault in again on every run (measured: inference_cnn 569 -> 372 ms, cnn 411 -> 384 ms).
    Raising the mmap and trim thresholds lets freed blocks be reused, like TF's own allocator does;
    the price is that the process keeps its peak heap. Set LABFLOW_MALLOC_TUNING=0 to opt out.
    """
    global _allocator_tuned
    if _allocator_tuned or os.environ.get("LABFLOW_MALLOC_TUNING", "1") == "0":
        return False
    _allocator_tuned = True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 512 << 20)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False


def make_local_devices(device_count: dict | None, job: str = "localhost", task: int = 0,
                       gpu_options: Any = None) -> list[Device]:
    """CPU:0..n-1 (n from device_count['CPU'], default 1) and GPU:i for each GPU CuPy sees (capped).

    `gpu_options` (TF's GPUOptions): `visible_device_list` picks and renumbers GPUs,
    `per_process_gpu_memory_fraction` caps each GPU's CuPy memory pool.
    """
    tune_host_allocator()
    counts = {k.upper(): int(v) for k, v in (device_count or {}).items()}
    prefix = f"/job:{job}/replica:0/task:{task}"
    out = []
    for i in range(max(1, counts.get("CPU", 1))):
        out.append(Device(f"{prefix}/device:CPU:{i}", "CPU", i, np, 0, "numpy"))
    from labflow.backend import cuda
    physical = list(range(cuda.device_count()))
    visible = getattr(gpu_options, "visible_device_list", "") if gpu_options is not None else ""
    if visible:
        physical = [int(v) for v in str(visible).split(",") if v.strip() and int(v) < len(physical)]
    if "GPU" in counts:
        physical = physical[:counts["GPU"]]
    for i, phys in enumerate(physical):
        props = cuda.device_properties(phys)
        fraction = getattr(gpu_options, "per_process_gpu_memory_fraction", 0.0) if gpu_options else 0.0
        cuda.configure_memory(phys, fraction)
        cc = props["compute_capability"]
        limit = int(props["memory_limit"] * fraction) if fraction else props["memory_limit"]
        out.append(Device(f"{prefix}/device:GPU:{i}", "GPU", phys, cuda.cupy_module(), limit,
                          f"device: {phys}, name: {props['name']}, compute capability: {cc[0]}.{cc[1]}"))
    return out


def list_devices(config: Any = None) -> list[DeviceAttributes]:
    """The devices a local session with `config` would have (TF's `device_lib.list_local_devices`)."""
    counts = getattr(config, "device_count", None) if config is not None else None
    gpu = getattr(config, "gpu_options", None) if config is not None else None
    return [DeviceAttributes(d.name, d.device_type, d.memory_limit, i + 1, d.description)
            for i, d in enumerate(make_local_devices(counts, gpu_options=gpu))]

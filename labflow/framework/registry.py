"""The op registry: one `OpDef` per op type, holding its signature, shape function, kernels and gradient.

Ops are declared once, in labflow/ops/*, with the `op` decorator:

    @op("MatMul", inputs=("a", "b"), attrs={"transpose_a": False, "transpose_b": False},
        types=FLOAT_TYPES, shape=matmul_shape)
    def matmul_kernel(xp, a, b, *, transpose_a, transpose_b): ...

    @matmul_kernel.grad
    def _matmul_grad(op, grad): ...
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, Callable, Sequence

REQUIRED = object()  # sentinel default: the attr must be given


class _NotDifferentiable:
    def __repr__(self) -> str:
        return "NOT_DIFFERENTIABLE"


NOT_DIFFERENTIABLE = _NotDifferentiable()


class RegistrationError(Exception):
    """A duplicate or incomplete op registration (raised at import time)."""


def _site(depth: int) -> str:
    # sys._getframe, not inspect.stack(): the latter reads source files and made imports slow.
    f = sys._getframe(depth)
    return f"{os.path.relpath(f.f_code.co_filename)}:{f.f_lineno}"


class OpDef:
    """Everything labflow knows about one op type.

    Attributes:
        name: the op type, e.g. "MatMul" (TF's name where TF has the op).
        inputs: input names; a name starting with '*' is a variadic list (e.g. "*values").
        attrs: attr name -> default (REQUIRED when it must be given).
        types: allowed dtypes of the type attr "T" (None: not type-checked here).
        type_inputs: names of inputs that share the dtype "T".
        shape_fn: (InputInfo list, attrs) -> list of (DType, dims tuple|None) per output.
        num_outputs: an int, or a callable (attrs, num_inputs) -> int.
        stateful: never constant-folded, never deduplicated, always run when fetched.
        needs_ctx: the kernel takes a keyword `ctx` (a NodeContext: device, resources, node name).
        ref_inputs: indices of inputs that receive the variable itself (a VarRef), not its value.
        devices: device types the generic `xp` kernel runs on.
    """

    def __init__(self, name: str, inputs: Sequence[str], attrs: dict, types: Sequence | None,
                 type_inputs: Sequence[str] | None, shape_fn: Callable, num_outputs: Any, stateful: bool,
                 needs_ctx: bool, ref_inputs: Sequence[int], devices: Sequence[str], kernel: Callable | None,
                 site: str, grad: Any = None, output_names: Sequence[str] | None = None,
                 needs_step: bool = False, xp_fn: str | None = None):
        self.name = name
        self.inputs = tuple(inputs)
        self.attrs = dict(attrs)
        self.types = tuple(types) if types is not None else None
        if type_inputs is None and types is not None:
            type_inputs = [i.lstrip("*") for i in self.inputs]
        self.type_inputs = tuple(type_inputs or ())
        self.shape_fn = shape_fn
        self.num_outputs = num_outputs
        self.stateful = stateful
        self.needs_ctx = needs_ctx
        self.ref_inputs = frozenset(ref_inputs)
        self.devices = tuple(devices)
        self.kernels: dict[str, Callable] = {}
        if kernel is not None:
            for d in self.devices:
                self.kernels[d] = kernel
        self.generic_kernel = kernel
        self.site = site
        self.grad_fn: Any = grad
        self.output_names = tuple(output_names) if output_names else None
        self.variadic = any(i.startswith("*") for i in self.inputs)
        self.needs_step = needs_step
        self.xp_fn = xp_fn
        self.kernel_attrs = _accepted_attrs(kernel, self.attrs)
        self.host_inputs: frozenset = frozenset()
        self.host_op = False
        self.host_outputs = False
        self.session_constant = False
        self.blas = False

    # -- decorators -------------------------------------------------------------------------------
    def grad(self, fn: Callable) -> Callable:
        """Registers the gradient function `fn(op, *output_grads) -> list of input grads`."""
        if self.grad_fn is not None:
            raise RegistrationError(f"Gradient for op '{self.name}' registered twice: first at "
                                    f"{self._grad_site}, again at {_site(2)}")
        self.grad_fn = fn
        self._grad_site = _site(2)
        return fn

    def kernel(self, device_type: str) -> Callable:
        """Registers a device-specific kernel override, e.g. `@conv2d.kernel("GPU")`."""
        def deco(fn: Callable) -> Callable:
            self.kernels[device_type.upper()] = fn
            self.kernel_attrs = self.kernel_attrs | _accepted_attrs(fn, self.attrs)
            return fn
        return deco

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calls the generic kernel directly (NumPy), for references and tests."""
        import numpy as np
        return self.generic_kernel(np, *args, **kwargs)

    # -- queries ---------------------------------------------------------------------------------
    def kernel_for(self, device_type: str) -> Callable | None:
        return self.kernels.get(device_type)

    def has_kernel(self, device_type: str) -> bool:
        return device_type in self.kernels

    def kernel_devices(self) -> list[str]:
        return sorted(self.kernels)

    def outputs_for(self, attrs: dict, num_inputs: int) -> int:
        n = self.num_outputs
        return n(attrs, num_inputs) if callable(n) else n

    @property
    def differentiable(self) -> bool:
        return self.grad_fn is not NOT_DIFFERENTIABLE

    def __repr__(self) -> str:
        return f"<OpDef {self.name} ({self.site})>"


def _accepted_attrs(kernel: Callable | None, attrs: dict) -> frozenset:
    """The declared attrs a kernel takes: named keyword parameters, or all of them with **kwargs."""
    if kernel is None:
        return frozenset(attrs)
    params = inspect.signature(kernel).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return frozenset(attrs)
    names = {p.name for p in params}
    return frozenset(a for a in attrs if a in names)


_REGISTRY: dict[str, OpDef] = {}


def op(name: str, *, inputs: Sequence[str] = (), attrs: dict | None = None, types: Sequence | None = None,
       type_inputs: Sequence[str] | None = None, shape: Callable, outputs: Any = 1, stateful: bool = False,
       needs_ctx: bool = False, ref_inputs: Sequence[int] = (), devices: Sequence[str] = ("CPU", "GPU"),
       not_differentiable: bool = False, output_names: Sequence[str] | None = None,
       needs_step: bool = False, xp_fn: str | None = None, host_inputs: Sequence[int] = (),
       host_op: bool = False, host_outputs: bool = False, session_constant: bool = False,
       blas: bool = False) -> Callable:
    """Declares an op type; decorates its generic kernel `fn(xp, *inputs, **attrs)`.

    `needs_step`: the kernel also takes `step=` (the running step: rendezvous, cancellation, tracing).
    `xp_fn`: the kernel is exactly `getattr(xp, xp_fn)(*inputs)` (bound directly, saving a call).
    `host_inputs`: inputs the kernel reads on the host even on a GPU (shapes, axes: TF's HostMemory).
    `host_op`: the whole op runs on host (NumPy) values on any device (shape arithmetic).
    `host_outputs`: the kernel runs with NumPy and its outputs stay on the host, but its inputs are
        passed where they live (Shape/Size/Rank only read `.shape` of a device array).
    `session_constant`: the kernel takes no inputs and its result depends only on attrs and the
        session's resources (e.g. VariableV2 returns the variable's storage object): the executor
        calls it once when compiling the plan and binds the result.
    `blas`: the CPU kernel runs GEMMs, split over labflow's intra-op threads (backend/threads.py): a
        step that runs it keeps BLAS itself to one thread.

    Returns a decorator that registers an `OpDef` and returns it (so `.grad` and `.kernel` chain).
    Raises RegistrationError naming the earlier file:line on a duplicate name.
    """
    site = _site(2)

    def deco(kernel: Callable | None) -> OpDef:
        if name in _REGISTRY:
            raise RegistrationError(f"Op '{name}' registered twice: first at {_REGISTRY[name].site}, "
                                    f"again at {site}")
        if shape is None:
            raise RegistrationError(f"Op '{name}' at {site} has no shape function")
        d = OpDef(name, inputs, attrs or {}, types, type_inputs, shape, outputs, stateful, needs_ctx,
                  ref_inputs, devices, kernel, site, NOT_DIFFERENTIABLE if not_differentiable else None,
                  output_names, needs_step, xp_fn)
        d.host_inputs = frozenset(host_inputs)
        d.host_op = host_op
        d.host_outputs = host_outputs or host_op
        d.session_constant = session_constant
        d.blas = blas
        _REGISTRY[name] = d
        return d

    return deco


def get(name: str) -> OpDef:
    """Returns the OpDef for an op type. Raises NotFoundError-like KeyError naming close matches."""
    d = _REGISTRY.get(name)
    if d is None:
        import difflib
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        from labflow.errors import NotFoundError
        raise NotFoundError(None, None, f"Op type not registered '{name}'.{hint}")
    return d


def lookup(name: str) -> OpDef | None:
    return _REGISTRY.get(name)


def registered_ops() -> dict[str, OpDef]:
    return dict(_REGISTRY)


def verify_complete() -> None:
    """Fails when any registered op lacks a gradient decision (a function or NOT_DIFFERENTIABLE)."""
    missing = [f"{d.name} ({d.site})" for d in _REGISTRY.values() if d.grad_fn is None]
    if missing:
        raise RegistrationError("Ops registered without a gradient or an explicit not_differentiable "
                                "mark: " + ", ".join(missing))


_GRADIENTS_BY_NAME: dict[str, tuple[Callable, str]] = {}


def register_gradient(op_type: str) -> Callable:
    """TF's `tf.RegisterGradient(name)` decorator.

    For a registered op without a gradient, it becomes that op's gradient. Any other name registers a
    gradient that `graph.gradient_override_map({"OpType": name})` can select.
    """
    def deco(fn: Callable) -> Callable:
        site = _site(2)
        d = _REGISTRY.get(op_type)
        if d is not None and d.grad_fn is None:
            d.grad(fn)
        elif op_type in _GRADIENTS_BY_NAME or (d is not None):
            first = _GRADIENTS_BY_NAME.get(op_type, (None, getattr(d, "_grad_site", d.site if d else "")))[1]
            raise RegistrationError(f"Registering two gradient with name '{op_type}': first at {first}, "
                                    f"again at {site}")
        else:
            _GRADIENTS_BY_NAME[op_type] = (fn, site)
        return fn
    return deco


def gradient_function(name: str) -> Any:
    """The gradient registered under `name` (an op type or a RegisterGradient name), or None."""
    if name in _GRADIENTS_BY_NAME:
        return _GRADIENTS_BY_NAME[name][0]
    d = _REGISTRY.get(name)
    return None if d is None else d.grad_fn


def no_gradient(op_type: str) -> None:
    """TF's `tf.NoGradient` / `tf.NotDifferentiable`."""
    d = get(op_type)
    if d.grad_fn is None:
        d.grad_fn = NOT_DIFFERENTIABLE

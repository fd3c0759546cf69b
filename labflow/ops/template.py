"""`tf.make_template` (variable sharing across calls) and the top-level graph utilities of TF 1.x that
live in labflow.framework: custom_gradient, recompute_grad, hessians, AggregationMethod,
UnconnectedGradients, no_gradient.
"""

from __future__ import annotations

import functools
import traceback
from typing import Any, Callable

from labflow.framework.custom_gradient import custom_gradient, recompute_grad
from labflow.framework.gradient_options import AggregationMethod, UnconnectedGradients
from labflow.framework.gradients import hessians
from labflow.framework.graph import GraphKeys, get_collection
from labflow.framework.registry import no_gradient
from labflow.ops import variable_scope as _vs

__all__ = ["make_template", "Template", "custom_gradient", "recompute_grad", "hessians", "AggregationMethod",
           "UnconnectedGradients", "no_gradient"]


def make_template(name_: str, func_: Callable, create_scope_now_: bool = False, unique_name_: str | None = None,
                  custom_getter_: Callable | None = None, **kwargs: Any) -> Template:
    """Wraps `func_` so that every call shares the variables the first call made (TF 1.x).

    `func_` must create its variables with `tf.get_variable`: the first call creates them in a new
    variable scope (`name_`, made unique), later calls enter the same scope with reuse=True.

    Args:
        name_: the variable scope's name (made unique: "name", "name_1", ...).
        func_: the function to wrap; `kwargs` are bound to it.
        create_scope_now_: open the variable scope now (the scope then follows the caller's scope at
            construction, not at the first call).
        unique_name_: use exactly this scope name (not made unique; variables are shared with any other
            user of the name).
        custom_getter_: a custom getter for the template's variable scope.
        **kwargs: keyword arguments bound to `func_`.

    Returns:
        A Template: call it like `func_`.

    Raises:
        ValueError: `name_` is None (when called: a later call created trainable variables).
    """
    if kwargs:
        func_ = functools.partial(func_, **kwargs)
    return Template(name_, func_, create_scope_now=create_scope_now_, unique_name=unique_name_,
                    custom_getter=custom_getter_)


class Template:
    """A function whose variables are created on the first call and reused on the others."""

    def __init__(self, name: str, func: Callable, create_scope_now: bool = False, unique_name: str | None = None,
                 custom_getter: Callable | None = None):
        if name is None:
            raise ValueError("name cannot be None.")
        self._func = func
        self._stacktrace = traceback.format_stack()[:-2]
        self._name = name
        self._unique_name = unique_name
        self._custom_getter = custom_getter
        if create_scope_now:
            with _vs._PureVariableScope(unique_name or _vs._get_unique_variable_scope(name),
                                        custom_getter=custom_getter) as scope:
                self._variable_scope = scope
        else:
            self._variable_scope = None
        self._variables_created = False
        self._first_call = True

    def _call_func(self, args: tuple, kwargs: dict) -> Any:
        try:
            if self._variables_created:
                trainable_at_start = len(get_collection(GraphKeys.TRAINABLE_VARIABLES))
                result = self._func(*args, **kwargs)
                trainable = get_collection(GraphKeys.TRAINABLE_VARIABLES)
                # A trainable variable made as a side effect of a later call is never shared: an error.
                if trainable_at_start != len(trainable):
                    raise ValueError("Trainable variable created when calling a template after the first "
                                     "time, perhaps you used tf.Variable when you meant tf.get_variable: "
                                     f"{trainable[trainable_at_start:]}")
                return result
            self._first_call = False
            try:
                result = self._func(*args, **kwargs)
            except BaseException:
                self._first_call = True
                raise
            self._variables_created = True
            return result
        except Exception as exc:
            # The error names where the template was made, not only where it was called.
            trace = "".join(_skip_common_stack_elements(self._stacktrace, traceback.format_stack()))
            if exc.args and isinstance(exc.args[0], str):
                exc.args = (f"{exc.args[0]}\n\noriginally defined at:\n{trace}",) + exc.args[1:]
            raise

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._variable_scope is not None:
            # Reuse only once the first call has made the variables.
            with _vs.variable_scope(self._variable_scope, reuse=True if not self._first_call else None):
                return self._call_func(args, kwargs)
        with _vs.variable_scope(self._unique_name, self._name, custom_getter=self._custom_getter) as scope:
            self._variable_scope = scope
            return self._call_func(args, kwargs)

    @property
    def name(self) -> str:
        """The name given to make_template."""
        return self._name

    @property
    def func(self) -> Callable:
        """The wrapped function (with make_template's kwargs bound)."""
        return self._func

    @property
    def variable_scope(self) -> Any:
        """The template's VariableScope (None before the first call unless create_scope_now_)."""
        return self._variable_scope

    @property
    def variable_scope_name(self) -> str | None:
        """The variable scope's name with a trailing '/', the prefix of the template's variables."""
        if self._variable_scope is None:
            return None
        name = self._variable_scope.name
        return name if not name or name[-1] == "/" else name + "/"

    def _collection(self, key: str) -> list:
        if self._variables_created and self._variable_scope is not None:
            return get_collection(key, self.variable_scope_name)
        return []

    @property
    def variables(self) -> list:
        """The template's global and local variables."""
        return self.global_variables + self.local_variables

    @property
    def trainable_variables(self) -> list:
        return self._collection(GraphKeys.TRAINABLE_VARIABLES)

    @property
    def non_trainable_variables(self) -> list:
        trainable = set(self.trainable_variables)
        return [v for v in self.global_variables if v not in trainable]

    @property
    def global_variables(self) -> list:
        return self._collection(GraphKeys.GLOBAL_VARIABLES)

    @property
    def local_variables(self) -> list:
        return self._collection(GraphKeys.LOCAL_VARIABLES)

    @property
    def weights(self) -> list:
        return self.variables

    @property
    def trainable_weights(self) -> list:
        return self.trainable_variables

    @property
    def non_trainable_weights(self) -> list:
        return self.non_trainable_variables

    def __repr__(self) -> str:
        return f"<Template '{self._name}' scope={self.variable_scope_name!r}>"


def _skip_common_stack_elements(stacktrace: list, base_case: list) -> list:
    """`stacktrace` without the frames it shares with `base_case` (all but the last shared one)."""
    for i, (trace, base) in enumerate(zip(stacktrace, base_case)):
        if trace != base:
            return stacktrace[i:]
    return stacktrace[-1:]

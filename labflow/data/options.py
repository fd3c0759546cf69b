"""`tf.data.Options` and its groups: what `Dataset.with_options` accepts.

The settings are TF's names with TF's defaults (None: "let the runtime decide"). labflow's pipelines are
Python generators without a graph optimizer or thread pools, so none of them changes how elements are
produced: they are kept and read back (`dataset.options()`) so TF code that sets them runs unchanged.
Setting a name TF does not have is an AttributeError, as in TF.
"""

from __future__ import annotations

from typing import Any

from labflow.data.dataset_ops import Dataset

__all__ = ["Options", "OptimizationOptions", "ThreadingOptions", "DistributeOptions", "StatsOptions",
           "MapVectorizationOptions"]


class _OptionsBase:
    """A fixed set of named settings, each None until set; unknown names are refused."""

    _FIELDS: dict[str, Any] = {}

    def __init__(self):
        for name, default in self._FIELDS.items():
            object.__setattr__(self, name, default() if callable(default) else default)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._FIELDS:
            raise AttributeError(f"Cannot set the property {name} on {type(self).__name__}.")
        object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        set_ = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS if getattr(self, f) is not None)
        return f"{type(self).__name__}({set_})"

    def _merged(self, other: _OptionsBase) -> _OptionsBase:
        """A copy of self with every setting `other` made (a group merged field by field)."""
        out = type(self)()
        for f in self._FIELDS:
            mine, theirs = getattr(self, f), getattr(other, f)
            if isinstance(mine, _OptionsBase):
                object.__setattr__(out, f, mine._merged(theirs))
            else:
                object.__setattr__(out, f, theirs if theirs is not None else mine)
        return out


class MapVectorizationOptions(_OptionsBase):
    _FIELDS = {"enabled": None, "use_choose_fastest": None}


class OptimizationOptions(_OptionsBase):
    _FIELDS = {"apply_default_optimizations": None, "autotune": None, "autotune_buffers": None,
               "autotune_cpu_budget": None, "autotune_ram_budget": None, "filter_fusion": None,
               "filter_with_random_uniform_fusion": None, "hoist_random_uniform": None, "map_and_batch_fusion": None,
               "map_and_filter_fusion": None, "map_fusion": None, "map_parallelization": None,
               "map_vectorization": MapVectorizationOptions, "noop_elimination": None, "parallel_batch": None,
               "shuffle_and_repeat_fusion": None}


class ThreadingOptions(_OptionsBase):
    _FIELDS = {"max_intra_op_parallelism": None, "private_threadpool_size": None}


class DistributeOptions(_OptionsBase):
    _FIELDS = {"auto_shard": None, "auto_shard_policy": None, "num_devices": None}


class StatsOptions(_OptionsBase):
    _FIELDS = {"aggregator": None, "counter_prefix": None, "latency_all_edges": None, "prefix": None}


class Options(_OptionsBase):
    """Settings for a whole input pipeline (TF 1.x `tf.data.Options`), given to `Dataset.with_options`."""

    _FIELDS = {"experimental_deterministic": None, "experimental_distribute": DistributeOptions,
               "experimental_external_state_policy": None, "experimental_optimization": OptimizationOptions,
               "experimental_slack": None, "experimental_stats": StatsOptions,
               "experimental_threading": ThreadingOptions}

    def merge(self, options: Options) -> Options:
        """These options with every setting of `options` applied over them."""
        if not isinstance(options, Options):
            raise TypeError(f"Options.merge expects a tf.data.Options, got {type(options).__name__}")
        return self._merged(options)


class _WithOptions(Dataset):
    def __init__(self, parent: Dataset, options: Options):
        super().__init__(parent._structure, parent._types, parent._shapes, (parent,))
        self._parent = parent
        self._options = options_of(parent).merge(options)

    def _elements(self, values: dict, runner: Any) -> Any:
        return self._parent._elements(values, runner)


def with_options(dataset: Dataset, options: Options) -> Dataset:
    if not isinstance(options, Options):
        raise TypeError(f"with_options expects a tf.data.Options, got {type(options).__name__}")
    return _WithOptions(dataset, options)


def options_of(dataset: Any) -> Options:
    """The options set on `dataset` or the nearest dataset it reads (defaults when none)."""
    todo = [dataset]
    while todo:
        d = todo.pop(0)
        opts = d.__dict__.get("_options")
        if opts is not None:
            return opts
        todo.extend(d._parents)
    return Options()

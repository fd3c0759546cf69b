"""`tf.data.experimental` (TF 1.x): AUTOTUNE, the fused transformations and the `Dataset.apply` helpers."""

from __future__ import annotations

from collections.abc import Callable

from labflow.data.dataset_extra import AUTOTUNE, check_parallel_calls, unbatch_dataset
from labflow.data.dataset_extra import enumerate_dataset as _enumerate
from labflow.data.dataset_ops import Dataset
from labflow.data.options import (
    DistributeOptions,
    MapVectorizationOptions,
    OptimizationOptions,
    StatsOptions,
    ThreadingOptions,
)

__all__ = ["AUTOTUNE", "map_and_batch", "shuffle_and_repeat", "unbatch", "enumerate_dataset",
           "OptimizationOptions", "ThreadingOptions", "DistributeOptions", "StatsOptions", "MapVectorizationOptions"]


def map_and_batch(map_func: Callable, batch_size: int, num_parallel_batches: int | None = None,
                  drop_remainder: bool = False, num_parallel_calls: int | None = None) -> Callable[[Dataset], Dataset]:
    """For `Dataset.apply`: map then batch, as one transformation (TF fuses them; the elements are the same).

    Raises:
        ValueError: both num_parallel_batches and num_parallel_calls given, or either is not positive.
    """
    if num_parallel_batches is not None and num_parallel_calls is not None:
        raise ValueError("The `num_parallel_batches` and `num_parallel_calls` arguments are mutually exclusive.")
    if num_parallel_batches is not None and int(num_parallel_batches) <= 0:
        raise ValueError(f"num_parallel_batches must be positive, got {num_parallel_batches}")
    check_parallel_calls(num_parallel_calls)

    def apply(dataset: Dataset) -> Dataset:
        return dataset.map(map_func).batch(batch_size, drop_remainder=drop_remainder)
    return apply


def shuffle_and_repeat(buffer_size: int, count: int | None = None, seed: int | None = None
                       ) -> Callable[[Dataset], Dataset]:
    """For `Dataset.apply`: shuffle (a new order each epoch) then repeat `count` times (None: forever)."""
    def apply(dataset: Dataset) -> Dataset:
        return dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True).repeat(count)
    return apply


def unbatch() -> Callable[[Dataset], Dataset]:
    """For `Dataset.apply`: each element split along its first dimension (`Dataset.unbatch`)."""
    return unbatch_dataset


def enumerate_dataset(start: int = 0) -> Callable[[Dataset], Dataset]:
    """For `Dataset.apply`: elements (index, element), the int64 index counting from `start`."""
    def apply(dataset: Dataset) -> Dataset:
        return _enumerate(dataset, start)
    return apply


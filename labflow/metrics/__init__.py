"""`tf.metrics`: streaming metrics returning `(value, update_op)` over local variables."""

from labflow.metrics.metrics_impl import (  # noqa: F401
    accuracy,
    false_negatives,
    false_positives,
    mean,
    mean_absolute_error,
    mean_squared_error,
    metric_variable,
    precision,
    recall,
    true_negatives,
    true_positives,
)

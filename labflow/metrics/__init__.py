"""`tf.metrics`: streaming metrics returning `(value, update_op)` over local variables."""

from labflow.metrics.metrics_extra import (  # noqa: F401
    mean_cosine_distance,
    mean_iou,
    mean_per_class_accuracy,
    mean_relative_error,
    mean_tensor,
    percentage_below,
    root_mean_squared_error,
)
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
from labflow.metrics.metrics_thresholds import (  # noqa: F401
    auc,
    false_negatives_at_thresholds,
    false_positives_at_thresholds,
    precision_at_thresholds,
    recall_at_thresholds,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
    true_negatives_at_thresholds,
    true_positives_at_thresholds,
)
from labflow.metrics.metrics_topk import (  # noqa: F401
    average_precision_at_k,
    precision_at_k,
    precision_at_top_k,
    recall_at_k,
    recall_at_top_k,
    sparse_average_precision_at_k,
    sparse_precision_at_k,
)

"""Op families. Importing this package registers every built-in op, then checks the registry."""

from labflow.framework import registry as _registry
from labflow.ops import (  # noqa: F401 - imported for their registrations
    accumulator_ops,
    array_extra_ops,
    array_nd_ops,
    array_ops,
    clip_ops,
    cond_while,
    control_flow_ops,
    data_flow_ops,
    dataset_ops,
    functional_ops,
    fused_elementwise_ops,
    higher_order,
    init_ops,
    io_ops,
    list_ops,
    logging_ops,
    lookup_ops,
    math_ops,
    nn_ops,
    parsing_ops,
    quantized_ops,
    random_ops,
    reader_ops,
    script_ops,
    sendrecv_ops,
    sparse_ops,
    state_ops,
    string_ops,
    tensor_array_ops,
    variable_scope,
    variables,
)

_registry.verify_complete()

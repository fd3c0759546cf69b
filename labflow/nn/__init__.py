"""`tf.nn`: neural-net ops (activations, softmax, cross-entropies, bias_add, l2_loss, dropout), the RNN
cells (`tf.nn.rnn_cell`) and static_rnn / dynamic_rnn."""

from labflow.nn import rnn_cell  # noqa: F401,E402
from labflow.nn.bidirectional import *  # noqa: F401,F403,E402
from labflow.nn.embedding_sparse import *  # noqa: F401,F403,E402
from labflow.nn.impl import *  # noqa: F401,F403 - moments, batch_normalization, l2_normalize, xw_plus_b, ...
from labflow.nn.nd_dispatch import *  # noqa: F401,F403,E402
from labflow.nn.raw_rnn import *  # noqa: F401,F403,E402
from labflow.nn.rnn import dynamic_rnn, static_rnn  # noqa: F401,E402
from labflow.nn.sampled_losses import *  # noqa: F401,F403,E402
from labflow.ops.array_space_ops import batch_to_space, depth_to_space, space_to_batch, space_to_depth  # noqa: F401,E402
from labflow.ops.candidate_sampling_ops import *  # noqa: F401,F403,E402
from labflow.ops.conv_extra_ops import *  # noqa: F401,F403,E402
from labflow.ops.conv_ops import *  # noqa: F401,F403 - conv2d (+ backprops, transpose), max/avg pooling
from labflow.ops.ctc_ops import *  # noqa: F401,F403,E402
from labflow.ops.embedding_ops import embedding_lookup  # noqa: F401
from labflow.ops.fractional_pool_ops import *  # noqa: F401,F403,E402
from labflow.ops.math_ops import sigmoid, tanh  # noqa: F401 - TF exposes these under tf.nn as well
from labflow.ops.morphology_ops import *  # noqa: F401,F403,E402
from labflow.ops.nn_extra_ops import *  # noqa: F401,F403 - relu6, elu, leaky_relu, softplus, top_k, in_top_k
from labflow.ops.nn_ops import *  # noqa: F401,F403
from labflow.ops.norm_ops import *  # noqa: F401,F403,E402
from labflow.ops.quantized_nn_ops import (  # noqa: F401,E402 - TF 1.x's tf.nn.quantized_*
    quantized_avg_pool,
    quantized_conv2d,
    quantized_max_pool,
    quantized_relu_x,
)

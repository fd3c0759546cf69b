"""`tf.layers`: TF 1.x layers (dense, conv1d/2d/3d, separable and transposed convs, 1-D/2-D/3-D pooling,
flatten, dropout, batch normalization).

Weights are made with `tf.get_variable` inside each layer's variable scope, so scopes and reuse work.
"""

from labflow.layers.base import Layer  # noqa: F401
from labflow.layers.convolutional import Conv2D, Convolution2D, conv2d, convolution2d  # noqa: F401
from labflow.layers.convolutional_extra import *  # noqa: F401,F403
from labflow.layers.core import Dense, Dropout, Flatten, dense, dropout, flatten  # noqa: F401
from labflow.layers.normalization import BatchNormalization, batch_normalization  # noqa: F401
from labflow.layers.pooling import (  # noqa: F401
    AveragePooling2D,
    AvgPool2D,
    MaxPool2D,
    MaxPooling2D,
    average_pooling2d,
    max_pooling2d,
)
from labflow.layers.pooling_extra import *  # noqa: F401,F403,E402

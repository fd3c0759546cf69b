"""`tf.layers`: TF 1.x layers (dense, conv2d, pooling, flatten, dropout, batch normalization).

Weights are made with `tf.get_variable` inside each layer's variable scope, so scopes and reuse work.
"""

from labflow.layers.base import Layer  # noqa: F401
from labflow.layers.convolutional import Conv2D, Convolution2D, conv2d, convolution2d  # noqa: F401
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

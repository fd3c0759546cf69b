"""`tf.initializers`: the TF 1.x initializer namespace (`tf.initializers.zeros()`, ...)."""

from labflow.ops.init_ops import Constant as constant
from labflow.ops.init_ops import GlorotNormal as glorot_normal
from labflow.ops.init_ops import GlorotUniform as glorot_uniform
from labflow.ops.init_ops import Initializer, he_normal, he_uniform, lecun_normal, lecun_uniform
from labflow.ops.init_ops import Ones as ones
from labflow.ops.init_ops import Orthogonal as orthogonal
from labflow.ops.init_ops import RandomNormal as random_normal
from labflow.ops.init_ops import RandomUniform as random_uniform
from labflow.ops.init_ops import TruncatedNormal as truncated_normal
from labflow.ops.init_ops import UniformUnitScaling as uniform_unit_scaling
from labflow.ops.init_ops import VarianceScaling as variance_scaling
from labflow.ops.init_ops import Zeros as zeros
from labflow.ops.variables import global_variables_initializer as global_variables
from labflow.ops.variables import local_variables_initializer as local_variables
from labflow.ops.variables import variables_initializer as variables

__all__ = ["Initializer", "constant", "glorot_normal", "glorot_uniform", "ones", "orthogonal",
           "random_normal", "random_uniform", "truncated_normal", "uniform_unit_scaling", "variance_scaling",
           "zeros", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform", "global_variables",
           "local_variables", "variables"]

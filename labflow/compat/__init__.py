"""`import labflow.compat.v1 as tf`: the TF1 API is labflow's own public face."""

import sys as _sys

v1 = _sys.modules["labflow"]

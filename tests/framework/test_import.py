"""`import labflow` stays light: no GPU, RPC, widget or TensorBoard stack is imported."""

from __future__ import annotations

import subprocess
import sys


def test_import_pulls_no_optional_stacks():
    code = ("import sys, labflow; heavy = [m for m in ('cupy', 'grpc', 'ipywidgets', 'tensorboard', "
            "'matplotlib', 'IPython', 'torch') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_import_works_when_optional_packages_are_missing():
    # Simulate an environment without cupy/grpc/ipywidgets: their imports fail.
    code = ("import sys\nfor m in ('cupy', 'grpc', 'ipywidgets'): sys.modules[m] = None\n"
            "import labflow as tf\nprint(tf.Session().run(tf.constant(2.0) + 1.0))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "3.0"

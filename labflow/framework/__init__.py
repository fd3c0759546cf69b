"""Graphs, tensors, the op registry, shapes, devices and gradients (no runtime here)."""

"""Runnable examples and the TF1 tutorial module paths (`labflow.examples.tutorials...`)."""

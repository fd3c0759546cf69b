"""`labflow.client`: the TF1 `tensorflow.python.client` names (timeline)."""

"""`tf.train`: optimizers, global step, graph writing."""

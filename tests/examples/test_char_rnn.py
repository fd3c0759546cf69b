"""labflow.examples.char_rnn: training over variable-length batches and in-graph sampling (while_loops)."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.examples import char_rnn


def test_learns_a_repeating_text_and_samples_it_back_in_the_graph():
    text = "hello world. " * 200
    chars = sorted(set(text))
    c2i = {c: i for i, c in enumerate(chars)}
    ids = np.array([c2i[c] for c in text], np.int32)
    config = char_rnn.Config(hidden_size=32, num_layers=1, embedding_size=8, batch_size=8, seq_len=12,
                             learning_rate=1e-2)
    with tf.Graph().as_default():
        model = char_rnn.CharRNN(len(chars), config)
        ops = {op.type for op in tf.get_default_graph().get_operations()}
        assert {"While", "WhileGrad"} <= ops  # dynamic_rnn over [batch, None] and the sampler loop
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            losses = char_rnn.train(s, model, ids, steps=120)
            out = model.sample(s, "hello", c2i, chars, length=40, temperature=0.1)
            # batches of another length run the same graph
            short = s.run(model.loss, {model.inputs: ids[None, :5], model.targets: ids[None, 1:6]})
    assert losses[0] > 2.0 and np.mean(losses[-10:]) < 0.2, (losses[0], losses[-10:])
    assert out.startswith("hello") and len(out) == 45
    assert " world. hello world." in out, out  # a near-greedy sample of a memorized text
    assert np.isfinite(short)

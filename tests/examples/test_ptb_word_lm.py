"""labflow.examples.ptb_word_lm: the TF PTB tutorial's model, training loop and sampler."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

import labflow as tf
from labflow.datasets import ptb
from labflow.examples import ptb_word_lm


def _corpus(n=4000, vocab=50, seed=0):
    """Word ids with a learnable pattern: each id is followed by id + 1 (mod vocab) most of the time."""
    r = np.random.RandomState(seed)
    ids = [0]
    for _ in range(n - 1):
        ids.append((ids[-1] + 1) % vocab if r.rand() < 0.9 else r.randint(vocab))
    return ids


def test_training_lowers_perplexity_and_state_is_carried_between_batches():
    config = dataclasses.replace(ptb_word_lm.get_config("small"), vocab_size=50, hidden_size=32, num_steps=5,
                                 batch_size=8, num_layers=2)
    data = _corpus()
    with tf.Graph().as_default():
        m, mvalid, mtest = ptb_word_lm.build(config, seed=1)
        assert sorted(v.op.name for v in tf.trainable_variables()) == [
            "Model/embedding", "Model/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias",
            "Model/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
            "Model/rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias",
            "Model/rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel", "Model/softmax_b", "Model/softmax_w"]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            before = ptb_word_lm.run_epoch(s, mvalid, data)
            m.assign_lr(s, 1.0)
            seen = []
            for _ in range(6):
                ptb_word_lm.run_epoch(s, m, data, train=True, on_step=lambda i, p: seen.append(p))
            after = ptb_word_lm.run_epoch(s, mvalid, data)
            # the first batch of an epoch starts from zeros; later ones continue each row's stream
            x = np.asarray(data[:8 * 5], np.int32).reshape(8, 5)
            zero = s.run(m.initial_state)
            _, carried = s.run([m.cost, m.final_state], {m.input_data: x, m.targets: x})
            feed = {m.input_data: x, m.targets: x}
            assert not np.allclose(s.run(m.cost, {**feed, **m.state_feed(carried)}),
                                   s.run(m.cost, {**feed, **m.state_feed(zero)}))
            text = ptb_word_lm.sample(s, mtest, ["w0", "w1"], {f"w{i}": i for i in range(50)}, length=10)
            with pytest.raises(ValueError, match="batch_size=1"):
                ptb_word_lm.sample(s, m, ["w0"], {"w0": 0})
    assert before > 40 and after < 8, (before, after)  # uniform: 50; the pattern is ~90% predictable
    assert len(seen) == 6 * ptb.epoch_size(len(data), 8, 5)
    assert text[:2] == ["w0", "w1"] and len(text) == 12


def test_unknown_config_is_an_error():
    with pytest.raises(ValueError, match="small, medium, large, test"):
        ptb_word_lm.get_config("huge")


def test_main_on_the_real_corpus(capsys):
    data = os.environ.get("LABFLOW_DATA")
    if not data or not (Path(data) / "ptb" / "ptb.train.txt").is_file():
        pytest.skip("PTB files not found under LABFLOW_DATA/ptb")
    result = ptb_word_lm.main(["--model", "test", "--max_steps", "30"])
    out = capsys.readouterr().out
    assert "Epoch: 1 Train Perplexity" in out and "Test Perplexity" in out
    assert 100 < result["valid"][0] < 20000 and np.isfinite(result["test"])

"""TF 1.x's PTB word-level LSTM language model (`models/tutorials/rnn/ptb/ptb_word_lm.py`, Zaremba et
al. 2014), with `import labflow as tf`.

The model is the tutorial's: an embedding (on the CPU), `num_layers` LSTM layers of `hidden_size`
(`BasicLSTMCell` with forget bias 0, each wrapped in dropout when training with keep_prob < 1) unrolled
`num_steps` steps with `tf.nn.static_rnn`, a softmax over the 10000-word vocabulary, the loss summed over
steps and averaged over the batch (`tf.contrib.seq2seq.sequence_loss`), gradients
clipped to a global norm of `max_grad_norm`, plain SGD at a learning rate halved per epoch after
`max_epoch`. The LSTM state is carried from one batch to the next (fed back in), so each epoch reads the
corpus as `batch_size` long streams. TF's small config reaches ~120 test perplexity after 13 epochs.

Differences from the tutorial: batches come from `labflow.datasets.ptb.ptb_iterator` through
placeholders (the pre-1.0 tutorial's reader) instead of `ptb_producer` queues, and `run_epoch` can stop
after `max_steps` (quick runs).

    python -m labflow.examples.ptb_word_lm --model small [--data_path DIR] [--max_steps N]

notebooks/06_ptb_lstm.ipynb trains it, plots perplexity and samples text from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import labflow as tf
from labflow.datasets import ptb

__all__ = ["SmallConfig", "MediumConfig", "LargeConfig", "TestConfig", "get_config", "PTBModel", "run_epoch",
           "sample", "main"]


@dataclasses.dataclass
class SmallConfig:
    """The tutorial's small model (~115-120 test perplexity after 13 epochs)."""

    init_scale: float = 0.1
    learning_rate: float = 1.0
    max_grad_norm: float = 5.0
    num_layers: int = 2
    num_steps: int = 20
    hidden_size: int = 200
    max_epoch: int = 4
    max_max_epoch: int = 13
    keep_prob: float = 1.0
    lr_decay: float = 0.5
    batch_size: int = 20
    vocab_size: int = 10000


@dataclasses.dataclass
class MediumConfig(SmallConfig):
    """The tutorial's medium model (~82 test perplexity after 39 epochs)."""

    init_scale: float = 0.05
    num_steps: int = 35
    hidden_size: int = 650
    max_epoch: int = 6
    max_max_epoch: int = 39
    keep_prob: float = 0.5
    lr_decay: float = 0.8


@dataclasses.dataclass
class LargeConfig(SmallConfig):
    """The tutorial's large model (~78 test perplexity after 55 epochs)."""

    init_scale: float = 0.04
    max_grad_norm: float = 10.0
    num_steps: int = 35
    hidden_size: int = 1500
    max_epoch: int = 14
    max_max_epoch: int = 55
    keep_prob: float = 0.35
    lr_decay: float = 1 / 1.15


@dataclasses.dataclass
class TestConfig(SmallConfig):
    """A tiny model for tests."""

    init_scale: float = 0.1
    num_layers: int = 1
    num_steps: int = 2
    hidden_size: int = 2
    max_epoch: int = 1
    max_max_epoch: int = 1
    batch_size: int = 20


_CONFIGS = {"small": SmallConfig, "medium": MediumConfig, "large": LargeConfig, "test": TestConfig}


def get_config(name: str) -> SmallConfig:
    """The config called `name` (small, medium, large, test)."""
    try:
        return _CONFIGS[name]()
    except KeyError:
        raise ValueError(f"Invalid model: {name!r}; choose one of {', '.join(_CONFIGS)}") from None


class PTBModel:
    """The PTB model for one (batch_size, num_steps): build it under `tf.variable_scope("Model",
    reuse=...)` once for training and again, sharing the weights, for evaluation or sampling."""

    def __init__(self, is_training: bool, config: SmallConfig):
        self.batch_size = batch_size = config.batch_size
        self.num_steps = num_steps = config.num_steps
        size, vocab = config.hidden_size, config.vocab_size
        self.input_data = tf.placeholder(tf.int32, [batch_size, num_steps], name="input_data")
        self.targets = tf.placeholder(tf.int32, [batch_size, num_steps], name="targets")

        def lstm_cell() -> Any:
            cell = tf.nn.rnn_cell.BasicLSTMCell(size, forget_bias=0.0, state_is_tuple=True)
            if is_training and config.keep_prob < 1:
                cell = tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=config.keep_prob)
            return cell

        cell = tf.nn.rnn_cell.MultiRNNCell([lstm_cell() for _ in range(config.num_layers)], state_is_tuple=True)
        self.initial_state = cell.zero_state(batch_size, tf.float32)
        with tf.device("/cpu:0"):
            embedding = tf.get_variable("embedding", [vocab, size], dtype=tf.float32)
            inputs = tf.nn.embedding_lookup(embedding, self.input_data)
        if is_training and config.keep_prob < 1:
            inputs = tf.nn.dropout(inputs, config.keep_prob)
        inputs = tf.unstack(inputs, num=num_steps, axis=1)
        outputs, state = tf.nn.static_rnn(cell, inputs, initial_state=self.initial_state)
        output = tf.reshape(tf.stack(outputs, axis=1), [-1, size])
        softmax_w = tf.get_variable("softmax_w", [size, vocab], dtype=tf.float32)
        softmax_b = tf.get_variable("softmax_b", [vocab], dtype=tf.float32)
        self.logits = tf.matmul(output, softmax_w) + softmax_b
        self.probabilities = tf.nn.softmax(self.logits)
        loss = tf.contrib.seq2seq.sequence_loss(
            tf.reshape(self.logits, [batch_size, num_steps, vocab]), self.targets,
            tf.ones([batch_size, num_steps], dtype=tf.float32), average_across_timesteps=False,
            average_across_batch=True)
        self.cost = tf.reduce_sum(loss)
        self.final_state = state
        if not is_training:
            return
        self.lr = tf.Variable(0.0, trainable=False, name="learning_rate")
        tvars = tf.trainable_variables()
        grads, _ = tf.clip_by_global_norm(tf.gradients(self.cost, tvars), config.max_grad_norm)
        optimizer = tf.train.GradientDescentOptimizer(self.lr)
        self.train_op = optimizer.apply_gradients(zip(grads, tvars),
                                                  global_step=tf.train.get_or_create_global_step())
        self.new_lr = tf.placeholder(tf.float32, [], name="new_learning_rate")
        self.lr_update = tf.assign(self.lr, self.new_lr)

    def assign_lr(self, session: Any, lr_value: float) -> None:
        """Sets the learning rate (the tutorial decays it once per epoch after max_epoch)."""
        session.run(self.lr_update, feed_dict={self.new_lr: lr_value})

    def state_feed(self, state: Any) -> dict:
        """The feed carrying `state` (a fetched final_state) into the next batch's initial_state."""
        feed = {}
        for (c, h), (vc, vh) in zip(self.initial_state, state):
            feed[c], feed[h] = vc, vh
        return feed


def build(config: SmallConfig, seed: int | None = None) -> tuple:
    """(train, valid, test) models sharing one set of weights, as the tutorial builds them: valid with the
    training shapes, test one word at a time (batch 1, 1 step, which also samples text); weights start
    uniform in [-init_scale, init_scale]."""
    if seed is not None:
        tf.set_random_seed(seed)
    initializer = tf.random_uniform_initializer(-config.init_scale, config.init_scale)
    models = []
    for name, training, cfg in (("Train", True, config), ("Valid", False, config),
                                ("Test", False, dataclasses.replace(config, batch_size=1, num_steps=1))):
        with tf.name_scope(name), tf.variable_scope("Model", reuse=bool(models), initializer=initializer):
            models.append(PTBModel(is_training=training, config=cfg))
    return tuple(models)


def run_epoch(session: Any, model: PTBModel, data: Iterable[int], train: bool = False, max_steps: int | None = None,
              verbose: bool = False, on_step: Callable[[int, float], None] | None = None) -> float:
    """Runs the model over `data` once (or `max_steps` batches); returns the perplexity, exp(cost per word).

    `on_step(step, perplexity so far)` is called after every batch (a progress bar, a plot).
    """
    data = np.asarray(data, dtype=np.int32)
    n_batches = ptb.epoch_size(len(data), model.batch_size, model.num_steps)
    costs, iters = 0.0, 0
    state = session.run(model.initial_state)
    fetches = [model.cost, model.final_state] + ([model.train_op] if train else [])
    start = time.time()
    for step, (x, y) in enumerate(ptb.ptb_iterator(data, model.batch_size, model.num_steps)):
        if max_steps is not None and step >= max_steps:
            break
        feed = {model.input_data: x, model.targets: y}
        feed.update(model.state_feed(state))
        cost, state = session.run(fetches, feed)[:2]
        costs += cost
        iters += model.num_steps
        if on_step is not None:
            on_step(step, math.exp(costs / iters))
        if verbose and step % max(n_batches // 10, 1) == 10:
            print(f"{step / n_batches:.3f} perplexity: {math.exp(costs / iters):.3f} speed: "
                  f"{iters * model.batch_size / (time.time() - start):.0f} wps")
    return math.exp(costs / max(iters, 1))


def sample(session: Any, model: PTBModel, words: list[str], word_to_id: dict[str, int], length: int = 20,
           temperature: float = 1.0, seed: int = 0) -> list[str]:
    """Continues `words` by `length` words drawn from the model (batch 1, one step at a time)."""
    if model.batch_size != 1 or model.num_steps != 1:
        raise ValueError("sample() needs a model built with batch_size=1 and num_steps=1")
    rng = np.random.RandomState(seed)
    vocab = ptb.id_to_word(word_to_id)
    unk = word_to_id.get(ptb.UNK, 0)
    state = session.run(model.initial_state)
    out = list(words)
    probs = None
    for w in words:
        feed = {model.input_data: [[word_to_id.get(w, unk)]], model.targets: [[0]]}
        feed.update(model.state_feed(state))
        probs, state = session.run([model.probabilities, model.final_state], feed)
    for _ in range(length):
        p = np.log(np.maximum(probs[0].astype(np.float64), 1e-30)) / temperature
        p = np.exp(p - p.max())
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(vocab[nxt])
        feed = {model.input_data: [[nxt]], model.targets: [[0]]}
        feed.update(model.state_feed(state))
        probs, state = session.run([model.probabilities, model.final_state], feed)
    return out


def main(argv: list[str] | None = None) -> dict:
    """The tutorial's main: train, validate each epoch, test at the end; returns the perplexities."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="small", choices=sorted(_CONFIGS))
    p.add_argument("--data_path", default=None, help="folder with ptb.{train,valid,test}.txt")
    p.add_argument("--max_steps", type=int, default=None, help="batches per epoch (quick runs)")
    p.add_argument("--max_max_epoch", type=int, default=None, help="epochs (default: the config's)")
    args = p.parse_args(argv)
    train_data, valid_data, test_data, _ = ptb.ptb_raw_data(args.data_path)
    config = get_config(args.model)
    if args.max_max_epoch is not None:
        config.max_max_epoch = args.max_max_epoch
    result: dict = {"train": [], "valid": []}
    with tf.Graph().as_default():
        m, mvalid, mtest = build(config, seed=0)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for i in range(config.max_max_epoch):
                m.assign_lr(session, config.learning_rate * config.lr_decay ** max(i + 1 - config.max_epoch, 0))
                result["train"].append(run_epoch(session, m, train_data, train=True, max_steps=args.max_steps,
                                                 verbose=True))
                result["valid"].append(run_epoch(session, mvalid, valid_data, max_steps=args.max_steps))
                print(f"Epoch: {i + 1} Train Perplexity: {result['train'][-1]:.3f} "
                      f"Valid Perplexity: {result['valid'][-1]:.3f}")
            result["test"] = run_epoch(session, mtest, test_data, max_steps=args.max_steps)
            print(f"Test Perplexity: {result['test']:.3f}")
    return result


if __name__ == "__main__":
    main()

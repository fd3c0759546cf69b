"""A character-level LSTM language model (Karpathy's char-rnn) on tinyshakespeare, with `import labflow as tf`.

Training runs `tf.nn.dynamic_rnn` over batches of any length (a `tf.while_loop` over the time steps);
writing text runs in the graph too: a `tf.while_loop` that feeds each sampled character back into the
cell (`tf.multinomial` over the softmax, a TensorArray collecting the characters). Both share one set of
weights, so the sampler writes with whatever the model has learned so far.

    from labflow.datasets import shakespeare as ts
    from labflow.examples import char_rnn

    text = ts.load()
    chars, char_to_id = ts.char_vocab(text)
    model = char_rnn.CharRNN(len(chars), char_rnn.Config())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        char_rnn.train(sess, model, ts.encode(text, char_to_id), steps=1000)
        print(model.sample(sess, "ROMEO:", char_to_id, chars, length=200))

notebooks/07_char_rnn.ipynb trains it and shows what it writes as it learns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

import labflow as tf

__all__ = ["Config", "CharRNN", "train"]


@dataclasses.dataclass
class Config:
    """char-rnn's usual small setting."""

    hidden_size: int = 128
    num_layers: int = 2
    embedding_size: int = 32
    batch_size: int = 32
    seq_len: int = 50
    learning_rate: float = 2e-3
    max_grad_norm: float = 5.0


class CharRNN:
    """The model: embedding -> LSTM layers -> softmax over characters; `sample` writes text in the graph."""

    def __init__(self, vocab_size: int, config: Config, seed: int | None = 0):
        self.config = config
        if seed is not None:
            tf.set_random_seed(seed)
        h = config.hidden_size
        with tf.variable_scope("char_rnn"):
            self.inputs = tf.placeholder(tf.int32, [None, None], name="inputs")  # [batch, time], any length
            self.targets = tf.placeholder(tf.int32, [None, None], name="targets")
            self.embedding = tf.get_variable("embedding", [vocab_size, config.embedding_size])
            self.cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(h) for _ in range(config.num_layers)])
            self.softmax_w = tf.get_variable("softmax_w", [h, vocab_size])
            self.softmax_b = tf.get_variable("softmax_b", [vocab_size], initializer=tf.zeros_initializer())
            batch = tf.shape(self.inputs)[0]
            outputs, _ = tf.nn.dynamic_rnn(self.cell, tf.nn.embedding_lookup(self.embedding, self.inputs),
                                           initial_state=self.cell.zero_state(batch, tf.float32))
            logits = tf.reshape(self._logits(tf.reshape(outputs, [-1, h])), [batch, -1, vocab_size])
            self.loss = tf.contrib.seq2seq.sequence_loss(logits, self.targets,
                                                         tf.ones_like(self.targets, dtype=tf.float32))
            tvars = tf.trainable_variables()
            grads, _ = tf.clip_by_global_norm(tf.gradients(self.loss, tvars), config.max_grad_norm)
            self.global_step = tf.train.get_or_create_global_step()
            self.train_op = tf.train.AdamOptimizer(config.learning_rate).apply_gradients(
                zip(grads, tvars), global_step=self.global_step)
            self._build_sampler()

    def _logits(self, h: Any) -> Any:
        return tf.matmul(h, self.softmax_w) + self.softmax_b

    def _build_sampler(self) -> None:
        """prime (a [n] int vector) -> the state after reading it -> `length` characters drawn one by one."""
        self.prime = tf.placeholder(tf.int32, [None], name="prime")
        self.length = tf.placeholder(tf.int32, [], name="length")
        self.temperature = tf.placeholder_with_default(1.0, [], name="temperature")
        with tf.name_scope("sampler"):
            read, state = tf.nn.dynamic_rnn(self.cell, tf.nn.embedding_lookup(self.embedding, self.prime[None, :]),
                                            initial_state=self.cell.zero_state(1, tf.float32))
            last = read[:, -1, :]

            def step(t: Any, h: Any, state: Any, out: Any) -> tuple:
                scaled = self._logits(h) / self.temperature
                nxt = tf.cast(tf.multinomial(scaled, 1)[:, 0], tf.int32)
                h, state = self.cell(tf.nn.embedding_lookup(self.embedding, nxt), state)
                return t + 1, h, state, out.write(t, nxt[0])

            _, _, _, out = tf.while_loop(lambda t, *_: t < self.length, step,
                                         [0, last, state, tf.TensorArray(tf.int32, size=self.length)])
            self.sampled = out.stack()

    def sample(self, session: Any, prime: str, char_to_id: dict[str, int], chars: list[str], length: int = 200,
               temperature: float = 1.0) -> str:
        """`prime` followed by `length` characters the model writes (`temperature` < 1: more conservative)."""
        ids = [char_to_id[c] for c in prime]
        out = session.run(self.sampled, {self.prime: ids, self.length: length, self.temperature: temperature})
        return prime + "".join(chars[i] for i in out)


def train(session: Any, model: CharRNN, ids: np.ndarray, steps: int, seed: int = 0,
          on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """`steps` Adam steps on random windows of `ids`; returns the losses (nats per character)."""
    rng = np.random.RandomState(seed)
    b, t = model.config.batch_size, model.config.seq_len
    losses = []
    for step in range(steps):
        starts = rng.randint(0, len(ids) - t - 1, b)
        x = np.stack([ids[s:s + t] for s in starts])
        y = np.stack([ids[s + 1:s + t + 1] for s in starts])
        loss, _ = session.run([model.loss, model.train_op], {model.inputs: x, model.targets: y})
        losses.append(float(loss))
        if on_step is not None:
            on_step(step, float(loss))
    return losses

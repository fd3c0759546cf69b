"""Datasets: MNIST (IDX files), Penn Treebank (word-level text), Tiny Shakespeare (character-level text) and
the shared find / download / verify plumbing.

`labflow.datasets.mnist.read_data_sets` is TF 1.x's MNIST reader; it is also importable as
`labflow.examples.tutorials.mnist.input_data`. `labflow.datasets.ptb` is the PTB reader of TF 1.x's
RNN tutorial (`ptb_raw_data`, `ptb_iterator`, ...). `labflow.datasets.shakespeare` reads
Karpathy's char-rnn corpus as characters (`load`, `char_vocab`, `encode`, `split`, `batches`).
Files are looked up in the caller's folder, then `$LABFLOW_DATA/<dataset>`, then
`~/.cache/labflow/<dataset>`, and downloaded (checksummed, atomically written) when missing.
"""

from labflow.datasets import mnist, ptb, shakespeare
from labflow.datasets._download import CorruptDatasetError, DatasetNotFoundError

__all__ = ["mnist", "ptb", "shakespeare", "CorruptDatasetError", "DatasetNotFoundError"]

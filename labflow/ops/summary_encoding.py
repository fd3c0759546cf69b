"""What the summary kernels compute besides protos: TF's histograms, image normalization, PNG and WAV.

Each function follows the C++ kernel it stands for, so event files look like TensorFlow's:

- `histogram_proto` is `tensorflow::histogram::Histogram` (core/lib/histogram/histogram.cc): TF's
  default bucket limits (0, then +-1e-12 * 1.1^k up to 1e20, then +-DBL_MAX), values counted with
  `upper_bound`, and `EncodeToProto(preserve_zero_buckets=false)`, which collapses every run of empty
  buckets into one zero-count bucket ending at the run's last limit.
- `normalize_images` is ImageSummaryOp::NormalizeFloatImage: per image, non-finite pixels ignored for
  the range and painted `bad_color`; all values >= 0 are scaled so the largest is 255; otherwise 0 maps
  to 128 and the largest magnitude to 1 or 255 (scale 127 / max|x|); the result is truncated to uint8.
- `encode_png` writes a PNG with the standard library only (struct + zlib): 8-bit grey, grey+alpha,
  RGB or RGBA, no filtering. Bytes differ from libpng's (which picks filters adaptively) but every
  PNG decoder reads back the same pixels.
- `encode_wav` is wav::EncodeAudioAsS16LEWav: samples * 32768, rounded half away from zero, clipped
  to int16, written as a 16-bit PCM RIFF/WAVE file by the standard `wave` module.

Everything here is host-side NumPy: the summary ops run on the CPU only.
"""

from __future__ import annotations

import io
import struct
import sys
import wave
import zlib
from functools import lru_cache

import numpy as np

DBL_MAX = sys.float_info.max


@lru_cache(maxsize=1)
def default_bucket_limits() -> np.ndarray:
    """TF's default histogram bucket limits (ascending float64, -DBL_MAX ... 0 ... DBL_MAX)."""
    pos = []
    v = 1.0e-12
    while v < 1.0e20:  # the same float64 multiplications as the C++ loop, so limits are bit-identical
        pos.append(v)
        v *= 1.1
    pos.append(DBL_MAX)
    limits = np.array([-x for x in reversed(pos)] + [0.0] + pos, dtype=np.float64)
    limits.setflags(write=False)
    return limits


def histogram_fields(values: np.ndarray) -> dict:
    """The HistogramProto fields TF writes for `values` (any shape, finite): min, max, num, sum, ...

    Returns:
        A dict with min, max, num, sum, sum_squares (floats) and bucket_limit, bucket (lists).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    limits = default_bucket_limits()
    counts = np.zeros(len(limits), dtype=np.float64)
    if v.size:
        # upper_bound: the first limit strictly greater than the value (DBL_MAX itself goes in the last)
        idx = np.minimum(np.searchsorted(limits, v, side="right"), len(limits) - 1)
        counts = np.bincount(idx, minlength=len(limits)).astype(np.float64)
    nonzero = counts > 0
    # An empty run is written once, as its last bucket: keep a zero bucket only where the run ends.
    run_end = np.ones(len(limits), dtype=bool)
    run_end[:-1] = nonzero[1:]
    keep = nonzero | run_end
    return {
        "min": float(v.min()) if v.size else DBL_MAX,
        "max": float(v.max()) if v.size else -DBL_MAX,
        "num": float(v.size),
        "sum": float(v.sum()),
        "sum_squares": float(np.dot(v, v)),
        "bucket_limit": limits[keep].tolist(),
        "bucket": counts[keep].tolist(),
    }


def normalize_images(images: np.ndarray, bad_color: np.ndarray) -> np.ndarray:
    """Float images [n, h, w, c] (float16/32/64) to uint8 the way TF's ImageSummary does, per image."""
    n, h, w, c = images.shape
    t = images.dtype
    x = images.reshape(n, h * w, c)
    with np.errstate(all="ignore"):
        finite = np.isfinite(x).all(axis=2)  # a pixel counts only when all its channels are finite
        xf = x.astype(np.float32)
        lo = np.where(finite[..., None], xf, np.float32(np.inf)).min(axis=(1, 2), initial=np.inf)
        hi = np.where(finite[..., None], xf, np.float32(-np.inf)).max(axis=(1, 2), initial=-np.inf)
        lo, hi = lo.astype(np.float32), hi.astype(np.float32)
        neg = lo < 0
        max_abs = np.maximum(np.abs(lo), np.abs(hi))
        zero = np.float32(1e-6)
        scale = np.where(neg, np.where(max_abs < zero, 0, np.float32(127) / max_abs),
                         np.where(hi < zero, 0, np.float32(255) / hi)).astype(np.float32).astype(t)
        offset = np.where(neg, 128, 0).astype(t)
        out = (x * scale[:, None, None] + offset[:, None, None]).astype(np.uint8)
    bad = np.asarray(bad_color, dtype=np.uint8).reshape(-1)[:c]
    out = np.where(finite[..., None], out, bad)
    return out.reshape(n, h, w, c)


_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # grey, grey+alpha, RGB, RGBA


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, compression: int = -1) -> bytes:
    """Encodes a uint8 image [height, width, channels] (1 to 4 channels) as PNG bytes."""
    h, w, c = image.shape
    rows = np.zeros((h, 1 + w * c), dtype=np.uint8)  # each scanline starts with filter type 0 (None)
    rows[:, 1:] = np.ascontiguousarray(image, dtype=np.uint8).reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, _PNG_COLOR_TYPE[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), compression)) + _png_chunk(b"IEND", b""))


def wav_samples(audio: np.ndarray) -> np.ndarray:
    """float32 samples to int16 like TF's FloatToInt16Sample: roundf(x * 32768) clipped to int16."""
    with np.errstate(all="ignore"):
        # float32 products are exact in float64, so adding +-0.5 there and truncating is exactly roundf.
        v = (np.asarray(audio, dtype=np.float32) * np.float32(32768.0)).astype(np.float64)
        r = np.trunc(v + np.copysign(0.5, v))
        r = np.nan_to_num(r, nan=0.0)
        return np.clip(r, -32768, 32767).astype("<i2")


def encode_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """Encodes float32 audio [frames, channels] in [-1, 1] as a 16-bit PCM WAV file."""
    frames, channels = audio.shape
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(wav_samples(audio).tobytes())
    return buf.getvalue()

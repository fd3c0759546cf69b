"""Image codecs of tf.image: DecodeJpeg, DecodePng, DecodeGif, DecodeBmp, DecodeImage, EncodeJpeg, EncodePng.

Host-only ops (TF has CPU kernels only) backed by Pillow, imported when a kernel first runs. As in TF 2,
DecodeJpeg, DecodePng and DecodeGif decode any of JPEG, PNG and GIF (the format is read from the data),
while DecodeBmp takes BMP only; DecodeImage takes all four and may return an animation as 4-D.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import base, convert_to_tensor, dims, make_tensor

_HOST = dict(devices=("CPU",), not_differentiable=True)
_FORMATS = {b"\xff\xd8\xff": "JPEG", b"\x89PNG": "PNG", b"GIF8": "GIF", b"BM": "BMP"}


def _format(data: bytes) -> str | None:
    for magic, fmt in _FORMATS.items():
        if data.startswith(magic):
            return fmt
    return None


def _contents(op_type: str, contents: Any) -> bytes:
    arr = np.asarray(contents, dtype=object)
    if arr.ndim != 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: contents must be a scalar string, got shape "
                                          f"{list(arr.shape)}")
    v = arr.item()
    return v.encode() if isinstance(v, str) else bytes(v)


def _open(op_type: str, data: bytes, allowed: tuple) -> tuple:
    fmt = _format(data)
    if fmt is None or fmt not in allowed:
        what = "Unknown image file format" if fmt is None else f"{fmt} data is not accepted by {op_type}"
        raise errors.InvalidArgumentError(None, None, f"{op_type}: {what}. One of {', '.join(allowed)} required "
                                          f"(data size {len(data)}, starting {data[:8]!r}).")
    from PIL import Image
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as e:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, ValueError... for bad data
        raise errors.InvalidArgumentError(None, None, f"{op_type}: Invalid {fmt} data or crop window, data size "
                                          f"{len(data)} ({type(e).__name__}: {e})") from None
    return img, fmt


def _frame_array(op_type: str, img: Any, channels: int, dtype: Any) -> np.ndarray:
    """One decoded frame as [h, w, c] of `dtype` (uint8 or uint16), with TF's channel conversions."""
    mode = img.mode
    sixteen = mode in ("I;16", "I;16B", "I;16L", "I")
    if channels == 0:
        if mode in ("1", "L", "I;16", "I;16B", "I;16L", "I"):
            channels = 1
        elif mode == "LA":
            channels = 2
        elif mode == "P":
            channels = 4 if "transparency" in img.info else 3
        elif mode in ("RGBA", "PA"):
            channels = 4
        else:
            channels = 3
    if channels not in (1, 2, 3, 4):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: channels must be 0, 1, 2, 3 or 4, got {channels}")
    if sixteen:
        # Pillow's own 16 -> 8 bit conversions clip; TF keeps the high byte (libpng's strip_16)
        g = np.clip(np.asarray(img, dtype=np.int64), 0, 65535).astype(np.uint16)
        if dtype != np.uint16:
            g = (g >> 8).astype(np.uint8)
        opaque = np.full_like(g, np.iinfo(g.dtype).max)
        return np.stack({1: [g], 2: [g, opaque], 3: [g, g, g], 4: [g, g, g, opaque]}[channels], axis=-1)
    target = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    a = np.asarray(img.convert(target) if img.mode != target else img, dtype=np.uint8)
    a = a.reshape(a.shape[0], a.shape[1], channels)
    # TF widens 8-bit data to 16 bits by multiplying by 257 (0xff -> 0xffff).
    return a.astype(np.uint16) * np.uint16(257) if dtype == np.uint16 else a.copy()


def _frames(op_type: str, img: Any, channels: int) -> np.ndarray:
    out = []
    for i in range(getattr(img, "n_frames", 1)):
        img.seek(i)
        out.append(_frame_array(op_type, img, channels, np.uint8))
    return np.stack(out)


def _check_fancy(op_type: str, fancy_upscaling: bool) -> None:
    if not fancy_upscaling:
        raise errors.UnimplementedError(None, None, f"{op_type}: fancy_upscaling=False is not supported (Pillow "
                                        "always upsamples chroma smoothly); leave it True")


def _check_channels(op_type: str, channels: int, allowed: tuple) -> None:
    if channels not in allowed:
        raise ValueError(f"{op_type}: channels must be one of {list(allowed)}, got {channels}")


def _string_input(op_type: str, t: Any) -> None:
    if base(t) != _dt.string:
        raise TypeError(f"Input 'contents' of '{op_type}' Op has type {base(t).name} that does not match expected "
                        "type of string.")
    d = dims(t)
    if d is not None and len(d) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(d)} for '{op_type}' (input 'contents')")


def _decode3_shape(op_type: str) -> Any:
    def fn(ins, attrs):
        _string_input(op_type, ins[0])
        c = attrs.get("channels", 0)
        return attrs.get("dtype", _dt.uint8), (None, None, c or None)
    return fn


def _decode_gif_shape(ins, attrs):
    _string_input("DecodeGif", ins[0])
    return _dt.uint8, (None, None, None, 3)


def _decode_image_shape(ins, attrs):
    _string_input("DecodeImage", ins[0])
    if attrs["dtype"] not in (_dt.uint8, _dt.uint16, _dt.float32):
        raise TypeError(f"DecodeImage: dtype must be uint8, uint16 or float32, got {attrs['dtype'].name}")
    return attrs["dtype"], None


# -- decoders ---------------------------------------------------------------------------------------------------
_JPEG_ATTRS = {"channels": 0, "ratio": 1, "fancy_upscaling": True, "try_recover_truncated": False,
               "acceptable_fraction": 1.0, "dct_method": ""}


@op("DecodeJpeg", inputs=("contents",), attrs=dict(_JPEG_ATTRS), shape=_decode3_shape("DecodeJpeg"), **_HOST)
def decode_jpeg_kernel(xp, contents, *, channels, ratio):
    data = _contents("DecodeJpeg", contents)
    img, fmt = _open("DecodeJpeg", data, ("JPEG", "PNG", "GIF"))
    if fmt == "JPEG" and ratio > 1:
        # libjpeg's DCT scaling, which TF's `ratio` selects: Pillow's draft() takes the largest scale that keeps
        # the image at least the requested size, so asking for size // ratio gives exactly 1/ratio
        from PIL import Image
        img = Image.open(io.BytesIO(data))
        img.draft(img.mode, (max(1, img.size[0] // ratio), max(1, img.size[1] // ratio)))
    if fmt == "GIF" and getattr(img, "n_frames", 1) > 1:
        raise errors.InvalidArgumentError(None, None, "DecodeJpeg: the data is an animated GIF; use decode_gif "
                                          "(or decode_image) to get all its frames")
    return _frame_array("DecodeJpeg", img, channels, np.uint8)


@op("DecodePng", inputs=("contents",), attrs={"channels": 0, "dtype": _dt.uint8},
    shape=_decode3_shape("DecodePng"), **_HOST)
def decode_png_kernel(xp, contents, *, channels, dtype):
    data = _contents("DecodePng", contents)
    img, fmt = _open("DecodePng", data, ("PNG", "JPEG", "GIF"))
    if fmt == "GIF" and getattr(img, "n_frames", 1) > 1:
        raise errors.InvalidArgumentError(None, None, "DecodePng: the data is an animated GIF; use decode_gif "
                                          "(or decode_image) to get all its frames")
    if dtype == _dt.uint16:
        _check_16bit_colour("DecodePng", data, fmt)
    return _frame_array("DecodePng", img, channels, np.dtype(dtype.as_numpy_dtype))


def _check_16bit_colour(op_type: str, data: bytes, fmt: str) -> None:
    """Pillow reads 16-bit colour PNGs as 8 bits per channel: refuse rather than widen them silently."""
    # IHDR is the first chunk: bit depth at byte 24, colour type (2 RGB, 4 grey+alpha, 6 RGBA) at 25
    if fmt == "PNG" and len(data) > 25 and data[24] == 16 and data[25] in (2, 4, 6):
        raise errors.UnimplementedError(None, None, f"{op_type}: 16-bit colour PNGs cannot be decoded at full "
                                        "precision here (Pillow keeps 8 bits per channel); decode with "
                                        "dtype=tf.uint8, or convert the file to 16-bit grayscale")


@op("DecodeGif", inputs=("contents",), shape=_decode_gif_shape, **_HOST)
def decode_gif_kernel(xp, contents):
    img, _ = _open("DecodeGif", _contents("DecodeGif", contents), ("GIF", "PNG", "JPEG"))
    return _frames("DecodeGif", img, 3)


@op("DecodeBmp", inputs=("contents",), attrs={"channels": 0}, shape=_decode3_shape("DecodeBmp"), **_HOST)
def decode_bmp_kernel(xp, contents, *, channels):
    img, _ = _open("DecodeBmp", _contents("DecodeBmp", contents), ("BMP",))
    return _frame_array("DecodeBmp", img, channels, np.uint8)


@op("DecodeImage", inputs=("contents",), attrs={"channels": 0, "dtype": _dt.uint8, "expand_animations": True},
    shape=_decode_image_shape, **_HOST)
def decode_image_kernel(xp, contents, *, channels, dtype, expand_animations):
    data = _contents("DecodeImage", contents)
    img, fmt = _open("DecodeImage", data, ("JPEG", "PNG", "GIF", "BMP"))
    if fmt == "GIF" and expand_animations:
        if channels not in (0, 3):
            raise errors.InvalidArgumentError(None, None, f"DecodeImage: channels must be 0 or 3 for GIF, got "
                                              f"{channels}")
        out = _frames("DecodeImage", img, 3)
    else:
        if dtype != _dt.uint8:
            _check_16bit_colour("DecodeImage", data, fmt)
        # 16-bit data keeps its 16 bits for uint16 and float32 outputs, as in TF
        wide = dtype == _dt.uint16 or (dtype == _dt.float32 and img.mode.startswith("I"))
        out = _frame_array("DecodeImage", img, channels, np.uint16 if wide else np.uint8)
    if dtype == _dt.float32:
        scale = np.float32(1.0 / (65535.0 if out.dtype == np.uint16 else 255.0))
        return (out.astype(np.float32) * scale).astype(np.float32)
    if dtype == _dt.uint16 and out.dtype == np.uint8:
        return out.astype(np.uint16) * np.uint16(257)
    return out


@op("DecodeAndCropJpeg", inputs=("contents", "crop_window"), attrs=dict(_JPEG_ATTRS),
    shape=_decode3_shape("DecodeAndCropJpeg"), host_inputs=(1,), **_HOST)
def decode_and_crop_jpeg_kernel(xp, contents, crop_window, *, channels):
    data = _contents("DecodeAndCropJpeg", contents)
    img, _ = _open("DecodeAndCropJpeg", data, ("JPEG",))
    y, x, h, w = (int(v) for v in np.asarray(crop_window).reshape(-1))
    width, height = img.size
    if y < 0 or x < 0 or h <= 0 or w <= 0 or y + h > height or x + w > width:
        raise errors.InvalidArgumentError(None, None, f"DecodeAndCropJpeg: Invalid JPEG data or crop window: crop "
                                          f"[y={y}, x={x}, h={h}, w={w}] does not fit the {height}x{width} image")
    return np.ascontiguousarray(_frame_array("DecodeAndCropJpeg", img, channels, np.uint8)[y:y + h, x:x + w])


def _jpeg_shape_shape(ins, attrs):
    _string_input("ExtractJpegShape", ins[0])
    if attrs["output_type"] not in (_dt.int32, _dt.int64):
        raise TypeError(f"ExtractJpegShape: output_type must be int32 or int64, got {attrs['output_type'].name}")
    return attrs["output_type"], (3,)


@op("ExtractJpegShape", inputs=("contents",), attrs={"output_type": _dt.int32}, shape=_jpeg_shape_shape, **_HOST)
def extract_jpeg_shape_kernel(xp, contents, *, output_type):
    data = _contents("ExtractJpegShape", contents)
    if _format(data) != "JPEG":
        raise errors.InvalidArgumentError(None, None, f"ExtractJpegShape: Could not parse JPEG header (data size "
                                          f"{len(data)}, starting {data[:8]!r})")
    from PIL import Image
    try:
        img = Image.open(io.BytesIO(data))  # reads the header only
    except Exception as e:  # noqa: BLE001 - Pillow's errors for a bad header vary
        raise errors.InvalidArgumentError(None, None, f"ExtractJpegShape: Could not parse JPEG header "
                                          f"({type(e).__name__}: {e})") from None
    components = {"L": 1, "CMYK": 4}.get(img.mode, 3)
    return np.array([img.size[1], img.size[0], components], output_type.as_numpy_dtype)


# -- encoders ---------------------------------------------------------------------------------------------------
def _encode_input(op_type: str, t: Any, types: tuple) -> None:
    if base(t) not in types:
        raise TypeError(f"Value passed to parameter 'image' of '{op_type}' has DataType {base(t).name} not in list "
                        f"of allowed values: {', '.join(x.name for x in types)}")
    d = dims(t)
    if d is not None and len(d) != 3:
        raise ValueError(f"Shape must be rank 3 but is rank {len(d)} for '{op_type}' (input 'image')")


def _encode_jpeg_shape(ins, attrs):
    _encode_input("EncodeJpeg", ins[0], (_dt.uint8,))
    if attrs["format"] not in ("", "grayscale", "rgb"):
        raise ValueError(f"EncodeJpeg: format must be '', 'grayscale' or 'rgb', got {attrs['format']!r}")
    if not 0 <= attrs["quality"] <= 100:
        raise ValueError(f"EncodeJpeg: quality must be in [0,100], got {attrs['quality']}")
    if attrs["density_unit"] not in ("in", "cm"):
        raise ValueError(f"EncodeJpeg: density_unit must be 'in' or 'cm', got {attrs['density_unit']!r}")
    return _dt.string, ()


def _encode_png_shape(ins, attrs):
    _encode_input("EncodePng", ins[0], (_dt.uint8, _dt.uint16))
    if not -1 <= attrs["compression"] <= 9:
        raise ValueError(f"EncodePng: compression must be in [-1, 9], got {attrs['compression']}")
    return _dt.string, ()


def _bytes_scalar(data: bytes) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = data
    return out


@op("EncodeJpeg", inputs=("image",), attrs={"format": "", "quality": 95, "progressive": False,
                                            "optimize_size": False, "chroma_downsampling": True,
                                            "density_unit": "in", "x_density": 300, "y_density": 300,
                                            "xmp_metadata": ""}, shape=_encode_jpeg_shape, **_HOST)
def encode_jpeg_kernel(xp, image, *, format, quality, progressive, optimize_size, chroma_downsampling,  # noqa: A002
                       density_unit, x_density, y_density, xmp_metadata):
    return _encode_jpeg("EncodeJpeg", image, format, quality, progressive, optimize_size, chroma_downsampling,
                        density_unit, x_density, y_density, xmp_metadata)


def _encode_jpeg(op_type: str, image: np.ndarray, format: str, quality: int, progressive: bool,  # noqa: A002
                 optimize_size: bool, chroma_downsampling: bool, density_unit: str, x_density: int,
                 y_density: int, xmp_metadata: str) -> np.ndarray:
    c = image.shape[2]
    want = {"grayscale": 1, "rgb": 3}.get(format)
    if want is not None and c != want:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: format '{format}' needs {want} channel(s), got "
                                          f"image of shape {list(image.shape)}")
    if c not in (1, 3):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: image must have 1 or 3 channels, got {c}")
    if image.size == 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: image must be non-empty, got shape "
                                          f"{list(image.shape)}")
    from PIL import Image
    img = Image.fromarray(np.ascontiguousarray(image[..., 0] if c == 1 else image), "L" if c == 1 else "RGB")
    dpi = (x_density, y_density) if density_unit == "in" else (x_density * 2.54, y_density * 2.54)
    kw = dict(format="JPEG", quality=int(quality), progressive=bool(progressive), optimize=bool(optimize_size),
              dpi=dpi)
    if c == 3:
        kw["subsampling"] = 2 if chroma_downsampling else 0
    if xmp_metadata:
        kw["xmp"] = xmp_metadata.encode()
    buf = io.BytesIO()
    img.save(buf, **kw)
    return _bytes_scalar(buf.getvalue())


def _encode_jpeg_vq_shape(ins, attrs):
    _encode_input("EncodeJpegVariableQuality", ins[0], (_dt.uint8,))
    q = dims(ins[1])
    if q is not None and len(q) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(q)} for 'EncodeJpegVariableQuality' (input "
                         "'quality')")
    return _dt.string, ()


@op("EncodeJpegVariableQuality", inputs=("images", "quality"), shape=_encode_jpeg_vq_shape, host_inputs=(1,),
    **_HOST)
def encode_jpeg_variable_quality_kernel(xp, images, quality):
    q = int(np.asarray(quality))
    if not 0 <= q <= 100:
        raise errors.InvalidArgumentError(None, None, f"EncodeJpegVariableQuality: quality must be in [0,100], got "
                                          f"{q}")
    return _encode_jpeg("EncodeJpegVariableQuality", images, "", q, False, False, True, "in", 300, 300, "")


@op("EncodePng", inputs=("image",), attrs={"compression": -1}, shape=_encode_png_shape, **_HOST)
def encode_png_kernel(xp, image, *, compression):
    h, w, c = image.shape
    if c not in (1, 2, 3, 4):
        raise errors.InvalidArgumentError(None, None, f"EncodePng: image must have 1, 2, 3 or 4 channels, got {c}")
    from PIL import Image
    level = 6 if compression < 0 else int(compression)
    if image.dtype == np.uint16:
        if c != 1:
            raise errors.InvalidArgumentError(None, None, "EncodePng: labflow encodes 16-bit images with 1 channel "
                                              f"only (Pillow's limit), got {c}")
        img = Image.frombytes("I;16", (w, h), np.ascontiguousarray(image[..., 0]).astype("<u2").tobytes())
    else:
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[c]
        img = Image.fromarray(np.ascontiguousarray(image[..., 0] if c == 1 else image), mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=level)
    return _bytes_scalar(buf.getvalue())


# -- public wrappers -------------------------------------------------------------------------------------------
def _decode(op_type: str, contents: Any, attrs: dict, name: str | None) -> Tensor:
    t = convert_to_tensor(contents, dtype=_dt.string, name="contents")
    return make_tensor(op_type, [t], attrs, name or op_type)


def decode_jpeg(contents: Any, channels: int = 0, ratio: int = 1, fancy_upscaling: bool = True,
                try_recover_truncated: bool = False, acceptable_fraction: float = 1, dct_method: str = "",
                name: str | None = None) -> Tensor:
    """Decodes a JPEG-encoded image (PNG and single-frame GIF data decode too, as in TF) to uint8.

    Args:
        contents: a 0-D string Tensor, the encoded image.
        channels: 0 (as stored), 1 (grayscale) or 3 (RGB).
        ratio: downscaling ratio, 1, 2, 4 or 8 (JPEG's DCT scaling).
        fancy_upscaling: must be True (Pillow always upsamples chroma smoothly, as TF does by default).
        try_recover_truncated: recorded in the graph; truncated data is always an InvalidArgumentError here.
        acceptable_fraction: recorded in the graph (only matters for truncated data in TF).
        dct_method: recorded in the graph. Decoding always uses libjpeg's accurate integer DCT, i.e. TF's
            'INTEGER_ACCURATE' bit for bit; TF's default ('' = 'INTEGER_FAST') can differ by a few levels.
        name: a name for the op.

    Returns:
        A uint8 Tensor [height, width, channels].

    Raises:
        UnimplementedError: fancy_upscaling=False.
    """
    _check_channels("DecodeJpeg", channels, (0, 1, 3))
    _check_fancy("DecodeJpeg", fancy_upscaling)
    if ratio not in (1, 2, 4, 8):
        raise ValueError(f"DecodeJpeg: ratio must be 1, 2, 4 or 8, got {ratio}")
    return _decode("DecodeJpeg", contents, {"channels": int(channels), "ratio": int(ratio),
                                            "fancy_upscaling": bool(fancy_upscaling),
                                            "try_recover_truncated": bool(try_recover_truncated),
                                            "acceptable_fraction": float(acceptable_fraction),
                                            "dct_method": str(dct_method)}, name)


def decode_png(contents: Any, channels: int = 0, dtype: Any = _dt.uint8, name: str | None = None) -> Tensor:
    """Decodes a PNG-encoded image (JPEG and single-frame GIF data decode too, as in TF).

    Args:
        contents: a 0-D string Tensor, the encoded image.
        channels: 0 (as stored), 1 (grayscale), 3 (RGB) or 4 (RGBA).
        dtype: tf.uint8 or tf.uint16 (8-bit data is widened by 257).
        name: a name for the op.

    Returns:
        A Tensor of `dtype`, [height, width, channels].
    """
    _check_channels("DecodePng", channels, (0, 1, 3, 4))
    dt = _dt.as_dtype(dtype).base_dtype
    if dt not in (_dt.uint8, _dt.uint16):
        raise TypeError(f"DecodePng: dtype must be uint8 or uint16, got {dt.name}")
    return _decode("DecodePng", contents, {"channels": int(channels), "dtype": dt}, name)


def decode_gif(contents: Any, name: str | None = None) -> Tensor:
    """Decodes every frame of a GIF (PNG and JPEG data decode too, as one frame) to uint8 RGB.

    Args:
        contents: a 0-D string Tensor, the encoded image.
        name: a name for the op.

    Returns:
        A uint8 Tensor [num_frames, height, width, 3].
    """
    return _decode("DecodeGif", contents, {}, name)


def decode_bmp(contents: Any, channels: int = 0, name: str | None = None) -> Tensor:
    """Decodes a BMP-encoded image to uint8.

    Args:
        contents: a 0-D string Tensor, the encoded image.
        channels: 0 (as stored), 3 (RGB) or 4 (RGBA).
        name: a name for the op.

    Returns:
        A uint8 Tensor [height, width, channels].
    """
    _check_channels("DecodeBmp", channels, (0, 1, 3, 4))
    return _decode("DecodeBmp", contents, {"channels": int(channels)}, name)


def decode_image(contents: Any, channels: int | None = None, dtype: Any = _dt.uint8, name: str | None = None,
                 expand_animations: bool = True) -> Tensor:
    """Decodes a BMP, GIF, JPEG or PNG image, detecting the format from the data.

    Args:
        contents: a 0-D string Tensor, the encoded image.
        channels: None/0 (as stored), 1, 3 or 4.
        dtype: tf.uint8, tf.uint16 or tf.float32 (floats are scaled to [0, 1] like convert_image_dtype).
        name: a name for the op scope (default "decode_image").
        expand_animations: return every frame of a GIF as [num_frames, height, width, 3]; if False, the
            first frame as a 3-D image.

    Returns:
        A Tensor of `dtype`: 3-D for BMP, JPEG, PNG (and GIF without expand_animations), 4-D for GIF.
        Its static shape is unknown, as in TF.
    """
    from labflow.framework.graph import name_scope
    ch = 0 if channels is None else int(channels)
    _check_channels("DecodeImage", ch, (0, 1, 3, 4))
    dt = _dt.as_dtype(dtype).base_dtype
    with name_scope(name, "decode_image"):
        return _decode("DecodeImage", contents, {"channels": ch, "dtype": dt,
                                                 "expand_animations": bool(expand_animations)}, None)


def encode_jpeg(image: Any, format: str = "", quality: int = 95, progressive: bool = False,  # noqa: A002
                optimize_size: bool = False, chroma_downsampling: bool = True, density_unit: str = "in",
                x_density: int = 300, y_density: int = 300, xmp_metadata: str = "", name: str | None = None) -> Tensor:
    """JPEG-encodes a uint8 image [height, width, channels] with 1 (grayscale) or 3 (RGB) channels.

    Args:
        image: a 3-D uint8 Tensor.
        format: '' (from the channels), 'grayscale' or 'rgb'.
        quality: 0-100.
        progressive: write a progressive JPEG.
        optimize_size: spend more CPU to make it smaller.
        chroma_downsampling: 4:2:0 chroma subsampling (else 4:4:4).
        density_unit, x_density, y_density: the resolution stored in the file.
        xmp_metadata: an XMP packet to embed ('' for none).
        name: a name for the op.

    Returns:
        A 0-D string Tensor.
    """
    t = convert_to_tensor(image, name="image")
    attrs = {"format": format, "quality": int(quality), "progressive": bool(progressive),
             "optimize_size": bool(optimize_size), "chroma_downsampling": bool(chroma_downsampling),
             "density_unit": density_unit, "x_density": int(x_density), "y_density": int(y_density),
             "xmp_metadata": xmp_metadata}
    return make_tensor("EncodeJpeg", [t], attrs, name or "EncodeJpeg")


def encode_png(image: Any, compression: int = -1, name: str | None = None) -> Tensor:
    """PNG-encodes an image [height, width, channels] (uint8 with 1-4 channels, or uint16 grayscale).

    Args:
        image: a 3-D uint8 or uint16 Tensor.
        compression: zlib level 0-9, or -1 for the default.
        name: a name for the op.

    Returns:
        A 0-D string Tensor.
    """
    t = convert_to_tensor(image, name="image")
    return make_tensor("EncodePng", [t], {"compression": int(compression)}, name or "EncodePng")


def decode_and_crop_jpeg(contents: Any, crop_window: Any, channels: int = 0, ratio: int = 1,
                         fancy_upscaling: bool = True, try_recover_truncated: bool = False,
                         acceptable_fraction: float = 1, dct_method: str = "", name: str | None = None) -> Tensor:
    """Decodes the window [y, x, height, width] of a JPEG image (TF's fused decode and crop).

    Args:
        contents: a 0-D string Tensor, the JPEG data.
        crop_window: a 1-D int32 Tensor [crop_y, crop_x, crop_height, crop_width].
        channels, ratio, fancy_upscaling, try_recover_truncated, acceptable_fraction, dct_method: as decode_jpeg
            (only ratio=1 is supported).
        name: a name for the op.

    Returns:
        A uint8 Tensor [crop_height, crop_width, channels].

    Raises:
        UnimplementedError: ratio other than 1, or fancy_upscaling=False.
    """
    _check_channels("DecodeAndCropJpeg", channels, (0, 1, 3))
    _check_fancy("DecodeAndCropJpeg", fancy_upscaling)
    if ratio != 1:
        raise errors.UnimplementedError(None, None, f"DecodeAndCropJpeg: only ratio=1 is supported, got {ratio}; "
                                        "decode_jpeg(ratio=...) followed by crop_to_bounding_box does the same job")
    t = convert_to_tensor(contents, dtype=_dt.string, name="contents")
    w = convert_to_tensor(crop_window, dtype=_dt.int32, name="crop_window")
    attrs = {"channels": int(channels), "ratio": int(ratio), "fancy_upscaling": bool(fancy_upscaling),
             "try_recover_truncated": bool(try_recover_truncated), "acceptable_fraction": float(acceptable_fraction),
             "dct_method": str(dct_method)}
    return make_tensor("DecodeAndCropJpeg", [t, w], attrs, name or "DecodeAndCropJpeg")


def extract_jpeg_shape(contents: Any, output_type: Any = _dt.int32, name: str | None = None) -> Tensor:
    """The [height, width, channels] of a JPEG image, read from its header without decoding it.

    Args:
        contents: a 0-D string Tensor, the JPEG data.
        output_type: tf.int32 or tf.int64.
        name: a name for the op.

    Returns:
        A 1-D Tensor of 3 elements.
    """
    t = convert_to_tensor(contents, dtype=_dt.string, name="contents")
    return make_tensor("ExtractJpegShape", [t], {"output_type": _dt.as_dtype(output_type).base_dtype},
                       name or "ExtractJpegShape")


def is_jpeg(contents: Any, name: str | None = None) -> Tensor:
    """Whether `contents` starts with the JPEG magic bytes (a bool scalar).

    Args:
        contents: a 0-D string Tensor.
        name: a name for the op scope.

    Returns:
        A 0-D bool Tensor.
    """
    from labflow.framework.graph import name_scope
    from labflow.ops import compare_ops
    from labflow.ops.string_ops import substr
    with name_scope(name, "is_jpeg"):
        head = substr(convert_to_tensor(contents, dtype=_dt.string, name="contents"), 0, 3)
        return compare_ops.equal(head, b"\xff\xd8\xff", name="is_jpeg")

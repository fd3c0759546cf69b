"""tf.image: registers the image op families and gathers their public functions for labflow.image.

Kernels live in image_codec_ops (decode/encode), image_resize_ops, image_crop_resize_ops, image_color_ops,
image_box_ops and image_nms_ops; the composites in image_transform (geometry), image_adjust (pixel values)
and image_metrics.
"""

from __future__ import annotations

from labflow.ops.image_adjust import (  # noqa: F401 - re-exported through labflow.image
    adjust_brightness,
    adjust_contrast,
    adjust_gamma,
    adjust_hue,
    adjust_jpeg_quality,
    adjust_saturation,
    convert_image_dtype,
    grayscale_to_rgb,
    per_image_standardization,
    random_brightness,
    random_contrast,
    random_hue,
    random_jpeg_quality,
    random_saturation,
    rgb_to_grayscale,
    rgb_to_yiq,
    rgb_to_yuv,
    yiq_to_rgb,
    yuv_to_rgb,
)
from labflow.ops.image_box_ops import draw_bounding_boxes, sample_distorted_bounding_box  # noqa: F401
from labflow.ops.image_codec_ops import (  # noqa: F401
    decode_and_crop_jpeg,
    decode_bmp,
    decode_gif,
    decode_image,
    decode_jpeg,
    decode_png,
    encode_jpeg,
    encode_png,
    extract_jpeg_shape,
    is_jpeg,
)
from labflow.ops.image_color_ops import hsv_to_rgb, rgb_to_hsv  # noqa: F401
from labflow.ops.image_crop_resize_ops import crop_and_resize, extract_glimpse  # noqa: F401
from labflow.ops.image_metrics import (  # noqa: F401
    image_gradients,
    psnr,
    sobel_edges,
    ssim,
    ssim_multiscale,
    total_variation,
)
from labflow.ops.image_nms_ops import (  # noqa: F401
    combined_non_max_suppression,
    non_max_suppression,
    non_max_suppression_overlaps,
    non_max_suppression_padded,
    non_max_suppression_with_scores,
)
from labflow.ops.image_resize_ops import (  # noqa: F401
    resize_area,
    resize_bicubic,
    resize_bilinear,
    resize_nearest_neighbor,
)
from labflow.ops.image_transform import (  # noqa: F401
    ResizeMethod,
    central_crop,
    crop_to_bounding_box,
    flip_left_right,
    flip_up_down,
    pad_to_bounding_box,
    random_crop,
    random_flip_left_right,
    random_flip_up_down,
    resize_image_with_crop_or_pad,
    resize_image_with_pad,
    resize_images,
    rot90,
    transpose_image,
)

# Not star-exported into labflow: labflow.image lists the tf.image names.
__all__: list[str] = []

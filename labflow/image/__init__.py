"""`tf.image` (TF 1.x): decoding/encoding, resizing, crops and pads, flips, colour adjustments, boxes, metrics."""

from labflow.ops.array_patch_ops import extract_image_patches  # noqa: F401 - an array op TF lists here too
from labflow.ops.image_ops import (  # noqa: F401 - the tf.image namespace
    ResizeMethod,
    adjust_brightness,
    adjust_contrast,
    adjust_gamma,
    adjust_hue,
    adjust_jpeg_quality,
    adjust_saturation,
    central_crop,
    combined_non_max_suppression,
    convert_image_dtype,
    crop_and_resize,
    crop_to_bounding_box,
    decode_and_crop_jpeg,
    decode_bmp,
    decode_gif,
    decode_image,
    decode_jpeg,
    decode_png,
    draw_bounding_boxes,
    encode_jpeg,
    encode_png,
    extract_glimpse,
    extract_jpeg_shape,
    flip_left_right,
    flip_up_down,
    grayscale_to_rgb,
    hsv_to_rgb,
    image_gradients,
    is_jpeg,
    non_max_suppression,
    non_max_suppression_overlaps,
    non_max_suppression_padded,
    non_max_suppression_with_scores,
    pad_to_bounding_box,
    per_image_standardization,
    psnr,
    random_brightness,
    random_contrast,
    random_crop,
    random_flip_left_right,
    random_flip_up_down,
    random_hue,
    random_jpeg_quality,
    random_saturation,
    resize_area,
    resize_bicubic,
    resize_bilinear,
    resize_image_with_crop_or_pad,
    resize_image_with_pad,
    resize_images,
    resize_nearest_neighbor,
    rgb_to_grayscale,
    rgb_to_hsv,
    rgb_to_yiq,
    rgb_to_yuv,
    rot90,
    sample_distorted_bounding_box,
    sobel_edges,
    ssim,
    ssim_multiscale,
    total_variation,
    transpose_image,
    yiq_to_rgb,
    yuv_to_rgb,
)


def extract_patches(images, sizes, strides, rates, padding, name=None):  # noqa: ANN001, ANN201
    """`tf.image.extract_patches` (TF 1.14+): `extract_image_patches` with `sizes` for `ksizes`."""
    return extract_image_patches(images, strides=strides, rates=rates, padding=padding, name=name, sizes=sizes)


# TF 1.x aliases
resize = resize_images
resize_with_crop_or_pad = resize_image_with_crop_or_pad
transpose = transpose_image

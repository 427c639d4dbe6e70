"""A reporter's photo made safe to keep: only JPEG, PNG or WebP, bounded in bytes and in
pixels, turned upright, re-encoded as JPEG without any metadata (EXIF with its GPS position
and camera serial, XMP, ICC comments), at most `MAX_SIDE` pixels on its longer side."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from cloud.errors import InvalidInput

ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_SIDE = 1600  # pixels kept on the longer side
MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs)
QUALITY = 85


def clean_photo(data: bytes, *, max_bytes: int, field: str = "photo") -> bytes:
    """`data` as a metadata-free JPEG, or InvalidInput naming `field` and what is wrong."""
    if not data:
        raise InvalidInput(f"{field}: the file is empty")
    if len(data) > max_bytes:
        raise InvalidInput(f"{field}: {len(data)} bytes is more than the limit of {max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                if kind not in ACCEPTED:
                    raise InvalidInput(
                        f"{field}: a {kind or 'unknown'} image; send a JPEG, PNG or WebP photo"
                    )
                if probe.width * probe.height > MAX_PIXELS:
                    raise InvalidInput(
                        f"{field}: {probe.width}x{probe.height} pixels is more than "
                        f"{MAX_PIXELS} pixels"
                    )
                probe.load()
                image = ImageOps.exif_transpose(probe)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(f"{field}: not a readable JPEG, PNG or WebP image ({exc})") from exc
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    if image.mode != "RGB":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=QUALITY, optimize=True)  # no exif= : none written
    return out.getvalue()

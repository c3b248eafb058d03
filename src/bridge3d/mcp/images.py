"""Images a model can see: a render scaled to a size a client shows inline, and a contact sheet of four views.

Pillow does the decoding, scaling and composing: a full-size render decoded in pure Python (PNG unfiltering byte
by byte) takes seconds, Pillow takes milliseconds, and the gateway's lock pins it already.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, UnidentifiedImageError

SHEET_BACKGROUND = (40, 40, 40)
LABEL_COLOR = (255, 255, 255)
LABEL_SHADOW = (0, 0, 0)
JPEG_QUALITY = 85


@dataclass(frozen=True)
class InlineImage:
    data: bytes
    mime_type: str
    width: int
    height: int


def inline_image(data: bytes, max_side: int, *, jpeg: bool = False) -> InlineImage | None:
    """The image scaled (never enlarged) so its longest side is at most ``max_side``, as PNG (or JPEG); None when
    Pillow cannot read it (OpenEXR)."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        return None
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return encode(image, jpeg=jpeg)


def encode(image: Image.Image, *, jpeg: bool = False) -> InlineImage:
    buffer = io.BytesIO()
    if jpeg:
        image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
        mime = "image/jpeg"
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA")
        image.save(buffer, "PNG", optimize=False)
        mime = "image/png"
    return InlineImage(buffer.getvalue(), mime, image.width, image.height)


def contact_sheet(views: Sequence[tuple[str, bytes]], cell: int) -> InlineImage:
    """Up to four labelled views, two by two, each in a ``cell`` x ``cell`` square (scaled to fit, centred)."""
    sheet = Image.new("RGB", (cell * 2, cell * 2), SHEET_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for index, (label, data) in enumerate(views[:4]):
        view = Image.open(io.BytesIO(data)).convert("RGBA")
        view.thumbnail((cell, cell), Image.Resampling.LANCZOS)
        left, top = (index % 2) * cell, (index // 2) * cell
        backdrop = Image.new("RGBA", view.size, (*SHEET_BACKGROUND, 255))
        placed = Image.alpha_composite(backdrop, view).convert("RGB")
        sheet.paste(placed, (left + (cell - view.width) // 2, top + (cell - view.height) // 2))
        draw.text((left + 7, top + 5), label, fill=LABEL_SHADOW)
        draw.text((left + 6, top + 4), label, fill=LABEL_COLOR)
    return encode(sheet)

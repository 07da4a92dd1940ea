"""The template's logo as a PDF image (with its transparency as a soft mask), made once per file.

The pixels are read as reportlab reads them for platypus (``ImageReader``: grey, RGB or CMYK
samples, the alpha channel apart), deflated once, and kept while the file is unchanged (its path,
size and modification time). The logo is fitted in its box as ``canvas.drawImage(…,
preserveAspectRatio=True)`` fits it: centred, scaled to the smaller ratio (reportlab's own
``aspectRatioFix``).
"""

from __future__ import annotations

import os
import threading
import zlib
from dataclasses import dataclass

from reportlab.lib.boxstuff import aspectRatioFix
from reportlab.lib.utils import ImageReader

from hub.documents.pdf_fonts import Unsupported
from hub.documents.pdf_objects import ref, stream

_SPACES = {1: b"/DeviceGray", 3: b"/DeviceRGB", 4: b"/DeviceCMYK"}
_lock = threading.Lock()
_images: dict[tuple[str, int, int], "Image"] = {}


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    samples: bytes  # deflated
    space: bytes
    alpha: bytes | None  # deflated grey samples of the soft mask

    def objects(self, first: int) -> list[bytes]:
        """The image (object ``first``) and its soft mask (``first + 1``), when it has one."""
        size = b"/Type /XObject /Subtype /Image /Width %d /Height %d /BitsPerComponent 8 " % (self.width, self.height)
        mask = b" /SMask %s" % ref(first + 1) if self.alpha is not None else b""
        out = [stream(size + b"/ColorSpace " + self.space + b" /Filter /FlateDecode" + mask, self.samples)]
        if self.alpha is not None:
            out.append(stream(size + b"/ColorSpace /DeviceGray /Decode [0 1] /Filter /FlateDecode", self.alpha))
        return out

    def ops(self, resource: str, box: tuple[float, float, float, float]) -> str:
        """The operators drawing it fitted in ``box`` (x, y, width, height)."""
        x, y, width, height, _ = aspectRatioFix(True, "c", *box, self.width, self.height)
        return f"q {width:.5f} 0 0 {height:.5f} {x:.5f} {y:.5f} cm /{resource} Do Q"


def load(path: str) -> Image:
    """The image of ``path``; OSError when it cannot be read (the renderers then print no logo)."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    found = _images.get(key)
    if found is not None:
        return found
    reader = ImageReader(path)
    width, height = reader.getSize()
    samples = reader.getRGBData()
    components = len(samples) // (width * height)
    if components not in _SPACES:
        raise Unsupported(f"{path}: {components} samples per pixel")
    alpha = reader._dataA.getRGBData() if reader._dataA is not None else None  # platypus' mask="auto"
    if alpha is None and reader.getTransparent() is not None:
        raise Unsupported(f"{path}: a transparent colour key")
    image = Image(width, height, zlib.compress(samples, 9), _SPACES[components],
                  zlib.compress(alpha, 9) if alpha is not None else None)
    with _lock:
        _images[key] = image
    return image

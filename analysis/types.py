"""Typed contracts passed between pipeline stages (frozen dataclasses, no dict soup).

Array fields are numpy arrays; dataclasses holding arrays use ``eq=False`` so that equality is
identity (comparing pixel arrays element-wise is never what a caller wants).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

U8 = NDArray[np.uint8]
F16 = NDArray[np.float16]
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
Bool = NDArray[np.bool_]
I32 = NDArray[np.int32]


@dataclass(frozen=True, eq=False)
class Photo:
    """A decoded photo, upright (EXIF orientation applied), as 8-bit RGB.

    rgb:
        ``(H, W, 3)`` uint8, sRGB.
    sha256:
        Hex digest of the input bytes (of the array's bytes when an array was given).
    source_format:
        ``"JPEG"``, ``"PNG"``, ``"TIFF"``, ``"WEBP"`` or ``"array"``.
    source_bit_depth:
        Bits per channel of the source (8 or 16).
    exif_orientation:
        The EXIF orientation tag that was applied (1 when none).
    chroma_px:
        Pixels each stored colour sample spans (chroma subsampling: 2 for a 4:2:0 or 4:2:2
        JPEG and for a lossy WebP, 1 for a 4:4:4 JPEG and for every other source).
    """

    rgb: U8
    sha256: str
    source_format: str
    source_bit_depth: int = 8
    exif_orientation: int = 1
    chroma_px: int = 1

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

"""Indices into MediaPipe's 478-point face mesh used by the pipeline.

"Right"/"left" are the subject's own sides: the subject's right eye appears on the image's left.
Indices follow the published MediaPipe face-mesh topology (canonical_face_model_uv_visualization).
"""

from __future__ import annotations

# Eye corners and outlines.
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
RIGHT_LOWER_LID = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_LOWER_LID = (263, 249, 390, 373, 374, 380, 381, 382, 362)

# Eyebrows: upper contour from the tail (lateral) to the head (medial), then the lower contour.
RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)
RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)

# Irises: centre then four contour points (MediaPipe's refined landmarks).
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

# Nose.
NASION = 168
NOSE_TIP = 1
SUBNASALE = 2
RIGHT_ALA, LEFT_ALA = 129, 358  # lateral edge of the nostril wings
RIGHT_ALA_LOW, LEFT_ALA_LOW = 98, 327
NOSTRILS = (98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 45, 220, 115, 48, 64)

# Mouth.
RIGHT_MOUTH, LEFT_MOUTH = 61, 291
UPPER_LIP_TOP = 0
LOWER_LIP_BOTTOM = 17
LIPS_OUTER = (
    61,
    185,
    40,
    39,
    37,
    0,
    267,
    269,
    270,
    409,
    291,
    375,
    321,
    405,
    314,
    17,
    84,
    181,
    91,
    146,
)

# Face outline, clockwise from the top of the forehead (landmark 10).
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
FOREHEAD_TOP = 10
CHIN = 152
RIGHT_CHEEK_SIDE, LEFT_CHEEK_SIDE = 234, 454

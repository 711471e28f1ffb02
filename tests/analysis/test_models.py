from pathlib import Path

import pytest

from models.loader import FACE_DETECTOR_FULL_RANGE, FACE_LANDMARKER, ModelFileError, verified_bytes


@pytest.mark.parametrize("model", [FACE_LANDMARKER, FACE_DETECTOR_FULL_RANGE])
def test_bundled_models_verify(model):
    assert len(verified_bytes(model)) == model.size


def test_corrupted_model_is_refused(tmp_path: Path):
    src = verified_bytes(FACE_LANDMARKER)
    (tmp_path / FACE_LANDMARKER.name).write_bytes(src[:-1] + bytes([src[-1] ^ 1]))
    with pytest.raises(ModelFileError, match="corrupted or was replaced"):
        verified_bytes(FACE_LANDMARKER, tmp_path)


def test_missing_model_is_refused(tmp_path: Path):
    with pytest.raises(ModelFileError, match="cannot be read"):
        verified_bytes(FACE_LANDMARKER, tmp_path)

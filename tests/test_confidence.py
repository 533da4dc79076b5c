"""Plate confidence: the product of the character confidences, through the model's calibration map."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import tiny_models
from twplate import PlateRecognizer
from twplate.confidence import Calibration, plate_confidence, plate_score
from twplate.errors import ModelError
from twplate.model_files import YAML_FILE, default_model_dir, read_model_yaml

MAP = Calibration(slope=0.5, intercept=3.0, review_below=0.95, fitted_on="test")


def test_plate_score_is_the_product_of_the_characters() -> None:
    assert plate_score((0.9, 0.5, 1.0)) == pytest.approx(0.45)
    assert plate_score(()) == 0.0
    assert plate_confidence((0.9, 0.5), None) == pytest.approx(0.45)  # no map: the raw product


def test_calibration_is_monotone_bounded_and_finite_at_the_ends() -> None:
    scores = np.linspace(0.0, 1.0, 101)
    mapped = [MAP((s,)) for s in scores]
    assert all(0.0 < p < 1.0 and math.isfinite(p) for p in mapped)
    assert mapped == sorted(mapped)
    assert MAP(()) == 0.0  # nothing read, nothing to trust
    assert MAP((0.9, 0.9)) == pytest.approx(MAP((0.81,)))  # a function of the product alone
    assert Calibration(slope=1.0, intercept=0.0)((0.3,)) == pytest.approx(0.3)  # the identity map


def test_calibration_round_trips_and_refuses_what_it_does_not_know() -> None:
    assert Calibration.from_dict(MAP.to_dict()) == MAP
    with pytest.raises(ValueError, match="only 'score: product'"):
        Calibration.from_dict({**MAP.to_dict(), "method": "isotonic"})
    with pytest.raises(ValueError, match="finite"):
        Calibration.from_dict({**MAP.to_dict(), "slope": float("nan")})
    with pytest.raises(ValueError, match="review_below"):
        Calibration.from_dict({**MAP.to_dict(), "review_below": 2})


def test_a_models_map_is_read_and_applied(model_copy: Path) -> None:
    image = tiny_models.stripe_image("ABC-1234")
    raw = PlateRecognizer(model_copy)(image)
    assert raw.confidence == pytest.approx(plate_score(raw.char_confidences))
    doc = yaml.safe_load((model_copy / YAML_FILE).read_text(encoding="utf-8"))
    doc["confidence"] = MAP.to_dict()
    (model_copy / YAML_FILE).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert read_model_yaml(model_copy).calibration == MAP
    calibrated = PlateRecognizer(model_copy)(image)
    assert calibrated.char_confidences == raw.char_confidences
    assert calibrated.confidence == pytest.approx(MAP(raw.char_confidences))
    doc["confidence"]["method"] = "magic"
    (model_copy / YAML_FILE).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ModelError, match="only 'score: product'"):
        read_model_yaml(model_copy)


def test_the_shipped_model_carries_a_map_fitted_on_real_plates() -> None:
    calibration = read_model_yaml(default_model_dir()).calibration
    assert calibration is not None and "real plates" in calibration.fitted_on
    assert 0.5 < calibration.review_below < 1.0

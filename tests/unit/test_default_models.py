"""The models shipped in the package, measured through the real loaders on held-out data.

The classifier never saw the digits' held-out split; the detector never saw
scenes from the held-out seed.  The figures asserted here are the README's.
"""

from __future__ import annotations

import pytest
from PIL import Image

from chalicelib.prediction.models import PROJECT_ROOT, load_classifier, load_detector
from chalicelib.settings import DEFAULT_CLASSIFIER_MODEL, DEFAULT_DETECTOR_MODEL, Settings
from tests.support.stage import REQUIRED_NAMES
from training import digits, shapes
from training.evaluation import accuracy, mean_average_precision
from training.train_detector import HELD_OUT_SCENES, HELD_OUT_SEED, TRAIN_SEED

MODELS_DIR = "chalicelib/prediction/default_models"


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(DEFAULT_CLASSIFIER_MODEL)


@pytest.fixture(scope="module")
def detector():
    return load_detector(DEFAULT_DETECTOR_MODEL)


@pytest.fixture(scope="module")
def held_out_scenes():
    assert HELD_OUT_SEED != TRAIN_SEED
    return shapes.make_scenes(HELD_OUT_SCENES, HELD_OUT_SEED)


def test_the_stage_defaults_name_the_shipped_models():
    settings = Settings.from_environ(REQUIRED_NAMES)
    assert settings.classifier_model == f"{MODELS_DIR}/digits-classifier.json"
    assert settings.detector_model == f"{MODELS_DIR}/shapes-detector.json"


@pytest.mark.parametrize("enlarge", [1, 4])
def test_classifier_is_at_least_95_percent_accurate_on_held_out_digits(classifier, enlarge):
    _, _, held_out, labels = digits.load_split()

    found = classifier.classify([digits.to_image(grey, enlarge) for grey in held_out], top_k=3)

    assert all(len(entry) == 3 for entry in found)
    assert accuracy([entry[0]["label"] for entry in found],
                    [str(label) for label in labels]) >= 0.95


def test_detector_reaches_map50_of_0_8_on_held_out_scenes(detector, held_out_scenes):
    found = detector.detect([scene.image for scene in held_out_scenes], threshold=0.05)

    truth = [(scene.boxes, scene.labels) for scene in held_out_scenes]
    assert mean_average_precision(truth, found, shapes.CLASSES) >= 0.8


def test_detector_boxes_follow_the_source_image_size(detector, held_out_scenes):
    scenes = held_out_scenes[:200]
    enlarged = [scene.image.resize((192, 192), Image.Resampling.NEAREST) for scene in scenes]

    found = detector.detect(enlarged, threshold=0.05)

    truth = [(scene.boxes * 3, scene.labels) for scene in scenes]
    assert mean_average_precision(truth, found, shapes.CLASSES) >= 0.8
    assert all(0 <= entry["box"][0] < entry["box"][2] <= 192
               and 0 <= entry["box"][1] < entry["box"][3] <= 192
               for entries in found for entry in entries)


def test_detector_finds_nothing_confident_in_an_empty_scene(detector):
    empty = Image.new("RGB", (64, 64), (40, 90, 160))

    assert detector.detect([empty], threshold=0.5) == [[]]


def test_shipped_models_fit_the_package_budget():
    total = sum(path.stat().st_size for path in (PROJECT_ROOT / MODELS_DIR).iterdir())
    assert total <= 5 * 1024 * 1024

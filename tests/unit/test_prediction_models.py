"""The generic ONNX loaders, fed tiny models whose answers are known in advance."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from chalicelib.errors import InvalidInput
from chalicelib.prediction.models import (
    PROJECT_ROOT,
    ImageClassifier,
    ModelConfigError,
    ObjectDetector,
    create_session,
    load_classifier,
    load_detector,
    load_manifest,
)
from tests.support import onnx_graphs
from tests.support.onnx_graphs import CountingSession

COLOURS = ["red", "green", "blue"]
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def classifier_manifest(layout="NCHW", output="logits", **extra):
    return {"task": "classification", "layout": layout, "size": [6, 4], "scale": 1 / 255,
            "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "output": output,
            "labels": COLOURS, **extra}


def plain(colour, size=(30, 20)):
    return Image.new("RGB", size, colour)


def softmax(values):
    exps = np.exp(np.asarray(values, dtype=np.float64) - max(values))
    return exps / exps.sum()


def counted(kind, manifest_path):
    manifest = load_manifest(manifest_path)
    onnx_path = manifest_path.replace(".json", ".onnx")
    session = CountingSession(create_session(onnx_path))
    return kind(manifest, session, manifest_path), session


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("output", ["logits", "probabilities"])
def test_classifier_scores_follow_the_manifests_normalization(tmp_path, layout, output):
    model = onnx_graphs.colour_classifier(layout, "N", probabilities=output == "probabilities")
    path = onnx_graphs.save(tmp_path, "colours", model, classifier_manifest(layout, output))

    results = load_classifier(path).classify([plain(RED), plain((255, 128, 0))], top_k=3)

    # normalized channel means: (v / 255 - 0.5) / 0.25
    red = softmax([2.0, -2.0, -2.0])
    orange = softmax([2.0, (128 / 255 - 0.5) / 0.25, -2.0])
    assert [entry["label"] for entry in results[0]] == ["red", "green", "blue"]
    assert [entry["score"] for entry in results[0]] == pytest.approx(red, rel=1e-5)
    assert [entry["label"] for entry in results[1]] == ["red", "green", "blue"]
    assert [entry["score"] for entry in results[1]] == pytest.approx(orange, rel=1e-5)


def test_classifier_returns_at_most_top_k_best_first(tmp_path):
    model = onnx_graphs.colour_classifier("NCHW", "N", probabilities=False)
    path = onnx_graphs.save(tmp_path, "colours", model, classifier_manifest())
    classifier = load_classifier(path)

    assert classifier.classify([plain(BLUE)], top_k=1) == [
        [{"label": "blue", "score": pytest.approx(softmax([-2, -2, 2])[2], rel=1e-5)}]]
    assert len(classifier.classify([plain(GREEN)], top_k=10)[0]) == 3
    assert classifier.classify([], top_k=5) == []
    with pytest.raises(InvalidInput, match="top_k must be a positive integer"):
        classifier.classify([plain(RED)], top_k=0)


def test_dynamic_batch_model_runs_all_images_at_once(tmp_path):
    model = onnx_graphs.colour_classifier("NCHW", "N", probabilities=True)
    path = onnx_graphs.save(tmp_path, "colours", model, classifier_manifest(output="probabilities"))
    classifier, session = counted(ImageClassifier, path)

    results = classifier.classify([plain(RED), plain(GREEN), plain(BLUE, (5, 90))], top_k=1)

    assert [entry[0]["label"] for entry in results] == ["red", "green", "blue"]
    assert session.batches == [3]


def test_fixed_batch_model_runs_once_per_image_in_order(tmp_path):
    model = onnx_graphs.colour_classifier("NHWC", 1, probabilities=True)
    path = onnx_graphs.save(tmp_path, "colours", model,
                            classifier_manifest("NHWC", "probabilities"))
    classifier, session = counted(ImageClassifier, path)

    results = classifier.classify([plain(BLUE), plain(RED), plain(GREEN)], top_k=1)

    assert [entry[0]["label"] for entry in results] == ["blue", "red", "green"]
    assert session.batches == [1, 1, 1]


def test_manifest_can_turn_batching_off_for_a_dynamic_model(tmp_path):
    model = onnx_graphs.colour_classifier("NCHW", "N", probabilities=True)
    path = onnx_graphs.save(tmp_path, "colours", model,
                            classifier_manifest(output="probabilities", dynamic_batch=False))
    classifier, session = counted(ImageClassifier, path)

    classifier.classify([plain(RED), plain(GREEN)], top_k=1)

    assert session.batches == [1, 1]


@pytest.mark.parametrize("resize, expected", [("stretch", "blue"), ("center_crop", "red")])
def test_resize_mode_decides_what_the_model_sees(tmp_path, resize, expected):
    model = onnx_graphs.colour_classifier("NCHW", "N", probabilities=True)
    path = onnx_graphs.save(tmp_path, "colours", model, classifier_manifest(
        output="probabilities", resize=resize, crop_fraction=0.4, interpolation="nearest"))
    framed = plain(BLUE, (60, 40))
    framed.paste(plain(RED, (20, 14)), (20, 13))  # a red centre, mostly blue

    assert load_classifier(path).classify([framed], top_k=1)[0][0]["label"] == expected


def yolo_predictions():
    """Five anchors for classes (cat, dog), in 64x64 input pixels: cx, cy, w, h, scores."""
    anchors = [
        (20, 32, 20, 20, 0.9, 0.1),   # cat, kept
        (22, 33, 20, 20, 0.8, 0.1),   # the same cat again: NMS drops it
        (21, 32, 20, 20, 0.1, 0.7),   # a dog on the cat: another label, kept
        (50, 50, 10, 10, 0.2, 0.3),   # below the threshold
        (48, 28, 16, 8, 0.6, 0.0),    # a second cat
    ]
    return np.array(anchors, dtype=np.float32).T


DETECTOR_MANIFEST = {"task": "detection", "size": [64, 64], "output": "yolov8",
                     "resize": "letterbox", "labels": ["cat", "dog"]}


def letterboxed(x1, y1, x2, y2):
    """A 64x64-input box in a 200x100 source: scale 0.32, 16 pixels of padding on top."""
    return [x1 / 0.32, (y1 - 16) / 0.32, x2 / 0.32, (y2 - 16) / 0.32]


def assert_detections(found, expected):
    assert [(entry["label"], entry["score"]) for entry in found] == [
        (label, pytest.approx(score)) for label, score, _ in expected]
    for entry, (_, _, box) in zip(found, expected, strict=True):
        assert entry["box"] == pytest.approx(box, abs=0.01)


LETTERBOXED_EXPECTED = [("cat", 0.9, letterboxed(10, 22, 30, 42)),
                        ("dog", 0.7, letterboxed(11, 22, 31, 42)),
                        ("cat", 0.6, letterboxed(40, 24, 56, 32))]


@pytest.mark.parametrize("transposed", [False, True])
def test_yolov8_output_is_decoded_suppressed_and_scaled_to_the_source(tmp_path, transposed):
    predictions = yolo_predictions()
    model = onnx_graphs.constant_detector(predictions.T if transposed else predictions)
    path = onnx_graphs.save(tmp_path, "yolo", model, {
        **DETECTOR_MANIFEST, "output": "yolov8_transposed" if transposed else "yolov8"})

    found = load_detector(path).detect([plain(RED, (200, 100))], threshold=0.5)

    assert_detections(found[0], LETTERBOXED_EXPECTED)


def test_stretched_detector_boxes_scale_per_axis(tmp_path):
    model = onnx_graphs.constant_detector(yolo_predictions())
    path = onnx_graphs.save(tmp_path, "yolo", model, {**DETECTOR_MANIFEST, "resize": "stretch"})

    found = load_detector(path).detect([plain(RED, (200, 100))], threshold=0.85)

    # 200x100 -> 64x64: x / 0.32, y / 0.64
    assert_detections(found[0], [("cat", 0.9, [31.25, 34.375, 93.75, 65.625])])


def test_each_image_of_a_batch_maps_boxes_to_its_own_size(tmp_path):
    model = onnx_graphs.constant_detector(yolo_predictions())
    path = onnx_graphs.save(tmp_path, "yolo", model, DETECTOR_MANIFEST)
    detector, session = counted(ObjectDetector, path)

    small, large = detector.detect([plain(RED, (64, 64)), plain(RED, (200, 100))],
                                   threshold=0.5)

    assert session.batches == [2]
    assert small[0]["box"] == pytest.approx([10, 22, 30, 42])
    assert_detections(large, LETTERBOXED_EXPECTED)


def test_threshold_zero_keeps_everything_nms_does_not_remove(tmp_path):
    model = onnx_graphs.constant_detector(yolo_predictions())
    path = onnx_graphs.save(tmp_path, "yolo", model, DETECTOR_MANIFEST)
    detector = load_detector(path)

    found = detector.detect([plain(RED, (64, 64))], threshold=0.0)

    assert [entry["score"] for entry in found[0]] == pytest.approx([0.9, 0.7, 0.6, 0.3])
    with pytest.raises(InvalidInput, match=r"threshold must be a number in \[0, 1\]"):
        detector.detect([plain(RED)], threshold=1.5)


def test_boxes_outside_the_image_are_clipped_to_it(tmp_path):
    predictions = np.array([[4, 60, 20, 20, 0.9]], dtype=np.float32).T
    model = onnx_graphs.constant_detector(predictions)
    path = onnx_graphs.save(tmp_path, "edge", model, {**DETECTOR_MANIFEST, "labels": ["cat"]})

    found = load_detector(path).detect([plain(RED, (64, 64))], threshold=0.5)

    assert found[0][0]["box"] == [0.0, 50.0, 14.0, 64.0]


@pytest.mark.parametrize("normalized", [False, True])
def test_boxes_scores_labels_outputs_drop_padding_and_suppress(tmp_path, normalized):
    boxes = np.array([[10, 22, 30, 42], [11, 23, 31, 43], [40, 24, 56, 32], [0, 0, 0, 0]],
                     dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.6, 0.0])
    labels = np.array([0, 0, 1, -1])
    model = onnx_graphs.constant_triplet_detector(boxes / 64 if normalized else boxes,
                                                  scores, labels)
    manifest = {**DETECTOR_MANIFEST, "output": "boxes_scores_labels",
                "box_coordinates": "normalized" if normalized else "pixels"}
    path = onnx_graphs.save(tmp_path, "ssd", model, manifest)

    found = load_detector(path).detect([plain(RED, (200, 100))] * 2, threshold=0.0)

    expected = [("cat", 0.9, letterboxed(10, 22, 30, 42)),
                ("dog", 0.6, letterboxed(40, 24, 56, 32))]
    assert_detections(found[0], expected)
    assert_detections(found[1], expected)


VALID_MANIFEST = classifier_manifest()


@pytest.mark.parametrize("change, fragment", [
    ({"task": "segmentation"}, '"task" must be one of'),
    ({"output": "softmax"}, '"output" must be one of'),
    ({"labels": []}, '"labels" must be a non-empty list of strings'),
    ({"labels": [1, 2, 3]}, '"labels" must be a non-empty list of strings'),
    ({"size": [0, 8]}, '"size" must be \\[width, height\\]'),
    ({"size": "8x8"}, '"size" must be \\[width, height\\]'),
    ({"layout": "CHW"}, '"layout" must be one of'),
    ({"resize": "crop"}, '"resize" must be one of'),
    ({"interpolation": "cubic"}, '"interpolation" must be one of'),
    ({"std": [1, 0, 1]}, '"std" must be 3 positive numbers'),
    ({"mean": [1, 2]}, '"mean" must be 3 numbers'),
    ({"scale": "1/255"}, '"scale" must be a number'),
    ({"lables": ["a"]}, "unknown field 'lables'"),
    ({"model": "../elsewhere.onnx"}, '"model" must be a file name beside the manifest'),
    ({"dynamic_batch": "yes"}, '"dynamic_batch" must be true or false'),
    ({"input": ""}, '"input" must be a non-empty string'),
    ({"outputs": ["a", "b"]}, '"outputs" must list 1 output name'),
    ({"task": "detection", "output": "yolov8", "resize": "center_crop"},
     "a detector cannot use \"resize\": \"center_crop\""),
    ({"task": "detection", "output": "yolov8", "iou_threshold": 2},
     '"iou_threshold" must be a number in'),
])
def test_bad_manifest_fields_are_named(tmp_path, change, fragment):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**VALID_MANIFEST, **change}))

    with pytest.raises(ModelConfigError, match=fragment):
        load_manifest(str(path))


@pytest.mark.parametrize("text, fragment", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "the manifest must be a JSON object"),
])
def test_unreadable_manifests_are_named(tmp_path, text, fragment):
    path = tmp_path / "bad.json"
    path.write_text(text)

    with pytest.raises(ModelConfigError, match=fragment):
        load_manifest(str(path))


def test_missing_manifest_is_named(tmp_path):
    with pytest.raises(ModelConfigError, match=r"cannot read the model manifest .*nothing\.json"):
        load_classifier(str(tmp_path / "nothing.json"))


def test_manifest_defaults_the_model_file_to_its_own_name(tmp_path):
    path = tmp_path / "resnet.json"
    path.write_text(json.dumps(VALID_MANIFEST))

    manifest = load_manifest(str(path))

    assert manifest.model == "resnet.onnx"
    assert (manifest.layout, manifest.resize, manifest.iou_threshold) == ("NCHW", "stretch", 0.45)


def write(tmp_path, model, manifest, stem="model"):
    return onnx_graphs.save(tmp_path, stem, model, manifest)


def test_manifest_size_must_match_the_models_input(tmp_path):
    path = write(tmp_path, onnx_graphs.colour_classifier("NCHW", "N", False),
                 {**VALID_MANIFEST, "size": [8, 8]})

    with pytest.raises(ModelConfigError, match=r"has shape \['N', 3, 4, 6\].*NCHW images of 8x8"):
        load_classifier(path)


def test_manifest_layout_must_match_the_models_input(tmp_path):
    path = write(tmp_path, onnx_graphs.colour_classifier("NHWC", "N", False), VALID_MANIFEST)

    with pytest.raises(ModelConfigError, match="describes NCHW images of 6x4"):
        load_classifier(path)


def test_named_input_must_exist(tmp_path):
    path = write(tmp_path, onnx_graphs.colour_classifier("NCHW", "N", False),
                 {**VALID_MANIFEST, "input": "pixels"})

    with pytest.raises(ModelConfigError, match=r"no input 'pixels'; its inputs are \['data'\]"):
        load_classifier(path)


def test_dynamic_batch_claim_is_checked_against_the_model(tmp_path):
    path = write(tmp_path, onnx_graphs.colour_classifier("NCHW", 1, False),
                 {**VALID_MANIFEST, "dynamic_batch": True})

    with pytest.raises(ModelConfigError, match="batch dimension is fixed at 1"):
        load_classifier(path)


def test_missing_or_corrupt_onnx_file_is_named(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(VALID_MANIFEST))
    with pytest.raises(ModelConfigError, match=r"cannot load the ONNX model .*model\.onnx"):
        load_classifier(str(path))

    (tmp_path / "model.onnx").write_bytes(b"this is not a protobuf")
    with pytest.raises(ModelConfigError, match=r"cannot load the ONNX model .*model\.onnx"):
        load_classifier(str(path))


def test_a_detector_manifest_is_not_a_classifier(tmp_path):
    path = write(tmp_path, onnx_graphs.constant_detector(yolo_predictions()), DETECTOR_MANIFEST)

    with pytest.raises(ModelConfigError, match="describes a detection model, not a "
                                               "classification model"):
        load_classifier(path)


def test_yolov8_output_must_fit_the_labels(tmp_path):
    path = write(tmp_path, onnx_graphs.constant_detector(yolo_predictions()),
                 {**DETECTOR_MANIFEST, "labels": ["cat", "dog", "bird"]})

    with pytest.raises(ModelConfigError, match=r"output0 \['N', 6, 5\] does not fit the "
                                               r"'yolov8' convention.*with 3 classes"):
        load_detector(path)


@pytest.mark.parametrize("uri, fragment", [
    ("", "the model location is empty"),
    ("https://example.com/model.json", "a path inside the package or an s3://bucket/key"),
    ("s3://bucket-only", "is not an s3://bucket/key URI"),
])
def test_unusable_model_locations_are_named(uri, fragment):
    with pytest.raises(ModelConfigError, match=fragment):
        load_classifier(uri)


RESTRICTED_CPUS = """
import json, os
os.sched_setaffinity(0, {0})
from chalicelib.prediction.models import load_classifier
from chalicelib.settings import DEFAULT_CLASSIFIER_MODEL
from PIL import Image
classifier = load_classifier(DEFAULT_CLASSIFIER_MODEL)
options = classifier.session.get_session_options()
found = classifier.classify([Image.new("RGB", (8, 8))] * 3, top_k=1)
print(json.dumps({"intra": options.intra_op_num_threads, "inter": options.inter_op_num_threads,
                  "answers": len(found)}))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux CPU affinity only")
def test_sessions_run_on_a_restricted_cpu_set_with_one_thread_per_usable_cpu():
    result = subprocess.run([sys.executable, "-c", RESTRICTED_CPUS], capture_output=True,
                            text=True, check=True, cwd=str(PROJECT_ROOT))

    assert json.loads(result.stdout) == {"intra": 1, "inter": 1, "answers": 3}

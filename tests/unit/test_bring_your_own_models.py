"""Common ONNX exports users bring: each loads and answers correctly, or is refused at load."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from chalicelib.prediction import geometry
from chalicelib.prediction.models import (
    ImageClassifier,
    ModelConfigError,
    create_session,
    load_classifier,
    load_detector,
    load_manifest,
)
from tests.support import onnx_graphs
from tests.support.onnx_graphs import CountingSession

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
COLOURS = ["red", "green", "blue"]


def plain(colour, size=(30, 20)):
    return Image.new("RGB", size, colour)


def softmax(values):
    exps = np.exp(np.asarray(values, dtype=np.float64) - max(values))
    return exps / exps.sum()


def classifier_manifest(**extra):
    return {"task": "classification", "size": [6, 4], "scale": 1 / 255,
            "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "output": "logits",
            "labels": COLOURS, **extra}


@pytest.mark.parametrize("output_type", ["float32", "float16", "float64"])
def test_half_precision_input_gets_the_normalised_pixels(tmp_path, output_type):
    model = onnx_graphs.colour_classifier("NCHW", "N", False, input_type="float16",
                                          output_type=output_type)
    path = onnx_graphs.save(tmp_path, "half", model, classifier_manifest())

    found = load_classifier(path).classify([plain((255, 128, 0))], top_k=3)

    expected = softmax([2.0, (128 / 255 - 0.5) / 0.25, -2.0])
    assert [entry["label"] for entry in found[0]] == ["red", "green", "blue"]
    assert [entry["score"] for entry in found[0]] == pytest.approx(expected, rel=2e-3)


def test_uint8_input_gets_the_resized_pixels_unnormalised(tmp_path):
    model = onnx_graphs.colour_classifier("NHWC", "N", False, input_type="uint8")
    # The same manifest as a float model: its normalisation does not apply to uint8 inputs.
    path = onnx_graphs.save(tmp_path, "bytes", model, classifier_manifest(layout="NHWC"))

    found = load_classifier(path).classify([plain((10, 20, 30))], top_k=3)

    assert [entry["label"] for entry in found[0]] == ["blue", "green", "red"]
    assert [entry["score"] for entry in found[0]] == pytest.approx(
        softmax([30.0, 20.0, 10.0]), rel=1e-5)


def test_an_integer_input_that_is_not_uint8_is_refused_at_load(tmp_path):
    model = onnx_graphs.colour_classifier("NCHW", "N", False, input_type="float64")
    path = onnx_graphs.save(tmp_path, "double", model, classifier_manifest())

    with pytest.raises(ModelConfigError, match=r"input 'data' is tensor\(double\); image "
                                               r"inputs may be \['tensor\(float\)'"):
        load_classifier(path)


def test_bgr_model_sees_blue_first_and_means_are_in_its_order(tmp_path):
    model = onnx_graphs.colour_classifier("NCHW", "N", False)
    # A Caffe-style model: channel 0 is blue; mean and std follow that order.
    path = onnx_graphs.save(tmp_path, "caffe", model, classifier_manifest(
        channel_order="BGR", labels=["blue", "green", "red"], scale=1,
        mean=[100, 110, 120], std=[10, 20, 40]))
    rgb_path = onnx_graphs.save(tmp_path, "rgb", model, classifier_manifest(
        labels=["blue", "green", "red"], scale=1, mean=[100, 110, 120], std=[10, 20, 40]))

    found = load_classifier(path).classify([plain((200, 110, 140))], top_k=3)
    misread = load_classifier(rgb_path).classify([plain((200, 110, 140))], top_k=1)

    # B: (140 - 100) / 10 = 4, G: 0, R: (200 - 120) / 40 = 2
    assert [(entry["label"], entry["score"]) for entry in found[0]] == [
        ("blue", pytest.approx(softmax([4, 0, 2])[0])), ("red", pytest.approx(softmax(
            [4, 0, 2])[2])), ("green", pytest.approx(softmax([4, 0, 2])[1]))]
    assert misread[0][0]["label"] == "blue" and misread[0][0]["score"] != pytest.approx(
        found[0][0]["score"])


def test_labels_come_from_ultralytics_metadata_names(tmp_path):
    model = onnx_graphs.with_metadata(onnx_graphs.colour_classifier("NCHW", "N", False),
                                      names="{0: 'rouge', 1: 'vert', 2: 'bleu'}",
                                      stride="32")
    manifest = classifier_manifest()
    del manifest["labels"]
    path = onnx_graphs.save(tmp_path, "meta", model, manifest)

    classifier = load_classifier(path)

    assert classifier.classify([plain(GREEN)], top_k=1)[0][0]["label"] == "vert"
    assert classifier.describe()["labels"] == {"count": 3, "from": "ONNX metadata 'names'",
                                               "first": ["rouge", "vert", "bleu"]}


def test_json_metadata_names_and_manifest_labels_take_precedence(tmp_path):
    model = onnx_graphs.with_metadata(onnx_graphs.colour_classifier("NCHW", "N", False),
                                      names='["r", "g", "b"]')
    from_json = onnx_graphs.save(tmp_path, "json", model,
                                 {k: v for k, v in classifier_manifest().items()
                                  if k != "labels"})
    from_manifest = onnx_graphs.save(tmp_path, "both", model, classifier_manifest())

    assert load_classifier(from_json).classify([plain(RED)], top_k=1)[0][0]["label"] == "r"
    assert load_classifier(from_manifest).labels_from == "manifest"
    assert load_classifier(from_manifest).classify([plain(RED)], top_k=1)[0][0][
        "label"] == "red"


@pytest.mark.parametrize("names, fragment", [
    (None, r"no labels: the manifest has no \"labels\" and the ONNX metadata has none"),
    ("{0: 'a', 2: 'c'}", "must number the classes 0..N-1"),
    ("not a literal {", "neither JSON nor a Python literal"),
])
def test_missing_or_broken_label_metadata_is_refused_at_load(tmp_path, names, fragment):
    model = onnx_graphs.colour_classifier("NCHW", "N", False)
    if names is not None:
        model = onnx_graphs.with_metadata(model, names=names)
    manifest = {k: v for k, v in classifier_manifest().items() if k != "labels"}
    path = onnx_graphs.save(tmp_path, "nolabels", model, manifest)

    with pytest.raises(ModelConfigError, match=fragment):
        load_classifier(path)


def test_label_count_is_checked_against_the_output_at_load(tmp_path):
    path = onnx_graphs.save(tmp_path, "four", onnx_graphs.colour_classifier("NCHW", "N", False),
                            classifier_manifest(labels=["a", "b", "c", "d"]))

    with pytest.raises(ModelConfigError, match=r"output logits \['N', 3\] does not fit the "
                                               r"'logits' convention.*with 4 classes"):
        load_classifier(path)


def test_fixed_batch_of_four_runs_six_images_in_two_padded_chunks(tmp_path):
    model = onnx_graphs.colour_classifier("NCHW", 4, True)
    path = onnx_graphs.save(tmp_path, "four", model, classifier_manifest(output="probabilities"))
    session = CountingSession(create_session(path.replace(".json", ".onnx")))
    classifier = ImageClassifier(load_manifest(path), session, path)
    colours = [RED, GREEN, BLUE, BLUE, GREEN, RED]

    found = classifier.classify([plain(colour) for colour in colours], top_k=1)

    assert [entry[0]["label"] for entry in found] == ["red", "green", "blue", "blue", "green",
                                                      "red"]
    assert session.batches == [4, 4]
    assert classifier.describe()["input"]["batch"] == 4


# -- detectors ---------------------------------------------------------------------------

def detector_manifest(labels, **extra):
    return {"task": "detection", "size": [640, 640], "resize": "stretch", "labels": labels,
            **extra}


def end_to_end_rows(classes, count=300):
    """[count, 6] rows: a true box of class 0, one of the last class, zero padding."""
    rows = np.zeros((count, 6), dtype=np.float32)
    rows[0] = [100, 50, 300, 250, 0.91, 0]
    rows[1] = [400, 420, 520, 600, 0.55, classes - 1]
    rows[2] = [110, 60, 310, 260, 0.30, 0]  # below the threshold
    return rows


@pytest.mark.parametrize("classes", [2, 80])
def test_end_to_end_export_with_nms_inside_is_read_as_declared(tmp_path, classes):
    labels = [f"class{index}" for index in range(classes)]
    model = onnx_graphs.constant_detector(end_to_end_rows(classes), size=(640, 640))
    path = onnx_graphs.save(tmp_path, "e2e", model,
                            detector_manifest(labels, output="end_to_end"))

    found = load_detector(path).detect([plain(RED, (640, 640))], threshold=0.5)

    assert found == [[
        {"label": "class0", "score": pytest.approx(0.91), "box": [100.0, 50.0, 300.0, 250.0]},
        {"label": labels[-1], "score": pytest.approx(0.55),
         "box": [400.0, 420.0, 520.0, 600.0]}]]


def test_yolov10_style_output_without_padding_keeps_the_models_own_suppression(tmp_path):
    # YOLOv10's one-to-one head: the top 300 rows sorted by score, no zero rows,
    # overlapping boxes of one class left as the model chose them.
    rows = np.array([[100, 50, 300, 250, 0.9, 1], [102, 52, 302, 252, 0.8, 1]]
                    + [[0, 0, 10, 10, 0.01, 0]] * 298, dtype=np.float32)
    model = onnx_graphs.constant_detector(rows, size=(640, 640), batch=1)
    path = onnx_graphs.save(tmp_path, "v10", model, detector_manifest(
        ["a", "b"], output="end_to_end", score_threshold=0.5))

    detector = load_detector(path)
    found = detector.detect([plain(RED, (640, 640))])

    assert [(entry["label"], entry["box"]) for entry in found[0]] == [
        ("b", [100.0, 50.0, 300.0, 250.0]), ("b", [102.0, 52.0, 302.0, 252.0])]
    assert detector.describe()["detection"]["nms"] == "inside the model"


def test_end_to_end_output_declared_as_yolov8_is_refused_naming_the_shapes(tmp_path):
    model = onnx_graphs.constant_detector(end_to_end_rows(2), size=(640, 640), batch=1)
    path = onnx_graphs.save(tmp_path, "e2e", model, detector_manifest(["a", "b"],
                                                                       output="yolov8"))

    with pytest.raises(ModelConfigError, match=(
            r"output output0 \[1, 300, 6\] does not fit the 'yolov8' convention.*with 2 classes;"
            r" it would fit \['yolov8_transposed', 'end_to_end'\]: say which")):
        load_detector(path)


@pytest.mark.parametrize("output, rows", [
    ("end_to_end", np.zeros((84, 8400), np.float32)),
    ("yolov8", np.zeros((8400, 7), np.float32)),
    ("yolov8_transposed", np.zeros((85, 8400), np.float32)),
])
def test_outputs_fitting_no_declared_convention_are_refused_at_load(tmp_path, output, rows):
    model = onnx_graphs.constant_detector(rows, size=(640, 640), batch=1)
    path = onnx_graphs.save(tmp_path, "odd", model, detector_manifest(
        [f"c{index}" for index in range(80)], output=output))

    with pytest.raises(ModelConfigError, match=rf"output output0 \[1, {rows.shape[0]}, "
                                               rf"{rows.shape[1]}\] does not fit the "
                                               rf"'{output}' convention"):
        load_detector(path)


def test_a_missing_third_output_is_refused_at_load(tmp_path):
    model = onnx_graphs.constant_detector(np.zeros((6, 10), np.float32), size=(640, 640))
    path = onnx_graphs.save(tmp_path, "one", model, detector_manifest(
        ["a", "b"], output="boxes_scores_labels"))

    with pytest.raises(ModelConfigError, match=r"reads 3 output\(s\) but the model has "
                                               r"output0 \['N', 6, 10\]"):
        load_detector(path)


def overlapping_cat_and_dog():
    """Two anchors on the same spot, one a cat (0.9), one a dog (0.8)."""
    return np.array([[100, 100, 80, 80, 0.9, 0.1], [102, 101, 80, 80, 0.1, 0.8]],
                    dtype=np.float32).T


@pytest.mark.parametrize("nms, expected", [(None, ["cat", "dog"]), ("per_class", ["cat", "dog"]),
                                           ("agnostic", ["cat"])])
def test_agnostic_nms_suppresses_overlapping_boxes_of_other_classes(tmp_path, nms, expected):
    model = onnx_graphs.constant_detector(overlapping_cat_and_dog(), size=(640, 640))
    extra = {"nms": nms} if nms else {}
    path = onnx_graphs.save(tmp_path, "yolo", model,
                            detector_manifest(["cat", "dog"], output="yolov8", **extra))

    found = load_detector(path).detect([plain(RED, (640, 640))], threshold=0.5)

    assert [entry["label"] for entry in found[0]] == expected


@pytest.mark.parametrize("manifest_threshold, request_threshold, fallback, expected", [
    (0.85, None, 0.4, ["cat"]),          # the manifest's default
    (0.85, 0.5, 0.4, ["cat", "dog"]),    # the request's
    (None, None, 0.95, []),              # the stage's
])
def test_score_threshold_from_request_then_manifest_then_stage(
        tmp_path, manifest_threshold, request_threshold, fallback, expected):
    model = onnx_graphs.constant_detector(overlapping_cat_and_dog(), size=(640, 640))
    extra = {} if manifest_threshold is None else {"score_threshold": manifest_threshold}
    path = onnx_graphs.save(tmp_path, "yolo", model,
                            detector_manifest(["cat", "dog"], output="yolov8", **extra))

    detector = load_detector(path, fallback_threshold=fallback)
    found = detector.detect([plain(RED, (640, 640))], threshold=request_threshold)

    assert [entry["label"] for entry in found[0]] == expected


@pytest.mark.parametrize("field, value, fragment", [
    ("channel_order", "GRB", '"channel_order" must be one of'),
    ("nms", "soft", '"nms" must be one of'),
    ("score_threshold", 1.5, '"score_threshold" must be a number in'),
])
def test_new_manifest_fields_are_checked(tmp_path, field, value, fragment):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(detector_manifest(["a"], output="yolov8",
                                                                **{field: value})))

    with pytest.raises(ModelConfigError, match=fragment):
        load_manifest(str(path))


# -- resize modes against references computed here ---------------------------------------

def noise(size, seed=7):
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("source, resized, crop_origin", [
    # Resize(256): short side 256, long side int(256 * long / short), truncated:
    ((500, 375), (341, 256), (58, 16)),   # 341.33; (341 - 224) / 2 = 58.5 rounds to even 58
    ((375, 500), (256, 341), (16, 58)),
    ((400, 267), (383, 256), (80, 16)),   # 383.52: rounding would give 384
    ((256, 256), (256, 256), (16, 16)),
])
def test_torchvision_center_crop_matches_resize_256_then_center_crop_224(source, resized,
                                                                          crop_origin):
    image = noise(source)

    fitted, placement = geometry.fit_image(image, (224, 224), "torchvision_center_crop",
                                           "bilinear")

    left, top = crop_origin
    reference = image.resize(resized, Image.Resampling.BILINEAR).crop(
        (left, top, left + 224, top + 224))
    assert np.array_equal(np.asarray(fitted), np.asarray(reference))
    assert (placement.offset_x, placement.offset_y) == (-left, -top)


def opencv_bilinear_reference(pixels, width, height):
    """cv2.INTER_LINEAR as its documentation states it: half-pixel centres, edges clamped,
    no antialiasing; computed per pixel in floating point."""
    source_height, source_width = pixels.shape[:2]
    out = np.zeros((height, width, pixels.shape[2]))
    for y in range(height):
        fy = (y + 0.5) * source_height / height - 0.5
        y0 = min(max(int(np.floor(fy)), 0), source_height - 1)
        wy = 0.0 if fy < 0 or y0 == source_height - 1 else fy - y0
        y1 = min(y0 + 1, source_height - 1)
        for x in range(width):
            fx = (x + 0.5) * source_width / width - 0.5
            x0 = min(max(int(np.floor(fx)), 0), source_width - 1)
            wx = 0.0 if fx < 0 or x0 == source_width - 1 else fx - x0
            x1 = min(x0 + 1, source_width - 1)
            top = pixels[y0, x0] * (1 - wx) + pixels[y0, x1] * wx
            bottom = pixels[y1, x0] * (1 - wx) + pixels[y1, x1] * wx
            out[y, x] = top * (1 - wy) + bottom * wy
    return out


@pytest.mark.parametrize("source, inner, left_top", [
    # r = min(64 / 40, 64 / 60) = 1.0667: 64 x round(42.67) = 43; 21 rows of padding:
    # Ultralytics puts round(10.5 - 0.1) = 10 above and round(10.5 + 0.1) = 11 below.
    ((60, 40), (64, 43), (0, 10)),
    ((30, 50), (38, 64), (13, 0)),  # r = 1.28: round(38.4) = 38; 26 columns, 13 each side
    ((128, 128), (64, 64), (0, 0)),
])
def test_ultralytics_letterbox_places_and_resizes_like_opencv(source, inner, left_top):
    image = noise(source)

    fitted, placement = geometry.fit_image(image, (64, 64), "ultralytics_letterbox",
                                           "bilinear", pad_value=114)

    pixels = np.asarray(fitted).astype(int)
    left, top = left_top
    width, height = inner
    content = pixels[top:top + height, left:left + width]
    reference = opencv_bilinear_reference(np.asarray(image, dtype=np.float64), width, height)
    # OpenCV rounds in 11-bit fixed point: within one grey level of the exact value.
    assert np.abs(content - reference).max() <= 1
    padding = np.ones(pixels.shape[:2], bool)
    padding[top:top + height, left:left + width] = False
    assert (pixels[padding] == 114).all()
    assert (placement.offset_x, placement.offset_y) == (left, top)
    assert placement.scale_x == placement.scale_y == pytest.approx(min(64 / source[0],
                                                                       64 / source[1]))


# Recorded from cv2.resize(..., interpolation=cv2.INTER_LINEAR), OpenCV 4.14 and 5.1 alike.
OPENCV_UPSCALE_SOURCE = [[248, 207, 237, 211, 5], [60, 109, 82, 36, 222], [8, 15, 144, 24, 11]]
OPENCV_UPSCALE_7x4 = [[248, 224, 215, 237, 218, 123, 5], [131, 139, 144, 140, 112, 118, 141],
                      [41, 59, 83, 105, 52, 79, 143], [8, 12, 52, 144, 58, 18, 11]]
OPENCV_DOWNSCALE_SOURCE = [
    [226, 201, 8, 159, 26, 27, 163, 122, 33], [41, 201, 67, 70, 166, 228, 40, 50, 179],
    [0, 177, 137, 63, 13, 188, 255, 64, 94], [8, 8, 156, 25, 29, 157, 146, 190, 115],
    [219, 135, 39, 100, 237, 127, 72, 227, 168], [21, 73, 132, 16, 153, 140, 107, 80, 163],
    [61, 110, 47, 229, 148, 170, 97, 110, 56]]
OPENCV_DOWNSCALE_4x3 = [[164, 93, 151, 95], [8, 41, 156, 162], [66, 89, 144, 104]]


@pytest.mark.parametrize("source, size, expected", [
    (OPENCV_UPSCALE_SOURCE, (7, 4), OPENCV_UPSCALE_7x4),
    (OPENCV_DOWNSCALE_SOURCE, (4, 3), OPENCV_DOWNSCALE_4x3),
])
def test_letterbox_resize_is_opencvs_to_the_grey_level(source, size, expected):
    pixels = np.repeat(np.array(source, np.uint8)[:, :, None], 3, axis=2)

    resized = geometry.opencv_linear_resize(pixels, *size)

    assert resized[:, :, 0].tolist() == expected
    assert (resized[:, :, 0] == resized[:, :, 2]).all()


def test_resize_needs_are_exposed_for_reduced_decoding(tmp_path):
    model = onnx_graphs.colour_classifier("NCHW", "N", False, size=(224, 224))
    path = onnx_graphs.save(tmp_path, "tv", model, classifier_manifest(
        size=[224, 224], resize="torchvision_center_crop"))

    classifier = load_classifier(path)

    assert classifier.input_size == (224, 224)
    assert classifier.decode_size() == (256, 256)

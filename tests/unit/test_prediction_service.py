import pytest

from chalicelib.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from chalicelib.prediction.service import (
    ImageSource,
    Limits,
    classify_images,
    detect_objects,
    parse_threshold,
    parse_top_k,
    read_sources,
)
from tests.support.fake_models import FakeClassifier, FakeDetector
from tests.support.pictures import picture

LIMITS = Limits(max_images=4, max_request_bytes=10_000, max_image_pixels=10_000,
                url_fetch_max_bytes=10_000, allow_loopback_urls=False)


def test_alignment_batching_and_errors_side_by_side():
    sources = [ImageSource("image", picture((3, 2)), "a.png"),
               ImageSource("image", b"nope", "b.png"),
               ImageSource("url", b"http://10.0.0.1/x.png"),
               ImageSource("url", b"\xff\xfe"),
               ImageSource("body", picture((5, 4)))]
    classifier = FakeClassifier()

    entries = classify_images(sources, classifier, 1, LIMITS)

    assert [entry.get("predictions") for entry in entries] == [
        [{"label": "3x2", "score": 0.5}], None, None, None, [{"label": "5x4", "score": 0.5}]]
    assert [entry.get("error", {}).get("code") for entry in entries] == [
        None, "ImageRejected", "UrlRefused", "UrlRefused", None]
    assert "a private address" in entries[2]["error"]["message"]
    assert entries[3]["error"]["message"] == "the url part is not UTF-8 text"
    assert [[image.size for image in images] for images, _ in classifier.calls] == [
        [(3, 2), (5, 4)]]


def test_a_model_answering_the_wrong_number_of_results_is_a_server_error():
    class Broken(FakeDetector):
        def detect(self, images, threshold):
            return super().detect(images, threshold)[:-1]

    with pytest.raises(RuntimeError, match="1 results for 2 images"):
        detect_objects([ImageSource("body", picture())] * 2, Broken(), 0.5, LIMITS)


def test_read_sources_checks_size_then_type():
    with pytest.raises(PayloadTooLarge, match="POST /blobs"):
        read_sources(b"x" * 10_001, "application/json", LIMITS)
    with pytest.raises(UnsupportedMediaType):
        read_sources(b"x", "text/plain", LIMITS)
    assert read_sources(b"x", "image/png; q=1", LIMITS) == [ImageSource("body", b"x")]
    assert read_sources(None, "image/png", LIMITS) == [ImageSource("body", b"")]


@pytest.mark.parametrize("query, expected", [({}, 5), ({"top_k": ["1"]}, 1),
                                             ({"top_k": ["100"]}, 100)])
def test_top_k(query, expected):
    assert parse_top_k(query) == expected


@pytest.mark.parametrize("query, expected", [({}, None), ({"threshold": ["0"]}, 0.0),
                                             ({"threshold": ["1"]}, 1.0),
                                             ({"threshold": ["0.25"]}, 0.25)])
def test_threshold(query, expected):
    assert parse_threshold(query) == expected


@pytest.mark.parametrize("query", [{"threshold": ["inf"]}, {"threshold": ["-0.0001"]},
                                   {"threshold": [""]}, {"other": ["1"]}])
def test_bad_threshold(query):
    with pytest.raises(InvalidInput):
        parse_threshold(query)


def test_a_classifier_gets_a_reduced_phone_photo_and_the_entry_keeps_its_real_size():
    classifier = FakeClassifier()
    classifier.decode_to = (256, 256)
    phone = picture((3000, 2000), fmt="JPEG")
    limits = LIMITS._replace(max_image_pixels=16_000_000, max_request_bytes=10_000_000)

    (entry,) = classify_images([ImageSource("image", phone, "p.jpg")], classifier, 1, limits)

    (images, _), = classifier.calls
    assert min(images[0].size) >= 256 and images[0].width < 3000
    assert (entry["width"], entry["height"]) == (3000, 2000)

"""Hostile input within the limits: slow URLs, odd host names, memory-hungry images."""


import pytest
from requests_toolbelt import MultipartEncoder

from tests.support.fake_models import FakeClassifier, FakeDetector, serve
from tests.support.hostile_server import HOSTILE_PATHS, hostile_server
from tests.support.hostnames import IDEOGRAPHIC_STOP, fullwidth
from tests.support.image_server import serving
from tests.support.pictures import picture

GREEN = (20, 180, 40)


class SizedClassifier(FakeClassifier):
    """The fake classifier with an input size, as the real models have."""
    decode_to = (32, 32)


class SizedDetector(FakeDetector):
    decode_to = (32, 32)


@pytest.fixture
def classifier(monkeypatch):
    return serve(monkeypatch, SizedClassifier())


@pytest.fixture
def detector(monkeypatch):
    return serve(monkeypatch, SizedDetector())


def post_form(client, path, fields):
    encoder = MultipartEncoder(fields=fields)
    return client.http.post(path, headers={"Content-Type": encoder.content_type},
                            body=encoder.to_string())


def test_hostile_urls_fail_alone_at_the_shared_deadline(client, classifier, stage):
    stage(URL_FETCH_TIMEOUT_SECONDS="1")
    image = ("image", ("green.png", picture((40, 40), GREEN), "image/png"))
    with hostile_server() as base_url:
        urls = [("url", f"{base_url}{path}") for path in HOSTILE_PATHS for _ in range(3)]
        response = post_form(client, "/predict", [image, *urls])
    assert response.status_code == 200
    good, *hostile = response.json_body
    assert "predictions" in good
    assert len(hostile) == 12
    for entry in hostile:
        assert entry["error"]["code"] == "FetchFailed"
        assert entry["error"]["reason"] == "deadline"
        assert "did not answer completely" in entry["error"]["message"]


@pytest.mark.parametrize("host", [fullwidth("127.0.0.1"), fullwidth("127") + ".0.0.1",
                                  IDEOGRAPHIC_STOP.join(["127", "0", "0", "1"])])
def test_a_non_ascii_host_is_normalised_and_fetched(client, classifier, host):
    with serving({"/green.png": ("image/png", picture((30, 10), GREEN))}) as base_url:
        port = base_url.rsplit(":", 1)[1]
        response = post_form(client, "/predict", [("url", f"http://{host}:{port}/green.png")])
    assert response.status_code == 200
    [entry] = response.json_body
    assert "error" not in entry and entry["width"] == 30


def test_a_host_that_cannot_be_normalised_is_that_images_refusal(client, classifier):
    image = ("image", ("green.png", picture((20, 20), GREEN), "image/png"))
    response = post_form(client, "/predict", [
        image, ("url", "http://a\u200db.example/x.png"),
        ("url", f"http://ex{IDEOGRAPHIC_STOP * 2}ample/x.png")])
    assert response.status_code == 200
    good, *refused = response.json_body
    assert "predictions" in good
    assert [entry["error"]["code"] for entry in refused] == ["UrlRefused", "UrlRefused"]
    assert all("not a valid domain name" in entry["error"]["message"] for entry in refused)


def test_an_image_over_the_memory_budget_fails_alone(client, classifier, stage):
    stage(IMAGE_MEMORY_BUDGET_MB="1")
    small = ("image", ("small.png", picture((40, 40), GREEN), "image/png"))
    # 1000x1000 RGB takes 4 MB in Pillow's memory, and as much again as its RGB copy.
    large = ("image", ("large.bmp", picture((1000, 1000), GREEN, "BMP"), "image/bmp"))
    response = post_form(client, "/predict", [small, large, small])
    first, second, third = response.json_body
    assert response.status_code == 200
    assert "predictions" in first and "predictions" in third
    assert second["error"]["code"] == "TooLarge"
    assert "IMAGE_MEMORY_BUDGET_MB" in second["error"]["message"]
    assert len(classifier.calls) == 1 and len(classifier.calls[0][0]) == 2


@pytest.mark.parametrize("fmt, mode", [("PNG", "1"), ("PNG", "P"), ("PNG", "I;16"),
                                       ("JPEG", "CMYK"), ("JPEG", "RGB")])
def test_large_images_reach_the_model_reduced_towards_its_input(client, classifier, fmt,
                                                                 mode):
    data = picture((1600, 800), GREEN, fmt, mode=mode)
    response = post_form(client, "/predict", [("image", ("big", data, "image/png"))])
    [entry] = response.json_body
    assert (entry["width"], entry["height"]) == (1600, 800)
    [(images, _)] = classifier.calls
    width, height = images[0].size
    # Still covering the 32x32 input, at most twice it on the tighter side.
    assert 32 <= height < 64 and width >= 32 and images[0].mode == "RGB"


def test_detection_boxes_of_a_reduced_image_are_in_the_sources_pixels(client, detector):
    data = picture((1600, 800), GREEN, "PNG")
    response = post_form(client, "/object_detection?threshold=0.5",
                         [("image", ("big.png", data, "image/png"))])
    [entry] = response.json_body
    [(images, _)] = detector.calls
    assert images[0].size != (1600, 800)
    assert entry["predictions"][0]["box"] == [0.0, 0.0, 1600.0, 800.0]

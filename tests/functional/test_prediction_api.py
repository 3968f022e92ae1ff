"""POST /predict and /object_detection through chalice.test with model doubles.

The doubles (tests/support/fake_models.py) have the real models' signatures and
label each image with its size and mean colour, so these tests check what the
routes own: parsing, decoding, alignment, per-image errors, one batched call.
"""

import json

import pytest
from requests_toolbelt import MultipartEncoder

from chalicelib import wiring
from tests.support.fake_models import FakeClassifier, FakeDetector, serve
from tests.support.image_server import serving
from tests.support.pictures import animated_gif, noise, picture

RED, GREEN, BLUE = (200, 30, 60), (20, 180, 40), (10, 20, 230)


@pytest.fixture
def classifier(monkeypatch):
    return serve(monkeypatch, FakeClassifier())


@pytest.fixture
def detector(monkeypatch):
    return serve(monkeypatch, FakeDetector())


@pytest.fixture(scope="module")
def image_host():
    files = {"/green.png": ("image/png", picture((30, 10), GREEN)),
             "/blue.webp": ("image/webp", picture((12, 12), BLUE, "WEBP")),
             "/page.html": ("text/html", b"<html>no image here</html>")}
    with serving(files) as base_url:
        yield base_url


def post_form(client, path, fields, query=""):
    encoder = MultipartEncoder(fields=fields)
    return client.http.post(f"{path}{query}", headers={"Content-Type": encoder.content_type},
                            body=encoder.to_string())


def labels(entry):
    return [prediction["label"] for prediction in entry["predictions"]]


def color(entry, index=1):
    """The mean colour the fake saw, from its ``rgb(r,g,b)`` label."""
    return tuple(int(v) for v in labels(entry)[index][4:-1].split(","))


def near(actual, expected, tolerance=4):
    """Colours equal up to lossy compression (JPEG, WebP)."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def test_entries_follow_the_parts_in_order_with_one_model_call(client, classifier,
                                                               image_host):
    response = post_form(client, "/predict", [
        ("image", ("red.jpg", picture((40, 20), RED, "JPEG"), "image/jpeg")),
        ("url", f"{image_host}/green.png"),
        ("image", ("blue.bmp", picture((8, 16), BLUE, "BMP"), "image/bmp")),
        ("url", f"{image_host}/blue.webp"),
    ])

    assert response.status_code == 200
    entries = response.json_body
    assert [(entry["index"], entry["source"]) for entry in entries] == [
        (0, "image"), (1, "url"), (2, "image"), (3, "url")]
    assert [labels(entry)[0] for entry in entries] == ["40x20", "30x10", "8x16", "12x12"]
    assert all(near(color(entry), expected)
               for entry, expected in zip(entries, [RED, GREEN, BLUE, BLUE], strict=True))
    assert entries[0]["filename"] == "red.jpg"
    assert entries[1]["url"] == f"{image_host}/green.png"
    assert [(entry["width"], entry["height"]) for entry in entries] == [
        (40, 20), (30, 10), (8, 16), (12, 12)]
    assert len(classifier.calls) == 1
    assert [image.size for image in classifier.calls[0][0]] == [
        (40, 20), (30, 10), (8, 16), (12, 12)]


def test_one_bad_image_never_fails_the_others(client, classifier, image_host):
    response = post_form(client, "/predict", [
        ("image", ("empty.png", b"", "image/png")),
        ("image", ("good.png", picture((20, 20), RED), "image/png")),
        ("image", ("cut.png", picture((64, 64), GREEN)[:-40], "image/png")),
        ("image", ("notes.txt", b"just some text", "text/plain")),
        ("url", "http://169.254.169.254/latest/meta-data/"),
        ("url", "ftp://example.com/a.png"),
        ("url", f"{image_host}/page.html"),
        ("url", f"{image_host}/missing.png"),
        ("image", ("good2.gif", picture((10, 10), BLUE, "GIF"), "image/gif")),
    ])

    assert response.status_code == 200
    entries = response.json_body
    errors = [(entry.get("error") or {}).get("code") for entry in entries]
    assert errors == [
        "ImageRejected", None, "ImageRejected", "ImageRejected", "UrlRefused", "UrlRefused",
        "ImageRejected", "FetchFailed", None]
    assert [entries[i]["error"]["reason"] for i in (0, 2, 3, 6)] == [
        "empty", "corrupt", "not_an_image", "not_an_image"]
    assert "link-local" in entries[4]["error"]["message"]
    assert "only http and https" in entries[5]["error"]["message"]
    assert "HTTP 404" in entries[7]["error"]["message"]
    assert near(color(entries[1]), RED) and near(color(entries[8]), BLUE)
    assert all("predictions" not in entry for entry in entries if "error" in entry)
    assert [len(images) for images, _ in classifier.calls] == [2]


def test_every_image_bad_answers_errors_without_calling_the_model(client, classifier):
    response = post_form(client, "/predict", [("image", ("a.png", b"\x89PNG\r\n", "image/png"))])

    assert response.status_code == 200
    assert response.json_body[0]["error"]["code"] == "ImageRejected"
    assert classifier.calls == []


def test_more_pixels_than_the_stage_allows_is_that_images_error(client, classifier):
    # 4100 x 4000 = 16.4 million pixels, over the dev stage's 16 million; one
    # grey level compresses to a few kilobytes: a small decompression bomb.
    bomb = picture((4100, 4000), (0, 0, 0), mode="L")
    response = post_form(client, "/predict", [
        ("image", ("bomb.png", bomb, "image/png")),
        ("image", ("ok.png", picture(), "image/png"))])

    bomb_entry, ok_entry = response.json_body
    assert bomb_entry["error"]["reason"] == "too_many_pixels"
    assert "16400000 pixels" in bomb_entry["error"]["message"]
    assert "predictions" in ok_entry


def test_formats_modes_and_exif_orientation(client, classifier):
    response = post_form(client, "/predict", [
        ("image", ("turned.jpg", picture((40, 20), RED, "JPEG", orientation=6),
                   "image/jpeg")),
        ("image", ("alpha.png", picture((10, 10), GREEN, mode="RGBA"), "image/png")),
        ("image", ("palette.png", picture((10, 10), BLUE, mode="P"), "image/png")),
        ("image", ("grey.webp", picture((10, 10), (90, 90, 90), "WEBP", mode="L"),
                   "image/webp")),
        ("image", ("anim.gif", animated_gif([RED, GREEN, BLUE]), "image/gif")),
    ])

    entries = response.json_body
    assert labels(entries[0])[0] == "20x40"
    assert {label for entry in entries for label in labels(entry)[2:3]} == {"RGB"}
    assert near(color(entries[1]), GREEN)
    assert near(color(entries[2]), BLUE)
    assert near(color(entries[3]), (90, 90, 90))
    # The first frame of an animation, not a later one.
    assert near(color(entries[4]), RED, tolerance=10)


def test_parts_without_filename_and_with_a_non_ascii_one(client, classifier):
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="image"\r\n\r\n'
        + picture((5, 5)) + (
        b"\r\n--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"; "
        b"filename*=UTF-8''%C3%A9t%C3%A9%20%F0%9F%93%B7.png\r\n"
        b"Content-Type: image/png\r\n\r\n") + picture((6, 6)) + b"\r\n--xyz--\r\n")
    response = client.http.post(
        "/predict", headers={"Content-Type": 'multipart/form-data; boundary="xyz"'},
        body=body)

    assert response.status_code == 200
    first, second = response.json_body
    assert (first["filename"], labels(first)[0]) == (None, "5x5")
    assert (second["filename"], labels(second)[0]) == ("été 📷.png", "6x6")


def test_preamble_and_epilogue_are_ignored(client, classifier):
    body = (b"This is a preamble a client may send.\r\n--b0\r\n"
            b'Content-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
            + picture((7, 3)) + b"\r\n--b0--\r\nand an epilogue")
    response = client.http.post(
        "/predict", headers={"Content-Type": "multipart/form-data; boundary=b0"}, body=body)

    assert [labels(entry)[0] for entry in response.json_body] == ["7x3"]


@pytest.mark.parametrize("content_type, fmt", [
    ("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WEBP"),
    ("image/gif", "GIF"), ("image/bmp", "BMP")])
def test_a_single_raw_image_body(client, classifier, content_type, fmt):
    response = client.http.post("/predict", headers={"Content-Type": content_type},
                                body=picture((9, 4), GREEN, fmt))

    assert response.status_code == 200
    [entry] = response.json_body
    assert entry["source"] == "body"
    assert labels(entry)[0] == "9x4"


def test_top_k_defaults_to_five_and_is_adjustable(client, classifier):
    fields = [("image", ("a.png", picture(), "image/png"))]

    assert len(post_form(client, "/predict", fields).json_body[0]["predictions"]) == 5
    assert len(post_form(client, "/predict", fields, "?top_k=2").json_body[0][
        "predictions"]) == 2
    assert [top_k for _, top_k in classifier.calls] == [5, 2]


def test_detection_boxes_threshold_and_batching(client, detector, image_host):
    fields = [("image", ("red.png", picture((40, 20), RED), "image/png")),
              ("url", f"{image_host}/green.png")]

    default = post_form(client, "/object_detection", fields).json_body
    lowered = post_form(client, "/object_detection", fields, "?threshold=0.2").json_body

    assert default[0]["predictions"] == [
        {"label": "rgb(200,30,60)", "score": 0.9, "box": [0.0, 0.0, 40.0, 20.0]}]  # PNG: exact
    assert default[1]["predictions"][0]["box"] == [0.0, 0.0, 30.0, 10.0]
    assert [len(entry["predictions"]) for entry in lowered] == [2, 2]
    # Without ?threshold= the model applies its own default (manifest, else stage).
    assert [(len(images), threshold) for images, threshold in detector.calls] == [
        (2, None), (2, 0.2)]


def test_detection_boxes_are_in_the_upright_images_coordinates(client, detector):
    response = post_form(client, "/object_detection", [
        ("image", ("turned.jpg", picture((40, 20), RED, "JPEG", orientation=8),
                   "image/jpeg"))])

    [entry] = response.json_body
    assert (entry["width"], entry["height"]) == (20, 40)
    assert entry["predictions"][0]["box"] == [0.0, 0.0, 20.0, 40.0]


def test_cors_headers_follow_the_stage(client, classifier):
    response = post_form(client, "/predict", [("image", ("a.png", picture(), "image/png"))])
    rejected = client.http.post("/predict", headers={"Content-Type": "application/json"},
                                body=b"{}")

    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert rejected.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]


def test_sixteen_images_of_four_megabytes_in_one_request(client, classifier):
    fields = [("image", (f"n{i}.png", noise((295, 295), seed=i), "image/png"))
              for i in range(16)]
    encoder = MultipartEncoder(fields=fields)
    body = encoder.to_string()
    assert 4_000_000 < len(body) < 4_400_000

    response = client.http.post("/predict", headers={"Content-Type": encoder.content_type},
                                body=body)

    assert response.status_code == 200
    assert [labels(entry)[0] for entry in response.json_body] == ["295x295"] * 16
    assert [len(images) for images, _ in classifier.calls] == [16]


def test_the_lambda_entry_point_decodes_base64_bodies_like_the_local_server(
        client, classifier, stage_environment, monkeypatch):
    from app import app
    from tests.support.events import api_event

    encoder = MultipartEncoder(fields=[
        ("image", ("red.jpg", picture((40, 20), RED, "JPEG"), "image/jpeg")),
        ("image", ("bad.png", b"nope", "image/png")),
        ("image", ("blue.png", picture((8, 16), BLUE), "image/png"))])
    body = encoder.to_string()
    headers = {"Content-Type": encoder.content_type}
    local = client.http.post("/predict", headers=headers, body=body)

    for name, value in stage_environment.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    event = api_event(app, "POST", "/predict", headers=headers, body=body, base64_body=True)
    deployed = app(event, None)
    raw = app(api_event(app, "POST", "/predict", headers={"Content-Type": "image/png"},
                        body=picture((8, 16), BLUE), base64_body=True), None)

    assert event["isBase64Encoded"] is True and b"\r\n" not in event["body"].encode()
    assert deployed["statusCode"] == local.status_code == 200
    assert json.loads(deployed["body"]) == local.json_body
    assert labels(json.loads(raw["body"])[0]) == labels(local.json_body[2])


def test_url_parts_follow_redirects_to_the_image(client, classifier, image_host):
    response = post_form(client, "/predict", [
        ("url", f"{image_host}/redirect-to/green.png")])

    [entry] = response.json_body
    assert labels(entry)[0] == "30x10" and near(color(entry), GREEN)

"""The prediction routes over real HTTP, sent by curl as a user would, against
the local stack (`make run`) with the real default models."""

import json
import subprocess

import pytest

from tests.e2e.conftest import PROJECT_DIR
from tests.support.image_server import serving
from tests.support.pictures import picture


def curl(*args: str) -> tuple[int, dict, dict | list]:
    """Run curl; returns (status, lower-cased headers, JSON body)."""
    result = subprocess.run(
        ["curl", "-sS", "--max-time", "60", "-D", "-", *args],
        capture_output=True, check=True, timeout=90)
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    files = {
        "a.jpg": picture((64, 48), (200, 40, 40), "JPEG"),
        "b.png": picture((40, 40), (30, 160, 60)),
        "été.png": picture((20, 30), (20, 20, 200)),
        "notes.txt": b"not an image",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def image_url():
    with serving({"/c.png": ("image/png", picture((50, 30), (240, 240, 240)))}) as base:
        yield f"{base}/c.png"


def test_classify_several_images_and_a_url_with_curl(local_stack, images, image_url):
    status, headers, entries = curl(
        "-F", f"image=@{images / 'a.jpg'}", "-F", f"url={image_url}",
        "-F", f"image=@{images / 'b.png'}", "-F", f"image=@{images / 'notes.txt'}",
        "-F", f"image=@{images / 'été.png'}", f"{local_stack.base_url}/predict?top_k=3")

    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    assert [entry["source"] for entry in entries] == ["image", "url", "image", "image", "image"]
    assert entries[3]["error"]["code"] == "ImageRejected"
    assert entries[4]["filename"] == "été.png"
    for entry in (entries[0], entries[1], entries[2], entries[4]):
        scores = [prediction["score"] for prediction in entry["predictions"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert all(0.0 <= score <= 1.0 for score in scores)
        assert all(isinstance(p["label"], str) and p["label"] for p in entry["predictions"])


def test_the_same_image_by_file_and_by_url_gets_the_same_answer(local_stack, image_url,
                                                                 tmp_path):
    copy = tmp_path / "c.png"
    copy.write_bytes(picture((50, 30), (240, 240, 240)))
    for route in ("predict", "object_detection"):
        status, _, (by_file, by_url) = curl(
            "-F", f"image=@{copy}", "-F", f"url={image_url}",
            f"{local_stack.base_url}/{route}")
        assert status == 200
        assert by_file["predictions"] == by_url["predictions"]


def test_detection_boxes_lie_inside_each_image(local_stack, images, image_url):
    status, _, entries = curl(
        "-F", f"image=@{images / 'a.jpg'}", "-F", f"image=@{images / 'b.png'}",
        "-F", f"url={image_url}", f"{local_stack.base_url}/object_detection?threshold=0.05")

    assert status == 200
    assert [(entry["width"], entry["height"]) for entry in entries] == [
        (64, 48), (40, 40), (50, 30)]
    for entry in entries:
        for found in entry["predictions"]:
            x1, y1, x2, y2 = found["box"]
            assert 0 <= x1 <= x2 <= entry["width"] and 0 <= y1 <= y2 <= entry["height"]
            assert found["score"] >= 0.05


def test_a_raw_image_body_with_curl(local_stack, images):
    status, _, entries = curl(
        "--data-binary", f"@{images / 'b.png'}", "-H", "Content-Type: image/png",
        f"{local_stack.base_url}/predict")

    assert status == 200
    [entry] = entries
    assert entry["source"] == "body" and len(entry["predictions"]) == 5


def test_a_body_over_the_limit_is_413_pointing_to_uploads(local_stack, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * 4_500_000)

    status, _, error = curl("--data-binary", f"@{big}", "-H", "Content-Type: image/png",
                            f"{local_stack.base_url}/predict")

    assert status == 413
    assert error["code"] == "PayloadTooLarge" and "POST /blobs" in error["message"]


def test_malformed_and_unsupported_bodies_over_http(local_stack):
    cut, _, malformed = curl(
        "-H", "Content-Type: multipart/form-data; boundary=b0", "--data-binary",
        '--b0\r\nContent-Disposition: form-data; name="url"\r\n\r\nhttp://a',
        f"{local_stack.base_url}/object_detection")
    wrong, _, unsupported = curl("-H", "Content-Type: application/json", "--data", "{}",
                                 f"{local_stack.base_url}/predict")

    assert (cut, malformed["code"]) == (400, "InvalidInput")
    assert (wrong, unsupported["code"]) == (415, "UnsupportedMediaType")


def test_cors_preflight_names_the_stage_origin(local_stack):
    import requests

    response = requests.options(f"{local_stack.base_url}/predict", timeout=10, headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_real_photos_get_real_labels_with_curl(local_stack):
    photos = PROJECT_DIR / "models" / "photos"
    status, _, entries = curl("-F", f"image=@{photos / 'coffee.jpg'}",
                              "-F", f"image=@{photos / 'rocket.jpg'}",
                              f"{local_stack.base_url}/predict?top_k=1")

    assert status == 200
    assert [entry["filename"] for entry in entries] == ["coffee.jpg", "rocket.jpg"]
    assert [entry["predictions"][0]["label"] for entry in entries] == ["espresso", "missile"]

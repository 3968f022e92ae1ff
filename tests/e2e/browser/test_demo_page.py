"""The demo page and the docs, driven in headless Chromium against `make run`'s stack.

The image and upload flows compare what the page shows with what the API
answers for the same files, so they hold for whichever models the stage uses;
change ``demo_images`` to try other pictures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy
import requests
from playwright.sync_api import expect

from tests.e2e.browser.conftest import save_screenshot

PHOTOS = Path(__file__).resolve().parents[3] / "models" / "photos"
SAMPLE = [2, 3.5, 3.5, 4, 7, 7.25, 8, 8, 8, 10, 11, 12.5, 13, 21, 34]


def demo_images() -> list[tuple[str, bytes, str]]:
    """Real photos for the image flows: (file name, bytes, MIME type), plus a non-image."""
    pictures = [(name, (PHOTOS / name).read_bytes(), "image/jpeg")
                for name in ("chelsea.jpg", "dog.jpg", "coffee.jpg")]
    pictures.append(("notes.txt", b"not an image at all", "text/plain"))
    return pictures


def _api_routes(base_url: str) -> set[tuple[str, str]]:
    document = requests.get(f"{base_url}/openapi.json", timeout=10).json()
    return {(path, method.upper()) for path, operations in document["paths"].items()
            for method in operations}


def _require_route(base_url: str, path: str, method: str, branch: str) -> None:
    assert (path, method) in _api_routes(base_url), (
        f"{method} {path} is not in this app's route table yet ({branch} adds it)")


def _as_files(pictures):
    return [{"name": name, "mimeType": mime, "buffer": data} for name, data, mime in pictures]


def test_statistics_form_shows_the_summary_and_a_histogram(page, local_stack):
    expected = requests.post(f"{local_stack.base_url}/stats", json={"numbers": SAMPLE},
                             timeout=10).json()
    page.goto("")

    page.fill("#stats-numbers", "\n".join(f"{n}," for n in SAMPLE))
    page.click("#stats-submit")

    expect(page.locator("#stats-status")).to_have_attribute("data-status", "done")
    for field, value in [("nobs", expected["nobs"]), ("min", expected["minmax"][0]),
                         ("max", expected["minmax"][1]), ("mean", expected["mean"]),
                         ("variance", expected["variance"]),
                         ("skewness", expected["skewness"])]:
        shown = page.get_attribute(f'#stats-result tr[data-field="{field}"]', "data-value")
        assert float(shown) == value, field
    expect(page.locator("#histogram")).to_be_visible()
    bars = page.locator("#histogram rect")
    assert bars.count() == math.ceil(math.log2(len(SAMPLE)) + 1)
    counts = [int(bars.nth(i).get_attribute("data-count")) for i in range(bars.count())]
    assert counts == numpy.histogram(SAMPLE, bins=len(counts))[0].tolist()
    assert page.script_errors == []
    save_screenshot(page, "demo-statistics")


def test_statistics_form_names_what_is_not_a_number(page):
    page.goto("")

    page.fill("#stats-numbers", "1 2 abc 4")
    page.click("#stats-submit")

    expect(page.locator("#stats-status")).to_have_attribute("data-status", "error")
    expect(page.locator("#stats-status")).to_contain_text('"abc" is not a number')
    expect(page.locator("#histogram")).to_be_hidden()


def test_docs_page_shows_every_operation_of_the_document(page, local_stack):
    operations = _api_routes(local_stack.base_url)

    page.goto("docs")

    blocks = page.locator(".opblock")
    expect(blocks.first).to_be_visible(timeout=15_000)
    expect(blocks).to_have_count(len(operations))
    shown = {(block.locator(".opblock-summary-path").get_attribute("data-path"),
              block.locator(".opblock-summary-method").inner_text())
             for block in blocks.all()}
    assert shown == operations
    assert page.script_errors == []
    save_screenshot(page, "docs")


def test_dropped_images_show_labels_and_boxes_the_api_gives(page, local_stack):
    base = local_stack.base_url
    _require_route(base, "/predict", "POST", "the prediction branch")
    _require_route(base, "/object_detection", "POST", "the prediction branch")
    pictures = demo_images()
    multipart = [("image", (name, data, mime)) for name, data, mime in pictures]
    classified = requests.post(f"{base}/predict?top_k=3", files=multipart, timeout=60).json()
    detected = requests.post(f"{base}/object_detection", files=multipart, timeout=60).json()
    page.goto("")

    page.set_input_files("#image-input", _as_files(pictures))

    expect(page.locator("#images-status")).to_have_attribute("data-status", "done",
                                                             timeout=60_000)
    cards = page.locator('[data-testid="image-result"]')
    expect(cards).to_have_count(len(pictures))
    for index, (name, _, _) in enumerate(pictures):
        card = cards.nth(index)
        assert card.get_attribute("data-filename") == name
        if "error" in classified[index]:
            assert card.get_attribute("data-status") == "error"
            expect(card.locator(".error-text")).to_contain_text(
                classified[index]["error"]["message"])
            continue
        assert card.get_attribute("data-status") == "ok"
        labels = card.locator(".labels li .label").all_inner_texts()
        assert labels == [p["label"] for p in classified[index]["predictions"]]
        boxes = card.locator("canvas").get_attribute("data-boxes")
        assert requests.compat.json.loads(boxes) == [
            {"label": d["label"], "box": d["box"]} for d in detected[index]["predictions"]]
        assert card.locator("canvas").evaluate("c => c.width > 0 && c.height > 0")
    assert cards.nth(len(pictures) - 1).get_attribute("data-status") == "error"
    assert page.script_errors == []
    save_screenshot(page, "demo-images")


def test_upload_shows_progress_then_the_labels(page, local_stack):
    base = local_stack.base_url
    _require_route(base, "/blobs", "POST", "the uploads branch")
    name, data, mime = demo_images()[0]
    page.goto("")

    page.set_input_files("#upload-input", _as_files([(name, data, mime)]))

    status = page.locator("#upload-status")
    expect(status).to_have_attribute("data-status", "done", timeout=60_000)
    assert float(page.locator("#upload-progress").get_attribute("value")) == 100
    blob = requests.get(f"{base}/blobs/{status.get_attribute('data-blob-id')}",
                        timeout=10).json()
    assert blob["status"] == "done"
    shown = page.locator("#upload-labels li .label").all_inner_texts()
    assert shown == [label["label"] for label in blob["labels"]]
    assert shown, "the classifier gave no label"
    assert page.script_errors == []
    save_screenshot(page, "demo-upload")

"""Test doubles with the models' signatures that describe the images they get.

Their labels say what arrived (size, mean colour), so a test can check that
each answer belongs to the right input and that a request made one call.
"""

from __future__ import annotations

import functools


def describe(image) -> tuple[str, str]:
    from PIL import ImageStat

    red, green, blue = (round(v) for v in ImageStat.Stat(image).mean)
    return f"{image.width}x{image.height}", f"rgb({red},{green},{blue})"


class FakeClassifier:
    decode_to: tuple[int, int] | None = None

    def decode_size(self) -> tuple[int, int] | None:
        return self.decode_to

    def __init__(self) -> None:
        self.calls: list[tuple[list, int]] = []

    def classify(self, images: list, top_k: int) -> list[list[dict]]:
        self.calls.append((list(images), top_k))
        answers = []
        for image in images:
            size, color = describe(image)
            ranked = [{"label": size, "score": 0.5}, {"label": color, "score": 0.3},
                      {"label": image.mode, "score": 0.1}]
            ranked += [{"label": f"other-{n}", "score": 0.01 / (n + 1)} for n in range(20)]
            answers.append(ranked[:top_k])
        return answers


class FakeDetector:
    default_threshold = 0.4
    decode_to: tuple[int, int] | None = None

    def decode_size(self) -> tuple[int, int] | None:
        return self.decode_to

    def __init__(self) -> None:
        self.calls: list[tuple[list, float | None]] = []

    def detect(self, images: list, threshold: float | None) -> list[list[dict]]:
        self.calls.append((list(images), threshold))
        if threshold is None:
            threshold = self.default_threshold
        answers = []
        for image in images:
            size, color = describe(image)
            found = [{"label": color, "score": 0.9, "box": [0, 0, image.width, image.height]},
                     {"label": size, "score": 0.3,
                      "box": [1, 2, image.width // 2, image.height // 2]}]
            answers.append([item for item in found if item["score"] >= threshold])
        return answers


def serve(monkeypatch, model: object) -> object:
    """Make the app use ``model``: wiring's get_classifier or get_detector,
    whichever the model's kind is, answers it until the test ends."""
    from chalicelib import wiring

    getter = "get_detector" if hasattr(model, "detect") else "get_classifier"
    # A cached accessor, as wiring's own are (``wiring.reset()`` clears it).
    monkeypatch.setattr(wiring, getter, functools.cache(lambda: model), raising=False)
    return model

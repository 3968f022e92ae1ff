"""Synthetic scenes for the default detector: circles, squares and triangles.

Each scene is a small RGB image with zero to three solid shapes on a noisy
background, and the exact box and class of every shape.  A seed fixes the
whole sequence, so training and held-out sets never share a scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle")
SCENE_SIZE = 64
MIN_SIDE, MAX_SIDE = 12, 26


@dataclass(frozen=True)
class Scene:
    image: Image.Image
    boxes: np.ndarray  # [K, 4] x1, y1, x2, y2 in pixels
    labels: np.ndarray  # [K] indices into CLASSES


def make_scenes(count: int, seed: int, size: int = SCENE_SIZE) -> list[Scene]:
    """``count`` scenes drawn from the generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    return [_make_scene(rng, size) for _ in range(count)]


def _make_scene(rng: np.random.Generator, size: int) -> Scene:
    background = rng.integers(0, 256, size=3)
    pixels = np.broadcast_to(background, (size, size, 3)).astype(np.float64)
    # A gentle gradient and pixel noise, so "not background" is not one colour test.
    ramp = np.linspace(-1, 1, size)
    pixels += rng.uniform(-25, 25) * ramp[None, :, None] + rng.uniform(-25, 25) * ramp[:, None,
                                                                                       None]
    pixels += rng.normal(0, 8, size=pixels.shape)
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    boxes: list[list[int]] = []
    labels: list[int] = []
    for _ in range(int(rng.integers(0, 4))):
        for _attempt in range(20):
            side = int(rng.integers(MIN_SIDE, MAX_SIDE + 1))
            x, y = (int(value) for value in rng.integers(0, size - side + 1, size=2))
            box = [x, y, x + side, y + side]
            if all(_apart(box, other) for other in boxes):
                break
        else:
            continue
        colour = _contrasting(rng, background)
        label = int(rng.integers(0, len(CLASSES)))
        _draw(draw, CLASSES[label], box, colour)
        boxes.append(box)
        labels.append(label)
    return Scene(image, np.array(boxes, dtype=np.float64).reshape(-1, 4),
                 np.array(labels, dtype=np.int64))


def _apart(box: list[int], other: list[int], gap: int = 2) -> bool:
    return (box[2] + gap <= other[0] or other[2] + gap <= box[0]
            or box[3] + gap <= other[1] or other[3] + gap <= box[1])


def _contrasting(rng: np.random.Generator, background: np.ndarray) -> tuple[int, ...]:
    while True:
        colour = rng.integers(0, 256, size=3)
        if np.linalg.norm(colour - background) > 120:
            return tuple(int(value) for value in colour)


def _draw(draw: ImageDraw.ImageDraw, shape: str, box: list[int],
          colour: tuple[int, ...]) -> None:
    x1, y1, x2, y2 = box[0], box[1], box[2] - 1, box[3] - 1  # PIL's ends are inclusive
    if shape == "circle":
        draw.ellipse((x1, y1, x2, y2), fill=colour)
    elif shape == "square":
        draw.rectangle((x1, y1, x2, y2), fill=colour)
    else:
        draw.polygon([((x1 + x2) / 2, y1), (x2, y2), (x1, y2)], fill=colour)

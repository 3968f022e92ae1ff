"""scikit-learn's handwritten digits as RGB images, split into training and held-out sets.

The 8x8 images ship inside scikit-learn (no download).  Pixel values 0..16
become 0..255 grey levels: light strokes on a dark background.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SPLIT_SEED = 0
HELD_OUT_FRACTION = 0.25
LABELS = tuple(str(digit) for digit in range(10))


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, held-out images, held-out labels) as uint8 [N, 8, 8]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    grey = np.rint(digits.images * (255 / 16)).astype(np.uint8)
    train, held_out, train_labels, held_out_labels = train_test_split(
        grey, digits.target, test_size=HELD_OUT_FRACTION, random_state=SPLIT_SEED,
        stratify=digits.target)
    return train, train_labels, held_out, held_out_labels


def to_image(grey: np.ndarray, scale: int = 1) -> Image.Image:
    """An RGB PIL image of one digit, enlarged ``scale`` times by pixel repetition."""
    image = Image.fromarray(grey, "L").convert("RGB")
    if scale > 1:
        image = image.resize((8 * scale, 8 * scale), Image.Resampling.NEAREST)
    return image

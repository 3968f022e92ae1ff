"""Reading model outputs by the convention the manifest names, after checking that the
graph's outputs fit it.

A convention is never inferred from a shape: the manifest names it, the
outputs are checked against it when the model loads (and again on every
run, for dimensions the graph leaves symbolic), and a mismatch is refused
with the shapes in the message.  numpy is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from chalicelib.prediction.manifest import OUTPUTS, ModelConfigError
from chalicelib.prediction.sessions import FLOAT_OUTPUT_TYPES, TensorInfo

Shape = Sequence[int | str | None]

# What each convention's outputs look like per batch: "C" is the class
# count, "4+C" four box values then the classes, "*" any length.
_EXPECTED = {
    "logits": (("batch", "C"),),
    "probabilities": (("batch", "C"),),
    "yolov8": (("batch", "4+C", "*"),),
    "yolov8_transposed": (("batch", "*", "4+C"),),
    "end_to_end": (("batch", "*", 6),),
    "boxes_scores_labels": (("batch", "*", 4), ("batch", "*"), ("batch", "*")),
}
_MEANING = {
    "logits": "[batch, classes] raw scores",
    "probabilities": "[batch, classes] probabilities",
    "yolov8": "[batch, 4 + classes, anchors] (cx, cy, w, h, class scores; Ultralytics)",
    "yolov8_transposed": "[batch, anchors, 4 + classes]",
    "end_to_end": "[batch, detections, 6] (x1, y1, x2, y2, score, class; NMS inside)",
    "boxes_scores_labels": "[batch, K, 4] boxes, [batch, K] scores, [batch, K] labels",
}


def choose_outputs(outputs: Sequence[TensorInfo], convention: str, named: Sequence[str] | None,
                   classes: int, source: str) -> list[str]:
    """The output names to run for ``convention``; raises ModelConfigError if they do not fit."""
    by_name = {item.name: item for item in outputs}
    wanted = len(_EXPECTED[convention])
    for name in named or ():
        if name not in by_name:
            raise ModelConfigError(f"{source}: the model has no output {name!r}; "
                                   f"its outputs are {list(by_name)}")
    if named:
        chosen = [by_name[name] for name in named]
    elif len(outputs) == wanted or (wanted == 1 and convention in OUTPUTS["classification"]):
        chosen = list(outputs[:wanted])
    else:
        raise ModelConfigError(
            f"{source}: the {convention!r} convention reads {wanted} output(s) but the model "
            f"has {describe(outputs)}; name them in \"outputs\"")
    for index, item in enumerate(chosen):
        if item.type not in FLOAT_OUTPUT_TYPES and not (
                convention == "boxes_scores_labels" and index == 2):
            raise ModelConfigError(f"{source}: output {item.name!r} is {item.type}; scores "
                                   "and boxes must be floating point")
    check_shapes([item.shape for item in chosen], convention, classes, source,
                 names=[item.name for item in chosen])
    return [item.name for item in chosen]


def check_shapes(shapes: Sequence[Shape], convention: str, classes: int, source: str,
                 names: Sequence[str] | None = None) -> None:
    """Raise ModelConfigError unless ``shapes`` fit ``convention`` (symbolic dims fit anything)."""
    if all(_fits(shape, pattern, classes)
           for shape, pattern in zip(shapes, _EXPECTED[convention], strict=True)):
        return
    names = names or [f"output {index}" for index in range(len(shapes))]
    found = ", ".join(f"{name} {list(shape)}" for name, shape in zip(names, shapes,
                                                                      strict=True))
    message = (f"{source}: the model's output {found} does not fit the {convention!r} "
               f"convention, {_MEANING[convention]}, with {classes} classes")
    others = [other for other, patterns in _EXPECTED.items()
              if other != convention and len(patterns) == len(shapes)
              and other not in OUTPUTS["classification"]
              and all(_fits(shape, pattern, classes)
                      for shape, pattern in zip(shapes, patterns, strict=True))]
    if others:
        message += f"; it would fit {others}: say which in \"output\" if that is the one"
    raise ModelConfigError(message)


def class_scores(raw: Any, convention: str, classes: int, source: str) -> Any:
    """Per image, a probability for every class, from a classifier's output ``raw``."""
    import numpy as np

    scores = np.asarray(raw, dtype=np.float64)
    check_shapes([scores.shape], convention, classes, source)
    scores = scores.reshape(len(scores), -1)
    if convention == "logits":
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores = shifted / shifted.sum(axis=1, keepdims=True)
    return scores


def detections(raws: Sequence[Any], convention: str, classes: int, source: str
               ) -> list[tuple[Any, Any, Any, bool]]:
    """Per image, (boxes x1 y1 x2 y2, scores, class indices, suppressed) in input units.

    ``suppressed`` is True when the model did its own NMS.  Padding rows
    (label -1, or an all-zero end-to-end row) are dropped.  Raises
    ModelConfigError for class indices outside the labels.
    """
    import numpy as np

    arrays = [np.asarray(raw) for raw in raws]
    check_shapes([array.shape for array in arrays], convention, classes, source)
    found = []
    for parts in zip(*arrays, strict=True):
        if convention in ("yolov8", "yolov8_transposed"):
            rows = parts[0].astype(np.float64)
            rows = rows.T if convention == "yolov8" else rows
            centre_x, centre_y, width, height = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
            boxes = np.stack([centre_x - width / 2, centre_y - height / 2,
                              centre_x + width / 2, centre_y + height / 2], axis=1)
            labels = rows[:, 4:].argmax(axis=1)
            scores = rows[np.arange(len(rows)), 4 + labels]
            found.append((boxes, scores, labels, False))
            continue
        if convention == "end_to_end":
            rows = parts[0].astype(np.float64)
            rows = rows[rows.any(axis=1)]
            boxes, scores, labels = rows[:, :4], rows[:, 4], rows[:, 5]
        else:
            boxes = parts[0].astype(np.float64).reshape(-1, 4)
            scores = parts[1].astype(np.float64).reshape(-1)
            labels = parts[2].astype(np.float64).reshape(-1)
        labels = _class_indices(labels, classes, source)
        present = labels >= 0
        found.append((boxes[present], scores[present], labels[present],
                      convention == "end_to_end"))
    return found


def _class_indices(values: Any, classes: int, source: str) -> Any:
    import numpy as np

    labels = np.rint(values).astype(np.int64)
    if (np.abs(values - labels) > 1e-3).any():
        raise ModelConfigError(f"{source}: the model returned class {values.tolist()[:5]}, "
                               "not whole numbers: the outputs are not in the declared order")
    if (labels >= classes).any():
        raise ModelConfigError(f"{source}: the model returned class index "
                               f"{int(labels.max())} but there are {classes} labels")
    return labels


def describe(outputs: Sequence[TensorInfo]) -> str:
    """``name [shape] type`` of each output, for messages and the checker."""
    return ", ".join(f"{item.name} {list(item.shape)} {item.type}" for item in outputs)


def _fits(shape: Shape, pattern: Sequence[Any], classes: int) -> bool:
    if len(shape) != len(pattern):
        # A classifier may keep trailing unit dimensions ([N, C, 1, 1]).
        if pattern == ("batch", "C") and len(shape) > 2:
            tail = list(shape[1:])
            return all(_is_static(dim) for dim in tail) and math.prod(
                int(dim) for dim in tail) == classes
        return False
    for dim, want in zip(shape, pattern, strict=True):
        if not _is_static(dim) or want in ("batch", "*"):
            continue
        if int(dim) != {"C": classes, "4+C": 4 + classes}.get(want, want):
            return False
    return True


def _is_static(dim: Any) -> bool:
    return isinstance(dim, int) and not isinstance(dim, bool) and dim > 0

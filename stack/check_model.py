"""`make check-model`: load a model manifest exactly as the app does, before deploying it.

    python -m stack check-model MANIFEST [IMAGE ...]

MANIFEST is a path or an s3://bucket/key URI (fetched through AWS_ENDPOINT_URL
when set: the local emulator's credentials are used for a loopback endpoint).
Prints the resolved settings (input, type, layout, size, channel order,
normalisation, output convention, labels and where they came from) and each
image's predictions as JSON; exits 1 with the reason on any problem.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

TOP_K = 5


def check_model(manifest: str, images: list[str]) -> dict[str, Any]:
    """The resolved settings and each image's predictions.

    Raises ModelConfigError, ModelUnavailable and ImageRejected (each naming
    the problem) and OSError for an unreadable image file.
    """
    from chalicelib import wiring
    from chalicelib.prediction.images import decode_image
    from chalicelib.prediction.models import ImageClassifier, load_model

    settings = wiring.get_settings()
    model = load_model(manifest, wiring.get_s3_client,
                       fallback_threshold=settings.detection_threshold)
    decoded = [decode_image(Path(path).read_bytes(), settings.max_image_pixels)
               for path in images]
    if not decoded:
        answers: list[list[dict]] = []
    elif isinstance(model, ImageClassifier):
        answers = model.classify(decoded, top_k=TOP_K)
    else:
        answers = model.detect(decoded)
    return {"model": model.describe(),
            "predictions": [{"image": path, "predictions": found}
                            for path, found in zip(images, answers, strict=True)]}


def _readable_json(value: Any) -> str:
    """Indented JSON with flat lists (shapes, boxes) and small flat objects on one line."""
    text = json.dumps(value, indent=2)
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda match: "[" + ", ".join(
        part.strip() for part in match.group(1).split(",\n")) + "]", text)
    return re.sub(r"\{\s+((?:[^{}\n]*\n){0,2}[^{}\n]*?)\s+\}", lambda match: "{" + ", ".join(
        part.strip() for part in match.group(1).split(",\n")) + "}", text)


def main(argv: list[str]) -> int:
    from chalicelib.errors import ConfigurationError, DomainError
    from stack.emulator import LOCAL_CREDENTIALS, LOCAL_REGION

    parser = argparse.ArgumentParser(prog="python -m stack check-model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", nargs="?", help="the manifest's path or s3:// URI")
    parser.add_argument("images", nargs="*", help="image files to predict on")
    args = parser.parse_args(argv)
    if not args.manifest:
        print("check-model: name the manifest: make check-model MANIFEST=path/to/model.json "
              "IMAGES=\"a.jpg b.jpg\"", file=sys.stderr)
        return 2
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if endpoint.startswith(("http://127.0.0.1", "http://localhost")):
        for name, value in {**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": LOCAL_REGION}.items():
            os.environ.setdefault(name, value)
    try:
        print(_readable_json(check_model(args.manifest, args.images)))
        return 0
    except (ConfigurationError, OSError) as error:
        print(f"check-model: {error}", file=sys.stderr)
    except DomainError as error:
        print(f"check-model: {error.message}", file=sys.stderr)
    return 1

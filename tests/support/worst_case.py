"""The costliest /predict request within the limits, and a fresh process to measure it.

Sixteen images at the pixel limit (MAX_IMAGE_PIXELS, 4000x4000) in the modes
that take the most memory once decoded, relative to their file: 1-bit and
palette PNGs, 16-bit greyscale and RGBA PNGs, CMYK JPEGs.  Flat areas with a
few shapes compress to a small request (well under MAX_REQUEST_BYTES).
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SIDE = 4000
MODES = (("PNG", "1"), ("PNG", "P"), ("PNG", "I;16"), ("PNG", "RGBA"), ("JPEG", "CMYK"))

# Runs in a fresh interpreter: the model is loaded and warmed on as many small
# images first; then Linux's peak resident size is reset, so that the request's own
# growth is measured (from the resident memory before it to its peak).
_PROBE = """
import base64, json, sys
sys.path.insert(0, {root!r})
from app import app
from tests.support.events import api_event

def status_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

def answer(body, content_type):
    event = api_event(app, "POST", "/predict", headers={{"Content-Type": content_type}},
                      body=body, base64_body=True)
    response = app(event, None)
    return response["statusCode"], json.loads(response["body"])

warm = json.loads(sys.stdin.readline())
request = json.loads(sys.stdin.readline())
status, _ = answer(base64.b64decode(warm["body"]), warm["content_type"])
assert status == 200, status
startup_peak = status_mb("VmHWM")
with open("/proc/self/clear_refs", "w") as clear_refs:
    clear_refs.write("5")  # Linux: the peak (VmHWM) starts again from VmRSS
before = status_mb("VmRSS")
status, entries = answer(base64.b64decode(request["body"]), request["content_type"])
from chalicelib.wiring import get_settings
print(json.dumps({{"status": status, "entries": entries, "baseline_mb": before,
                  "peak_mb": max(status_mb("VmHWM"), startup_peak),
                  "request_peak_mb": status_mb("VmHWM"),
                  "request_mb": len(base64.b64decode(request["body"])) / 2 ** 20,
                  "budget_mb": get_settings().image_memory_budget_bytes / 2 ** 20}}))
"""


@functools.cache
def worst_case_images(count: int = 16, side: int = SIDE) -> list[tuple[str, bytes, str]]:
    """``count`` (filename, bytes, content type) images of ``side`` x ``side`` pixels."""
    from PIL import Image, ImageDraw

    encoded = {}
    for fmt, mode in MODES:
        image = Image.new("RGB", (side, side), (40, 90, 160))
        draw = ImageDraw.Draw(image)
        draw.ellipse((side // 4, side // 4, 3 * side // 4, 3 * side // 4), fill=(230, 200, 20))
        draw.rectangle((0, 0, side // 5, side), fill=(250, 250, 250))
        image = image.convert(mode, dither=Image.Dither.NONE)
        out = io.BytesIO()
        image.save(out, fmt, **({"quality": 30} if fmt == "JPEG" else {}))
        encoded[(fmt, mode)] = out.getvalue()
    images = []
    for index in range(count):
        fmt, mode = MODES[index % len(MODES)]
        name = f"{index}-{mode.replace(';', '')}.{fmt.lower()}"
        images.append((name, encoded[(fmt, mode)], f"image/{fmt.lower()}"))
    return images


def form(images: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart body with one ``image`` part per image, and its Content-Type."""
    from requests_toolbelt import MultipartEncoder

    encoder = MultipartEncoder(fields=[("image", image) for image in images])
    return encoder.to_string(), encoder.content_type


def measure(environment: dict[str, str] | None = None) -> dict[str, Any]:
    """Serve the worst-case request in a fresh process: its answer and memory (MB)."""
    import base64
    import os

    from tests.support.pictures import picture
    from tests.support.stage import dev_stage_settings

    lines = []
    # The warm-up sends as many images as the request, so the model's own working
    # memory for a batch of that size (onnxruntime's arena) is there before the baseline.
    warm = [(f"warm-{index}.png", picture((64, 64)), "image/png")
            for index in range(len(worst_case_images()))]
    for body, content_type in (form(warm), form(worst_case_images())):
        lines.append(json.dumps({"body": base64.b64encode(body).decode("ascii"),
                                 "content_type": content_type}))
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR")
            if name in os.environ}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(root=str(ROOT))], input="\n".join(lines) + "\n",
        capture_output=True, text=True, cwd=str(ROOT), check=False, timeout=600,
        env={**keep, **dev_stage_settings(), "AWS_DEFAULT_REGION": "us-east-1",
             **(environment or {})})
    if result.returncode != 0:
        raise RuntimeError(f"the worst-case request failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])

"""`make bench`: every figure side by side with its peer, as a table and JSON.

Each figure is a ratio of medians measured in one run, A and B alternating,
on the same inputs, with both sides' answers checked against each other.
`--quick` runs few iterations (the test suite uses it so the suite cannot rot).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.harness import ROOT, Side, alternate, per_call

RESULTS = Path(__file__).resolve().parent / "results.json"
OURS = Side("ours", ROOT)
BARE = Side("bare_chalice", ROOT / "bench" / "peers" / "bare_chalice")
FASTAPI = Side("fastapi_mangum", ROOT / "bench" / "peers" / "fastapi_mangum",
               handler="handler")
# Everything prod turns on: JSON log lines with EMF metrics and X-Ray tracing
# of a sampled invocation (the daemon address is Lambda's; nothing listens).
OURS_AS_IN_PROD = Side("ours_as_in_prod", ROOT, environment={
    "LOG_FORMAT": "json", "TRACING": "true", "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                        "Sampled=1"})


@dataclass
class Row:
    name: str
    value: float
    unit: str
    goal: str
    met: bool | None

    @classmethod
    def ratio(cls, name: str, value: float, goal: str) -> Row:
        return cls(name, round(value, 4), "ratio", goal, _meets(value, goal))


def _meets(value: float, goal: str) -> bool | None:
    if goal == "report":
        return None
    operator, bound = goal.split(" ", 1)
    limit = float(bound)
    return value <= limit if operator == "<=" else value >= limit


def _event(path: str, method: str = "GET", body: bytes = b"",
           headers: dict[str, str] | None = None) -> dict[str, Any]:
    from app import app
    from tests.support.events import api_event

    return api_event(app, method, path, headers=headers, body=body)


def _same_json(left: dict[str, Any], right: dict[str, Any], what: str) -> None:
    a, b = json.loads(left["body"]), json.loads(right["body"])
    if a != b and not _close(a, b):
        raise AssertionError(f"{what}: the two sides disagree: {a} != {b}")


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return a == b


def cold_ratio(name: str, ours: Side, peer: Side, path: str, goal: str,
               rounds: int) -> Row:
    event = _event(path)
    seen: dict[str, dict[str, Any]] = {}

    def run(side: Side) -> Callable[[], float]:
        def measure() -> float:
            outcome = side.cold(event)
            if outcome["status"] != 200:
                raise AssertionError(f"{side.name} answered {outcome['status']} on {path}")
            seen[side.name] = {"body": outcome["body"]}
            return outcome["seconds"]
        return measure

    # One unmeasured start each first: it writes bytecode caches and warms the
    # file cache for whichever side would otherwise pay for it alone.
    run(ours)()
    run(peer)()
    ours_time, peer_time = alternate(run(ours), run(peer), rounds)
    _same_json(seen[ours.name], seen[peer.name], name)
    return Row.ratio(name, ours_time / peer_time, goal)


def warm_ratio(name: str, path: str, goal: str, repeat: int) -> Row:
    event = _event(path)
    ours, peer = OURS.load(), FASTAPI.load()
    _same_json(ours(dict(event), None), peer(dict(event), None), name)
    ours_time, peer_time = alternate(lambda: per_call(lambda: ours(dict(event), None), repeat),
                                     lambda: per_call(lambda: peer(dict(event), None), repeat),
                                     rounds=3)
    return Row.ratio(name, ours_time / peer_time, goal)


def stats_1m_vs_floor(repeat: int) -> Row:
    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(1)
    body = json.dumps({"numbers": rng.integers(0, 100_000, 1_000_000).tolist()}).encode()
    event = _event("/stats", "POST", body, {"Content-Type": "application/json"})
    ours = OURS.load()

    def floor() -> dict[str, Any]:
        numbers = np.asarray(json.loads(body)["numbers"], dtype=np.float64)
        return stats.describe(numbers)._asdict()

    answer, expected = json.loads(ours(dict(event), None)["body"]), floor()
    if answer["nobs"] != expected["nobs"] or not math.isclose(
            answer["mean"], float(expected["mean"]), rel_tol=1e-12):
        raise AssertionError("stats_1m: the app and the floor disagree")
    ours_time, floor_time = alternate(lambda: per_call(lambda: ours(dict(event), None), repeat),
                                      lambda: per_call(floor, repeat), rounds=3)
    return Row.ratio("stats_1m_vs_floor", ours_time / floor_time, "<= 1.5")


def _sixteen_images() -> tuple[list[bytes], bytes, str]:
    """16 noisy 295x295 PNGs (~4.2 MB as one form): realistic, incompressible."""
    from requests_toolbelt import MultipartEncoder

    from tests.support.pictures import noise

    images = [noise((295, 295), seed=index) for index in range(16)]
    encoder = MultipartEncoder(fields=[("image", (f"{index}.png", data, "image/png"))
                                       for index, data in enumerate(images)])
    return images, encoder.to_string(), encoder.content_type


def multipart_rows(repeat: int) -> list[Row]:
    from requests_toolbelt.multipart.decoder import MultipartDecoder

    from chalicelib.prediction.multipart import parse_form

    images, body, content_type = _sixteen_images()

    def ours() -> list[bytes]:
        return [part.content for part in parse_form(body, content_type, max_parts=16)]

    def toolbelt() -> list[bytes]:
        return [part.content for part in MultipartDecoder(body, content_type).parts]

    def memcpy() -> bytes:
        return bytearray(body)

    if not ours() == toolbelt() == images:
        raise AssertionError("multipart: the parsers disagree about the parts")
    ours_time, toolbelt_time = alternate(lambda: per_call(ours, repeat),
                                         lambda: per_call(toolbelt, repeat), rounds=3)
    ours_again, copy_time = alternate(lambda: per_call(ours, repeat),
                                      lambda: per_call(memcpy, repeat), rounds=3)
    # Throughput ratios (higher is better): time of the other ÷ time of ours.
    return [Row.ratio("multipart_vs_toolbelt", toolbelt_time / ours_time, ">= 1.0"),
            Row.ratio("multipart_vs_memcpy", copy_time / ours_again, "report")]


PHOTOS = ROOT / "models" / "photos"


def _photo_form(photos: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    from requests_toolbelt import MultipartEncoder

    encoder = MultipartEncoder(fields=[("image", (name, data, "image/jpeg"))
                                       for name, data in photos])
    return encoder.to_string(), encoder.content_type


def _real_photos(count: int) -> list[tuple[str, bytes]]:
    """``count`` of the real photos `make models` extracts, cycling through them."""
    paths = sorted(PHOTOS.glob("*.jpg"))
    return [(paths[index % len(paths)].name, paths[index % len(paths)].read_bytes())
            for index in range(count)]


def predict16_vs_model_floor(repeat: int) -> Row:
    """/predict with 16 real photos through the entry point ÷ the model alone on them."""
    import numpy as np

    from app import app
    from chalicelib import wiring
    from chalicelib.prediction.images import decode_image
    from chalicelib.prediction.preprocessing import to_tensor
    from tests.support.events import api_event

    photos = _real_photos(16)
    body, content_type = _photo_form(photos)
    ours = OURS.load()
    event = api_event(app, "POST", "/predict?top_k=5", headers={"Content-Type": content_type},
                      body=body, base64_body=True)
    classifier = wiring.get_classifier()
    # The floor: the same 16 images already decoded, resized and normalised,
    # one batch through the very session /predict uses.
    batch = np.stack([to_tensor(decode_image(data, 16_000_000), classifier.input_format)[0]
                      for _, data in photos])

    def floor() -> Any:
        return classifier.session.run(None, {classifier.input_name: batch})

    answer = json.loads(ours(dict(event), None)["body"])
    if len(answer) != 16 or not all(entry.get("predictions") for entry in answer):
        raise AssertionError("predict16: /predict did not classify the 16 photos")
    ours_time, floor_time = alternate(lambda: per_call(lambda: ours(dict(event), None), repeat),
                                      lambda: per_call(floor, repeat), rounds=3)
    return Row.ratio("predict16_vs_model_floor", ours_time / floor_time, "<= 1.25")


def _phone_photos(limit_bytes: int) -> list[tuple[str, bytes]]:
    """Real photos enlarged to 3000x2000 JPEGs (a phone's size), as many as fit in one form."""

    from PIL import Image

    chosen: list[tuple[str, bytes]] = []
    for name in ("coffee.jpg", "chelsea.jpg", "dog.jpg", "rocket.jpg", "china.jpg",
                 "flower.jpg", "eagle.jpg", "grace_hopper.jpg"):
        with Image.open(PHOTOS / name) as photo:
            buffer = io.BytesIO()
            photo.convert("RGB").resize((3000, 2000), Image.Resampling.BICUBIC).save(
                buffer, "JPEG", quality=90)
        if len(_photo_form([*chosen, (name, buffer.getvalue())])[0]) > limit_bytes:
            break
        chosen.append((name, buffer.getvalue()))
    return chosen


def predict_vs_seed_loop(repeat: int) -> Row:
    """The seed's per-image loop on phone-size JPEGs ÷ /predict on the same form."""
    import base64

    from PIL import Image
    from requests_toolbelt.multipart.decoder import MultipartDecoder

    from app import app
    from chalicelib import wiring
    from chalicelib.settings import load_settings
    from tests.support.events import api_event

    photos = _phone_photos(load_settings().max_request_bytes)
    body, content_type = _photo_form(photos)
    ours = OURS.load()
    event = api_event(app, "POST", "/predict?top_k=5", headers={"Content-Type": content_type},
                      body=body, base64_body=True)
    classifier = wiring.get_classifier()

    def seed_loop() -> list[list[dict[str, Any]]]:
        # The seed's handler: base64-decode API Gateway's body, split it with
        # MultipartDecoder, decode each image at full size and run the model on it alone.
        results = []
        raw = base64.b64decode(event["body"])
        for part in MultipartDecoder(raw, content_type).parts:
            image = Image.open(io.BytesIO(part.content)).convert("RGB")
            results.append(classifier.classify([image], top_k=5)[0])
        return results

    answer = json.loads(ours(dict(event), None)["body"])
    if ([entry["predictions"][0]["label"] for entry in answer]
            != [result[0]["label"] for result in seed_loop()]):
        raise AssertionError("predict_vs_seed_loop: /predict and the seed loop disagree on top-1")
    ours_time, loop_time = alternate(lambda: per_call(lambda: ours(dict(event), None), repeat),
                                     lambda: per_call(seed_loop, repeat), rounds=3)
    return Row.ratio("predict_vs_seed_loop", loop_time / ours_time, ">= 1.5")


DETECT_PHOTOS = ("dog.jpg", "giraffe.jpg", "kite.jpg", "horses.jpg")


def detect4_vs_model_floor(repeat: int) -> Row:
    """/object_detection with 4 real photos through the entry point ÷ the model alone.

    The floor is the same onnxruntime session running the same 4 images,
    already resized and normalised; the difference is decoding, resizing,
    normalising, box decoding, NMS and JSON.
    """
    import numpy as np
    from requests_toolbelt import MultipartEncoder

    from app import app
    from chalicelib import wiring
    from chalicelib.prediction.images import decode_image
    from chalicelib.prediction.preprocessing import to_tensor
    from tests.support.events import api_event

    photos = [(ROOT / "models" / "photos" / name).read_bytes() for name in DETECT_PHOTOS]
    encoder = MultipartEncoder(fields=[("image", (name, data, "image/jpeg"))
                                       for name, data in zip(DETECT_PHOTOS, photos,
                                                             strict=True)])
    event = api_event(app, "POST", "/object_detection",
                      headers={"Content-Type": encoder.content_type},
                      body=encoder.to_string(), base64_body=True)
    ours = OURS.load()
    detector = wiring.get_detector()
    manifest = detector.manifest
    # The floor: the same images already decoded, resized and normalised as
    # the app does, one batch through the very session /object_detection uses.
    batch = np.stack([to_tensor(decode_image(data, 16_000_000), detector.input_format)[0]
                      for data in photos])
    names = detector.output_names

    def floor() -> Any:
        return detector.session.run(names, {detector.input_name: batch})

    answer = json.loads(ours(dict(event), None)["body"])
    found = [{item["label"] for item in entry.get("predictions", [])} for entry in answer]
    if len(found) != 4 or "giraffe" not in found[1] or "dog" not in found[0]:
        raise AssertionError(f"detect4: {manifest.description!r} is not the COCO detector "
                             f"this row measures (it found {found}); run `make models`")
    ours_time, floor_time = alternate(lambda: per_call(lambda: ours(dict(event), None), repeat),
                                      lambda: per_call(floor, repeat), rounds=3)
    return Row.ratio("detect4_vs_model_floor", ours_time / floor_time, "<= 1.25")


def predict16_peak_rss(lambda_memory_mb: int) -> Row:
    from app import app
    from tests.support.events import api_event

    _, body, content_type = _sixteen_images()
    event = api_event(app, "POST", "/predict", headers={"Content-Type": content_type},
                      body=body, base64_body=True)
    outcome = OURS.cold(event)
    if outcome["status"] != 200 or len(json.loads(outcome["body"])) != 16:
        raise AssertionError("predict16: /predict did not answer 16 entries")
    peak = outcome["maxrss_kb"] / 1024
    return Row("predict16_peak_rss_mb", round(peak, 1), "MB", f"<= {lambda_memory_mb}",
               peak <= lambda_memory_mb)


def predict16_worst_case_peak_rss(lambda_memory_mb: int) -> Row:
    """Peak RSS of a fresh process serving 16 worst-case images at the pixel limit."""
    from tests.support.worst_case import measure

    outcome = measure({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(lambda_memory_mb)})
    if outcome["status"] != 200 or not all("predictions" in entry
                                           for entry in outcome["entries"]):
        raise AssertionError("predict16_worst_case: not every image was answered")
    goal = round(0.6 * lambda_memory_mb, 1)
    peak = outcome["peak_mb"]
    return Row("predict16_worst_case_peak_rss_mb", round(peak, 1), "MB", f"<= {goal}",
               peak <= goal)


def predict16_hostile_urls_vs_deadline() -> Row:
    """One image and 15 URLs to servers that drip or stall: seconds ÷ the fetch deadline."""
    from requests_toolbelt import MultipartEncoder

    from chalicelib import wiring
    from chalicelib.prediction import service
    from tests.support.hostile_server import HOSTILE_PATHS, hostile_server
    from tests.support.pictures import picture

    classifier = wiring.get_classifier()
    limits = service.Limits.from_settings(wiring.get_settings())._replace(
        allow_loopback_urls=True)
    with hostile_server() as base_url:
        parts = [("image", ("a.png", picture((40, 40)), "image/png"))]
        parts += [("url", f"{base_url}{HOSTILE_PATHS[index % len(HOSTILE_PATHS)]}")
                  for index in range(15)]
        encoder = MultipartEncoder(fields=parts)
        body = encoder.to_string()
        started = time.perf_counter()
        sources = service.read_sources(body, encoder.content_type, limits)
        entries = service.classify_images(sources, classifier, 5, limits)
        elapsed = time.perf_counter() - started
    if "predictions" not in entries[0] or any(
            entry["error"]["reason"] != "deadline" for entry in entries[1:]):
        raise AssertionError("predict16_hostile_urls: the URLs were not cut at the deadline")
    return Row.ratio("predict16_hostile_urls_vs_deadline",
                     elapsed / limits.url_fetch_timeout_seconds, "<= 1.2")


def _prod_memory_mb() -> int:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return int(config["stages"]["prod"]["lambda_memory_size"])


def package_rows() -> list[Row]:
    """Sizes of `make package`'s zips (built first when there is no build yet)."""
    import zipfile

    from chalice.constants import MAX_LAMBDA_DEPLOYMENT_SIZE

    from stack.package import build_package

    out_dir = ROOT / "build" / "package"
    zips = [out_dir / "deployment.zip", out_dir / "layer-deployment.zip"]
    if not all(path.exists() for path in zips):
        build_package(ROOT, out_dir)
    mib = 2 ** 20
    largest = max(path.stat().st_size for path in zips) / mib
    unzipped = sum(info.file_size for path in zips
                   for info in zipfile.ZipFile(path).infolist()) / mib
    # Lambda: 250 MB (262,144,000 bytes) unzipped, function and layers together.
    return [Row("package_zip_mb", round(largest, 2), "MiB",
                f"<= {MAX_LAMBDA_DEPLOYMENT_SIZE / mib:g}",
                largest * mib <= MAX_LAMBDA_DEPLOYMENT_SIZE),
            Row("package_unzipped_mb", round(unzipped, 2), "MiB", "<= 250",
                unzipped * mib <= 262_144_000)]


def run_all(quick: bool, only: frozenset[str] = frozenset()) -> list[Row]:
    """Every figure, or only the measurements whose rows are named in ``only``."""
    rounds, repeat = (3, 5) if quick else (31, 200)
    heavy_repeat = 1 if quick else 5
    measurements: list[tuple[tuple[str, ...], Callable[[], list[Row]]]] = [
        (("cold_health_vs_bare_chalice",), lambda: [cold_ratio(
            "cold_health_vs_bare_chalice", OURS, BARE, "/health", "<= 1.3", rounds)]),
        (("cold_health_logging_vs_bare_chalice",), lambda: [cold_ratio(
            "cold_health_logging_vs_bare_chalice", OURS_AS_IN_PROD, BARE, "/health", "<= 1.3",
            rounds)]),
        (("cold_hello_vs_fastapi",), lambda: [cold_ratio(
            "cold_hello_vs_fastapi", OURS, FASTAPI, "/hello", "<= 0.3", rounds)]),
        (("warm_hello_vs_fastapi",), lambda: [warm_ratio(
            "warm_hello_vs_fastapi", "/hello", "<= 0.3", repeat)]),
        (("warm_stats_vs_fastapi",), lambda: [warm_ratio(
            "warm_stats_vs_fastapi", "/stats?" + "&".join(f"numbers={n}" for n in range(1, 101)),
            "<= 0.5", repeat)]),
        (("stats_1m_vs_floor",), lambda: [stats_1m_vs_floor(heavy_repeat)]),
        (("multipart_vs_toolbelt", "multipart_vs_memcpy"), lambda: multipart_rows(repeat)),
        (("predict16_vs_model_floor",), lambda: [predict16_vs_model_floor(
            heavy_repeat if quick else 20)]),
        (("predict_vs_seed_loop",), lambda: [predict_vs_seed_loop(
            heavy_repeat if quick else 10)]),
        (("detect4_vs_model_floor",), lambda: [detect4_vs_model_floor(
            heavy_repeat if quick else 10)]),
        (("predict16_peak_rss_mb",), lambda: [predict16_peak_rss(_prod_memory_mb())]),
        (("predict16_worst_case_peak_rss_mb",), lambda: [predict16_worst_case_peak_rss(
            _prod_memory_mb())]),
        (("predict16_hostile_urls_vs_deadline",), lambda: [
            predict16_hostile_urls_vs_deadline()]),
        (("package_zip_mb", "package_unzipped_mb"), package_rows),
    ]
    unknown = only - {name for names, _ in measurements for name in names}
    if unknown:
        raise SystemExit(f"unknown figure(s): {sorted(unknown)}")
    return [row for names, measure in measurements
            if not only or only & set(names) for row in measure()]


def print_table(rows: list[Row]) -> None:
    print(f"{'name':32} {'value':>10} {'unit':>7}  {'goal':>8}  met")
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        print(f"{row.name:32} {row.value:>10} {row.unit:>7}  {row.goal:>8}  {met}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few iterations")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="measure only this figure (repeatable)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    # This process imports the app too (to build events, and for the warm
    # figures): it gets the settings the cold sides get, where unset.
    from bench.harness import clean_environment

    for name, value in clean_environment().items():
        os.environ.setdefault(name, value)
    started = time.perf_counter()
    # The app writes a log line per request to stdout (Lambda's log); here it
    # would bury the table, and writing to a terminal is not Lambda's cost.
    with open(os.devnull, "w") as discarded, contextlib.redirect_stdout(discarded):
        rows = run_all(args.quick, frozenset(args.only))
    print_table(rows)
    args.output.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    print(f"\n{len(rows)} figures in {time.perf_counter() - started:.0f} s -> {args.output}")
    return 0

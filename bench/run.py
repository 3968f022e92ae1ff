"""`make bench`: every figure side by side with its peer, as a table and JSON.

Each figure is a ratio of medians measured in one run, A and B alternating,
on the same inputs, with both sides' answers checked against each other.
`--quick` runs few iterations (the test suite uses it so the suite cannot rot).
"""

from __future__ import annotations

import argparse
import contextlib
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


def batch_predict_vs_loop(repeat: int) -> Row:
    """/predict with 16 images through the entry point ÷ the seed's per-image loop."""
    import base64
    import io

    from PIL import Image
    from requests_toolbelt.multipart.decoder import MultipartDecoder

    from app import app
    from chalicelib import wiring
    from tests.support.events import api_event

    _, body, content_type = _sixteen_images()
    ours = OURS.load()
    event = api_event(app, "POST", "/predict?top_k=5", headers={"Content-Type": content_type},
                      body=body, base64_body=True)
    classifier = wiring.get_classifier()

    def seed_loop() -> list[list[dict[str, Any]]]:
        # The seed's handler: base64-decode API Gateway's body, split it with
        # MultipartDecoder, then decode each image and run the model on it alone.
        results = []
        raw = base64.b64decode(event["body"])
        for part in MultipartDecoder(raw, content_type).parts:
            image = Image.open(io.BytesIO(part.content)).convert("RGB")
            results.append(classifier.classify([image], top_k=5)[0])
        return results

    answer = json.loads(ours(dict(event), None)["body"])
    if [entry["predictions"] for entry in answer] != _rounded(seed_loop()):
        raise AssertionError("batch_predict: /predict and the per-image loop disagree")
    ours_time, loop_time = alternate(lambda: per_call(lambda: ours(dict(event), None), repeat),
                                     lambda: per_call(seed_loop, repeat), rounds=3)
    return Row.ratio("batch_predict_vs_loop", loop_time / ours_time, ">= 2.0")


def _rounded(results: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    return [[{"label": item["label"], "score": item["score"]} for item in entry]
            for entry in results]


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


def run_all(quick: bool) -> list[Row]:
    rounds, repeat = (3, 5) if quick else (15, 200)
    heavy_repeat = 1 if quick else 5
    return [
        cold_ratio("cold_health_vs_bare_chalice", OURS, BARE, "/health", "<= 1.3", rounds),
        cold_ratio("cold_health_logging_vs_bare_chalice", OURS_AS_IN_PROD, BARE, "/health",
                   "<= 1.3", rounds),
        cold_ratio("cold_hello_vs_fastapi", OURS, FASTAPI, "/hello", "<= 0.3", rounds),
        warm_ratio("warm_hello_vs_fastapi", "/hello", "<= 0.3", repeat),
        warm_ratio("warm_stats_vs_fastapi",
                   "/stats?" + "&".join(f"numbers={n}" for n in range(1, 101)), "<= 0.5",
                   repeat),
        stats_1m_vs_floor(heavy_repeat),
        *multipart_rows(repeat),
        batch_predict_vs_loop(heavy_repeat if quick else 20),
        predict16_peak_rss(_prod_memory_mb()),
        *package_rows(),
    ]


def print_table(rows: list[Row]) -> None:
    print(f"{'name':32} {'value':>10} {'unit':>7}  {'goal':>8}  met")
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        print(f"{row.name:32} {row.value:>10} {row.unit:>7}  {row.goal:>8}  {met}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few iterations")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    # The app writes a log line per request to stdout (Lambda's log); here it
    # would bury the table, and writing to a terminal is not Lambda's cost.
    with open(os.devnull, "w") as discarded, contextlib.redirect_stdout(discarded):
        rows = run_all(args.quick)
    print_table(rows)
    args.output.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    print(f"\n{len(rows)} figures in {time.perf_counter() - started:.0f} s -> {args.output}")
    return 0

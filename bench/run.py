"""`make bench`: every figure side by side with its peer, as a table and JSON.

Each figure is a ratio of medians measured in one run, A and B alternating,
on the same inputs, with both sides' answers checked against each other.
`--quick` runs few iterations (the test suite uses it so the suite cannot rot).
"""

from __future__ import annotations

import argparse
import json
import math
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


def run_all(quick: bool) -> list[Row]:
    rounds, repeat = (3, 5) if quick else (15, 200)
    heavy_repeat = 1 if quick else 5
    return [
        cold_ratio("cold_health_vs_bare_chalice", OURS, BARE, "/health", "<= 1.3", rounds),
        cold_ratio("cold_hello_vs_fastapi", OURS, FASTAPI, "/hello", "<= 0.3", rounds),
        warm_ratio("warm_hello_vs_fastapi", "/hello", "<= 0.3", repeat),
        warm_ratio("warm_stats_vs_fastapi",
                   "/stats?" + "&".join(f"numbers={n}" for n in range(1, 101)), "<= 0.5",
                   repeat),
        stats_1m_vs_floor(heavy_repeat),
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
    rows = run_all(args.quick)
    print_table(rows)
    args.output.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    print(f"\n{len(rows)} figures in {time.perf_counter() - started:.0f} s -> {args.output}")
    return 0

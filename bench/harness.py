"""Measuring tools: fresh-process cold starts, warm invocations, alternation."""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter: the clock starts before the app is imported and
# stops when the first response is back, as in a Lambda cold start (the
# interpreter's own start-up is the same for both sides and left out).
_COLD_PROBE = """
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, {app_dir!r})
sys.path.insert(1, {root!r})
import importlib
module = importlib.import_module({module!r})
handler = getattr(module, {handler!r})
event = json.loads(sys.stdin.read())
response = handler(event, None)
elapsed = time.perf_counter() - started
import resource
print(json.dumps({{"seconds": elapsed, "status": response["statusCode"],
                   "body": response.get("body"),
                   "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


class Side:
    """One side of a comparison: an app directory, its module and handler."""

    def __init__(self, name: str, app_dir: Path, module: str = "app",
                 handler: str = "app", environment: dict[str, str] | None = None) -> None:
        self.name = name
        self.app_dir = app_dir
        self.module = module
        self.handler = handler
        self.environment = environment or {}

    def cold(self, event: dict[str, Any]) -> dict[str, Any]:
        """Serve ``event`` in a fresh interpreter; returns seconds, status, body."""
        probe = _COLD_PROBE.format(app_dir=str(self.app_dir), root=str(ROOT),
                                   module=self.module, handler=self.handler)
        result = subprocess.run([sys.executable, "-c", probe], input=json.dumps(event),
                                capture_output=True,
                                text=True, cwd=str(self.app_dir), check=False,
                                env={**clean_environment(), **self.environment})
        if result.returncode != 0:
            raise RuntimeError(f"{self.name} failed to serve:\n{result.stderr}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def load(self) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        """The handler, imported into this process under a private module name."""
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        spec = importlib.util.spec_from_file_location(
            f"bench_side_{self.name}", self.app_dir / f"{self.module}.py")
        module: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, self.handler)


def clean_environment() -> dict[str, str]:
    import os

    from stack.policy import stage_environment

    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    environment = {name: os.environ[name] for name in keep if name in os.environ}
    # The dev stage's settings (resource names have no defaults) without its
    # emulator endpoint and credentials: nothing here reaches AWS.
    environment.update({name: value for name, value in stage_environment("dev", ROOT).items()
                        if not name.startswith("AWS_")})
    environment.update({"AWS_DEFAULT_REGION": "us-east-1", "APP_STAGE": "bench"})
    return environment


def alternate(a: Callable[[], float], b: Callable[[], float], rounds: int
              ) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` run in turns (A B B A ...) to share the noise."""
    times_a: list[float] = []
    times_b: list[float] = []
    for index in range(rounds):
        order = (a, b) if index % 2 == 0 else (b, a)
        for run in order:
            (times_a if run is a else times_b).append(run())
    return statistics.median(times_a), statistics.median(times_b)


def per_call(call: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``call`` over ``repeat`` runs (after one warm-up)."""
    call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)

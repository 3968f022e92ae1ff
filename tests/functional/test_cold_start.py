"""A cold start pays for every module app.py imports: keep the heavy ones out."""

import json
import subprocess
import sys

from app import app
from tests.support.events import api_event
from tests.support.stage import dev_stage_settings

HEAVY = ["scipy", "numpy", "PIL", "onnxruntime", "boto3", "botocore"]

PROBE = """
import json, sys
event = json.load(sys.stdin)
import app
response = app.app(event, None)
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
print(json.dumps({{"status": response["statusCode"], "heavy": heavy}}))
"""


def test_health_cold_start_loads_no_heavy_module(project_dir):
    event = api_event(app, "GET", "/health")
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)], input=json.dumps(event),
        capture_output=True, text=True, check=True, cwd=str(project_dir.parent.parent),
        env={**dev_stage_settings(), "PATH": "/usr/bin:/bin",
             "PYTHONPATH": str(_project_root())})
    # The app's own log line of the request comes first (stdout is Lambda's log).
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome == {"status": 200, "heavy": []}


def _project_root():
    from pathlib import Path
    return Path(__file__).resolve().parents[2]

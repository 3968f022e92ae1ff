"""The benchmark suite in quick mode, so that it cannot rot between full runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "cold_health_vs_bare_chalice", "cold_health_logging_vs_bare_chalice",
    "cold_hello_vs_fastapi", "warm_hello_vs_fastapi",
    "warm_stats_vs_fastapi", "stats_1m_vs_floor", "multipart_vs_toolbelt",
    "multipart_vs_memcpy", "predict16_vs_model_floor", "predict_vs_seed_loop",
    "detect4_vs_model_floor",
    "predict16_peak_rss_mb",
    "predict16_worst_case_peak_rss_mb", "predict16_hostile_urls_vs_deadline",
    "package_zip_mb", "package_unzipped_mb",
}


def test_quick_bench_writes_every_figure(tmp_path):
    output = tmp_path / "results.json"
    # As `make bench` runs it from a shell: none of the suite's settings.
    shell = {name: value for name, value in os.environ.items()
             if name in ("PATH", "HOME", "LANG", "TMPDIR")}
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--output", str(output)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600, env=shell)
    assert result.returncode == 0, result.stderr
    rows = json.loads(output.read_text())
    assert {row["name"] for row in rows} == EXPECTED
    for row in rows:
        assert set(row) == {"name", "value", "unit", "goal", "met"}
        assert isinstance(row["value"], float) and row["value"] > 0
        assert row["name"] in result.stdout

""".ci/deploy-state: only a missing record means a first deploy; other errors stop the build."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "deploy-state"
# Stands in for the AWS CLI: answers head-object as AWS_ANSWER says, logs every call.
FAKE_AWS = """#!/usr/bin/env bash
echo "$*" >> "$AWS_CALLS"
if [ "$1" = s3api ]; then
  case "$AWS_ANSWER" in
    found) echo '{"ContentLength": 2}' ;;
    missing) echo "An error occurred (404) when calling the HeadObject operation: Not Found" >&2
             exit 254 ;;
    denied) echo "An error occurred (403) when calling the HeadObject operation: Forbidden" >&2
            exit 254 ;;
  esac
fi
"""


@pytest.fixture
def run(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS)
    aws.chmod(aws.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls"
    # A copy of the script, so that its records land in tmp_path, not the project.
    script = tmp_path / "project" / ".ci" / "deploy-state"
    script.parent.mkdir(parents=True)
    script.write_text(SCRIPT.read_text())

    def run(action: str, answer: str) -> tuple[subprocess.CompletedProcess, list[str]]:
        calls.write_text("")
        result = subprocess.run(["bash", str(script), action, "prod"], capture_output=True,
                                text=True, env={**os.environ, "AWS_ANSWER": answer,
                                                "AWS_CALLS": str(calls),
                                                "DEPLOY_STATE_BUCKET": "state-bucket",
                                                "PATH": f"{bin_dir}:{os.environ['PATH']}"})
        return result, calls.read_text().splitlines()
    return run


def test_a_missing_record_is_a_first_deploy(run):
    result, calls = run("fetch", "missing")
    assert result.returncode == 0 and "first deploy" in result.stdout
    assert not any(call.startswith("s3 cp") for call in calls)


def test_any_other_error_stops_the_build(run):
    result, calls = run("fetch", "denied")
    assert result.returncode != 0 and "Forbidden" in result.stderr
    assert not any(call.startswith("s3 cp") for call in calls)


def test_an_existing_record_is_fetched_and_a_new_one_stored(run):
    _, calls = run("fetch", "found")
    assert calls[-1].startswith("s3 cp s3://state-bucket/chalice-reference-api/prod.json ")
    _, calls = run("store", "found")
    assert calls == ["s3 cp .chalice/deployed/prod.json "
                     "s3://state-bucket/chalice-reference-api/prod.json"]

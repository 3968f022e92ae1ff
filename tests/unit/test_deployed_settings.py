"""A deployed stage with a missing or malformed variable stops at import, naming it."""

import subprocess
import sys
from pathlib import Path

import pytest

from stack.policy import stage_environment
from tests.support.stage import REQUIRED_NAMES

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROD = stage_environment("prod", PROJECT_DIR)


def import_app(environment: dict[str, str]) -> subprocess.CompletedProcess:
    """Import app.py in a fresh interpreter, as Lambda's first invocation does."""
    return subprocess.run([sys.executable, "-B", "-c", "import app"], cwd=PROJECT_DIR,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_DIR),
                               **environment},
                          capture_output=True, text=True, timeout=60)


def without(environment: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in environment.items() if key != name}


def test_the_prod_stage_as_configured_imports():
    result = import_app(PROD)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(REQUIRED_NAMES))
def test_prod_without_a_resource_name_fails_at_import_naming_it(name):
    result = import_app(without(PROD, name))
    assert result.returncode != 0
    assert f"ConfigurationError: environment variable {name} must be set" in result.stderr


@pytest.mark.parametrize("name, value, message", [
    ("MAX_IMAGES", "lots", "MAX_IMAGES must be an integer, got 'lots'"),
    ("RESOURCES", "{", "RESOURCES is not valid JSON"),
    ("LABELLER", "magic", "LABELLER must be one of"),
])
def test_prod_with_a_malformed_variable_fails_at_import_naming_it(name, value, message):
    result = import_app({**PROD, name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_in_lambda_a_missing_stage_fails_at_import():
    result = import_app({**without(PROD, "APP_STAGE"),
                         "AWS_LAMBDA_FUNCTION_NAME": "chalice-reference-api-prod"})
    assert result.returncode != 0
    assert "environment variable APP_STAGE must be set" in result.stderr


def test_the_dev_stage_reports_a_malformed_variable_at_first_use_not_import():
    dev = stage_environment("dev", PROJECT_DIR)
    result = import_app({**dev, "MAX_IMAGES": "lots"})
    assert result.returncode == 0, result.stderr

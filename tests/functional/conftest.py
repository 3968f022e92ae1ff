from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from chalice.test import Client

from chalicelib import wiring
from stack.gateway import IAMEnforcingClient
from stack.sigv4 import LocalCaller


@pytest.fixture
def client(project_dir: Path, stage_environment: dict[str, str]) -> Iterator[Client]:
    """chalice.test's client on the dev stage, backed by the session's emulator;
    AWS_IAM routes demand a SigV4 signature made with the stage's credentials,
    as API Gateway would."""
    from app import app

    wiring.reset()
    caller = LocalCaller.from_environ(stage_environment)
    with IAMEnforcingClient(app, caller, stage_name="dev",
                            project_dir=str(project_dir)) as test_client:
        yield test_client
    wiring.reset()


# The S3 model tests (test_model_store.py, test_model_cache.py).
@pytest.fixture
def s3(emulator):
    return boto3.client("s3", endpoint_url=emulator.endpoint_url)


@pytest.fixture
def bucket(s3):
    """A model bucket of the test's own (named as the IAM policy check expects)."""
    name = f"test-models-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def container_tmp(tmp_path, monkeypatch):
    """A fresh /tmp, as a new Lambda container has."""
    cache = tmp_path / "container-tmp"
    cache.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(cache))
    return cache


@pytest.fixture
def stage(monkeypatch):
    """``stage(NAME=value, ...)`` sets stage variables for one test; the
    settings are read again, and again after the test."""
    def set_variables(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(name, str(value))
        wiring.reset()
    yield set_variables
    monkeypatch.undo()
    wiring.reset()

"""IAM-protected routes over HTTP against the running local stack (`make run`),
signed by independent clients: requests-aws4auth, curl, and the example script."""

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from requests_aws4auth import AWS4Auth

from tests.support.signing import LOCAL_KEY, LOCAL_REGION, LOCAL_SECRET

PROJECT_DIR = Path(__file__).resolve().parents[2]
MISMATCH = "The request signature we calculated does not match the signature you provided."


def _auth(key=LOCAL_KEY, secret=LOCAL_SECRET, region=LOCAL_REGION):
    return AWS4Auth(key, secret, region, "execute-api")


def _send(prepared):
    with requests.Session() as session:
        return session.send(prepared, timeout=10)


@pytest.mark.parametrize("route, message", [("hello", "Hello, World"),
                                            ("goodbye", "Goodbye, World")])
def test_signed_call_is_answered(local_stack, route, message):
    response = requests.get(f"{local_stack.base_url}/{route}", auth=_auth(), timeout=10)
    assert response.status_code == 200
    assert response.json() == {"message": message}


@pytest.mark.parametrize("route", ["hello", "goodbye"])
def test_unsigned_call_is_missing_authentication_token(local_stack, route):
    response = requests.get(f"{local_stack.base_url}/{route}", timeout=10)
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert response.headers["Content-Type"] == "application/json"


def test_handler_sees_the_signing_identity(local_stack):
    response = requests.get(f"{local_stack.base_url}/whoami", auth=_auth(), timeout=10)
    assert response.status_code == 200
    caller = response.json()["caller"]
    assert caller["accessKey"] == "testing"
    assert caller["userArn"] == "arn:aws:iam::123456789012:user/local-developer"


def test_malformed_authorization_is_an_incomplete_signature(local_stack):
    response = requests.get(f"{local_stack.base_url}/hello",
                            headers={"Authorization": "AWS4-HMAC-SHA256 Signature=abc"},
                            timeout=10)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
    assert response.json()["message"].startswith(
        "Authorization header requires 'Credential' parameter. Authorization header "
        "requires 'SignedHeaders' parameter.")


def test_wrong_secret_is_a_signature_mismatch(local_stack):
    response = requests.get(f"{local_stack.base_url}/hello", auth=_auth(secret="wrong"),
                            timeout=10)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert response.json()["message"].startswith(MISMATCH)


def test_unknown_access_key_is_an_invalid_security_token(local_stack):
    response = requests.get(f"{local_stack.base_url}/hello", auth=_auth(key="AKIAUNKNOWN"),
                            timeout=10)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"
    assert response.json() == {"message": "The security token included in the request is invalid."}


def test_signed_header_altered_in_transit_is_rejected(local_stack):
    prepared = requests.Request("GET", f"{local_stack.base_url}/hello",
                                headers={"X-Amz-Meta-Purpose": "read"}).prepare()
    _auth()(prepared)
    assert "x-amz-meta-purpose" in prepared.headers["Authorization"]
    prepared.headers["X-Amz-Meta-Purpose"] = "write"
    response = _send(prepared)
    assert response.status_code == 403
    assert response.json()["message"].startswith(MISMATCH)


@pytest.mark.parametrize("offset, start", [
    (timedelta(minutes=-10), "Signature expired: "),
    (timedelta(minutes=10), "Signature not yet current: "),
])
def test_timestamp_outside_five_minutes_is_rejected(local_stack, offset, start):
    signed_at = (datetime.now(UTC) + offset).strftime("%Y%m%dT%H%M%SZ")
    response = requests.get(f"{local_stack.base_url}/hello", auth=_auth(),
                            headers={"X-Amz-Date": signed_at}, timeout=10)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert response.json()["message"].startswith(f"{start}{signed_at} is ")


def _curl():
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("these tests need curl >= 7.75 (for --aws-sigv4) on PATH")
    help_text = subprocess.run([curl, "--help", "all"], capture_output=True, text=True).stdout
    if "--aws-sigv4" not in help_text:
        pytest.fail(f"{curl} has no --aws-sigv4 option; these tests need curl >= 7.75")
    return curl


def _run_curl(*args):
    result = subprocess.run([_curl(), "--silent", "--show-error", "--write-out",
                             "\n%{http_code}", *args],
                            capture_output=True, text=True, timeout=30, check=True)
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def test_curl_aws_sigv4_with_local_credentials_is_answered(local_stack):
    status, body = _run_curl("--aws-sigv4", "aws:amz:us-east-1:execute-api",
                             "--user", "testing:testing", f"{local_stack.base_url}/hello")
    assert (status, body) == (200, '{"message":"Hello, World"}')


def test_curl_with_wrong_secret_is_rejected(local_stack):
    status, body = _run_curl("--aws-sigv4", "aws:amz:us-east-1:execute-api",
                             "--user", "testing:wrong", f"{local_stack.base_url}/goodbye")
    assert status == 403 and MISMATCH in body


def test_curl_unsigned_is_rejected(local_stack):
    status, body = _run_curl(f"{local_stack.base_url}/goodbye")
    assert (status, body) == (403, '{"message":"Missing Authentication Token"}')


def _run_example(local_stack, secret):
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("AWS_")}
    environment.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY=secret)
    return subprocess.run([sys.executable, "examples/invoke_secure_routes.py",
                           "--base-url", local_stack.base_url, "--region", "us-east-1"],
                          cwd=PROJECT_DIR, env=environment, capture_output=True, text=True,
                          timeout=60)


def test_example_script_reports_signed_200_and_unsigned_403(local_stack):
    result = _run_example(local_stack, "testing")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.findall(r"signed:\s+(\d+)", result.stdout) == ["200", "403", "200", "403"]
    assert '{"message":"Goodbye, World"}' in result.stdout
    assert "all signed calls got 200, all unsigned calls 403" in result.stdout


def test_example_script_fails_when_signing_with_the_wrong_secret(local_stack):
    result = _run_example(local_stack, "not-the-secret")
    assert result.returncode == 1
    assert re.findall(r"signed:\s+(\d+)", result.stdout) == ["403", "403", "403", "403"]
    assert MISMATCH in result.stdout

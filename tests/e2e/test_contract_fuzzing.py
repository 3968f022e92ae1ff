"""schemathesis against the running local stack, driven by its own /openapi.json.

Every operation gets valid and invalid generated requests (IAM routes signed
with the local credentials, as a caller would) until at least MIN_REQUESTS
have been sent. None may answer 5xx, or a status, content type, header or
body that the document does not describe.

Then schemathesis's own command, as anyone would run it against `make run`,
with every check (schemathesis.toml names the one left out, and why): it
must find nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from requests.auth import AuthBase

MIN_REQUESTS = 1000
TIME_BUDGET_SECONDS = 150


class _SignedLikeACaller(AuthBase):
    """SigV4 with the local credentials, in place of the generated Authorization.

    schemathesis fills the sigv4 scheme's header with generated text; a caller
    sends its signature there instead.  botocore's signer signs the host and
    content type (requests-aws4auth crashes on generated header values with an
    unbalanced quote, so it cannot sign every generated request).
    """

    def __init__(self, access_key: str, secret_key: str, region: str) -> None:
        from botocore.credentials import Credentials

        self._credentials = Credentials(access_key, secret_key)
        self._region = region

    def __call__(self, request):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request.headers.pop("Authorization", None)
        signed_headers = {name: value for name, value in request.headers.items()
                          if name.lower() == "content-type"}
        aws_request = AWSRequest(method=request.method, url=request.url,
                                 data=request.body or b"", headers=signed_headers)
        SigV4Auth(self._credentials, "execute-api", self._region).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date"):
            request.headers[name] = aws_request.headers[name]
        return request


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance,
            response_headers_conformance, response_schema_conformance]


def _fuzz(operation, mode, examples, session, base_url, auth, outcome) -> None:
    from schemathesis import GenerationMode
    from schemathesis.core.failures import FailureGroup

    checks = _checks()

    # derandomize: the same requests every run, so CI is reproducible.
    @settings(max_examples=examples, deadline=None, database=None, print_blob=False,
              derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    def run(case):
        response = case.call(base_url=base_url, session=session, auth=auth, timeout=30)
        outcome["requests"] += 1
        outcome["statuses"].add(response.status_code)
        if auth is not None and response.status_code == 200:
            outcome["signed_ok"].add(operation.label)
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as failure:  # keep going; all are reported at the end
            outcome["failures"].append(f"{operation.label} ({mode}): {failure}")

    run()


def test_generated_requests_get_only_documented_non_5xx_answers(local_stack):
    import schemathesis

    base_url = local_stack.base_url
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    secured = {op.label for op in operations if op.definition.raw.get("security")}
    auth = _SignedLikeACaller("testing", "testing", "us-east-1")
    outcome = {"requests": 0, "failures": [], "statuses": set(), "signed_ok": set()}
    per_operation: dict[str, int] = {}
    started = time.monotonic()
    with requests.Session() as session:
        # Operations with few distinct inputs (GET /health) exhaust quickly,
        # so rounds repeat until enough requests have been sent.
        while outcome["requests"] < MIN_REQUESTS:
            assert time.monotonic() - started < TIME_BUDGET_SECONDS, (
                f"only {outcome['requests']} requests in {TIME_BUDGET_SECONDS} s")
            missing = MIN_REQUESTS - outcome["requests"]
            examples = -(-missing // (2 * len(operations))) + 5
            for operation in operations:
                before = outcome["requests"]
                signed = auth if operation.label in secured else None
                # IAM routes also get unsigned calls: API Gateway's documented 403.
                passes = [("positive", signed), ("negative", signed)] + (
                    [("positive", None)] if signed else [])
                for mode, caller in passes:
                    try:
                        _fuzz(operation, mode, examples, session, base_url, caller, outcome)
                    except Unsatisfiable:
                        # Nothing invalid can be made for an operation without inputs.
                        pass
                per_operation[operation.label] = (per_operation.get(operation.label, 0)
                                                  + outcome["requests"] - before)

    print(f"\n{outcome['requests']} requests in {time.monotonic() - started:.1f} s; "
          f"statuses {sorted(outcome['statuses'])}; per operation {per_operation}")
    assert outcome["failures"] == [], "\n\n".join(outcome["failures"][:10])
    assert all(per_operation[op.label] > 0 for op in operations), per_operation
    assert not any(status >= 500 for status in outcome["statuses"])
    # The signing is a caller's: the secured routes must have answered it.
    assert secured and secured <= outcome["signed_ok"], outcome["signed_ok"]


PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_schemathesis_with_every_check_finds_nothing(local_stack):
    # Its examples, coverage, fuzzing and stateful phases; a fixed seed keeps
    # CI reproducible.  The command reads schemathesis.toml from the project.
    command = [str(Path(sys.executable).with_name("st")), "run",
               f"{local_stack.base_url}/openapi.json", "--checks", "all",
               "--exclude-checks", "missing_required_header", "--max-examples", "30",
               "--seed", "1", "--no-color", "--request-timeout", "30"]
    run = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True,
                         timeout=600)
    assert "Configuration:" in run.stdout and "schemathesis.toml" in run.stdout, run.stdout
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " failures" not in run.stdout.splitlines()[-1], run.stdout[-3000:]

"""Every log line the app wrote during this run: valid EMF, and no secret in any.

Runs last (``after_all``): by then the functional tests have run the app in
this process and the e2e tests have run it in local stacks whose console
logs were registered (see tests/support/log_audit.py).
"""

import base64
import re

import pytest
from chalice.test import Client

from chalicelib import wiring
from tests.support.emf import emf_lines, emf_problems
from tests.support.images import image_bytes
from tests.support.log_audit import stack_logs
from tests.support.uploads import callback_secret

# What a credential or an image looks like when it leaks into a line.
LEAK_PATTERNS = {
    "a presigned URL's signature": re.compile(r"X-Amz-Signature=|X-Amz-Credential="),
    "a SigV4 Authorization header": re.compile(r"AWS4-HMAC-SHA256 Credential="),
    "PNG bytes": re.compile(r"\\x89PNG|\\u0089PNG|iVBORw0KGgo"),
    "JPEG bytes": re.compile(r"\\xff\\xd8\\xff|\\u00ff\\u00d8|/9j/4"),
}


@pytest.fixture(scope="module")
def audited(project_dir, in_process_log, stage_environment, emulator):
    """The run's logs and their secrets, after one canary request proves capture works."""
    from app import app

    wiring.reset()
    with Client(app, stage_name="dev", project_dir=str(project_dir)) as client:
        canary = client.http.post("/predict", body=image_bytes(),
                                  headers={"Content-Type": "image/png"})
    wiring.reset()
    assert canary.status_code == 200
    in_process = in_process_log.read_text(encoding="utf-8")
    assert '"route":"/predict"' in in_process, "no app log line was captured in-process"
    secret = callback_secret(emulator.endpoint_url,
                             stage_environment["CALLBACK_SECRET_PARAMETER"]).decode()
    logs = [("in-process", in_process, (secret,))]
    logs += [(str(log.path), log.path.read_text(errors="replace"), log.secrets)
             for log in stack_logs()]
    return logs


@pytest.mark.after_all
def test_every_metrics_record_of_the_run_is_valid_emf(audited):
    checked = {}
    for where, text, _ in audited:
        for line in emf_lines(text):
            assert emf_problems(line) == [], f"{where}: {line}"
            checked[where] = checked.get(where, 0) + 1
    assert checked.get("in-process", 0) > 0
    # The e2e stacks log as in AWS (tests/e2e/conftest.py): their records count too.
    assert len(checked) > 1 or len(audited) == 1


@pytest.mark.after_all
def test_no_log_line_of_the_run_holds_a_secret_or_image_bytes(audited):
    for where, text, secrets in audited:
        assert secrets, f"{where}: no secret to look for"
        for secret in secrets:
            assert secret not in text, f"{where} holds a secret"
            assert base64.b64encode(secret.encode()).decode() not in text
        for what, pattern in LEAK_PATTERNS.items():
            match = pattern.search(text)
            assert match is None, f"{where} holds {what}: ...{text[match.start()-80:][:200]}"

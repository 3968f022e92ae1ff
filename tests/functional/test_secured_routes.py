"""IAM-protected routes through chalice.test, which enforces AWS_IAM like API Gateway."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.signing import sign

BASE = "http://localhost"
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.")


def _get(client, path, headers=None):
    return client.http.get(path, headers=headers or {})


@pytest.mark.parametrize("path, message", [("/hello", "Hello, World"),
                                           ("/goodbye", "Goodbye, World")])
def test_signed_request_is_answered(client, path, message):
    response = _get(client, path, sign("GET", BASE + path))
    assert response.status_code == 200
    assert response.json_body == {"message": message}


@pytest.mark.parametrize("path", ["/hello", "/goodbye", "/whoami"])
def test_unsigned_request_is_missing_authentication_token(client, path):
    response = _get(client, path)
    assert response.status_code == 403
    assert response.json_body == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_handler_sees_the_callers_identity(client):
    response = _get(client, "/whoami", sign("GET", BASE + "/whoami"))
    assert response.status_code == 200
    caller = response.json_body["caller"]
    assert caller["accessKey"] == "testing"
    assert caller["accountId"] == "123456789012"
    assert caller["userArn"] == "arn:aws:iam::123456789012:user/local-developer"
    assert caller["caller"] == caller["user"] and caller["user"].startswith("AIDA")


def test_signed_query_string_is_accepted(client):
    path = "/whoami?b=2&a=x+y&a=%2F"
    assert _get(client, path, sign("GET", BASE + path)).status_code == 200


def test_bearer_token_is_an_incomplete_signature(client):
    response = _get(client, "/hello", {"Authorization": "Bearer abc.def"})
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
    assert response.json_body["message"] == (
        "Authorization header requires 'Credential' parameter. Authorization header "
        "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
        "parameter. Authorization header requires existence of either a 'X-Amz-Date' or "
        "a 'Date' header. Authorization=Bearer abc.def")


def test_pair_without_equal_sign_is_an_incomplete_signature(client):
    headers = sign("GET", BASE + "/hello")
    headers["authorization"] = headers["authorization"].replace("Credential=", "Credential ")
    response = _get(client, "/hello", headers)
    assert response.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
    assert "not a valid key=value pair (missing equal-sign)" in response.json_body["message"]


def test_wrong_secret_is_a_signature_mismatch_showing_the_canonical_request(client):
    response = _get(client, "/hello", sign("GET", BASE + "/hello", secret_key="wrong"))
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    message = response.json_body["message"]
    assert message.startswith(MISMATCH)
    assert "The Canonical String for this request should have been\n'GET\n/hello\n" in message
    assert "/us-east-1/execute-api/aws4_request" in message


def test_unknown_access_key_is_an_invalid_security_token(client):
    response = _get(client, "/hello", sign("GET", BASE + "/hello", access_key="AKIAOTHER"))
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"
    assert response.json_body == {
        "message": "The security token included in the request is invalid."}


def test_security_token_the_stack_did_not_issue_is_invalid(client):
    headers = sign("GET", BASE + "/hello", session_token="made-up")
    response = _get(client, "/hello", headers)
    assert response.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"


@pytest.mark.parametrize("header, value", [
    ("host", "evil.example"),
    ("x-amz-content-sha256", "0" * 64),
    ("x-amz-date", "altered"),
])
def test_altered_signed_header_is_rejected(client, header, value):
    headers = sign("GET", BASE + "/hello")
    if value == "altered":
        signed_at = datetime.strptime(headers[header], "%Y%m%dT%H%M%SZ")
        value = (signed_at + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    headers[header] = value
    response = _get(client, "/hello", headers)
    assert response.status_code == 403
    assert response.json_body["message"].startswith(MISMATCH)


def test_altered_query_string_is_rejected(client):
    headers = sign("GET", BASE + "/whoami?a=1")
    response = _get(client, "/whoami?a=2", headers)
    assert response.status_code == 403
    assert response.json_body["message"].startswith(MISMATCH)


def test_signature_older_than_five_minutes_has_expired(client):
    signed_at = datetime.now(UTC) - timedelta(minutes=6)
    response = _get(client, "/hello", sign("GET", BASE + "/hello", at=signed_at))
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    message = response.json_body["message"]
    assert message.startswith(f"Signature expired: {signed_at:%Y%m%dT%H%M%SZ} is now "
                              "earlier than ")
    assert message.endswith(" - 5 min.)")


def test_signature_more_than_five_minutes_ahead_is_not_yet_current(client):
    signed_at = datetime.now(UTC) + timedelta(minutes=6)
    response = _get(client, "/hello", sign("GET", BASE + "/hello", at=signed_at))
    assert response.status_code == 403
    assert response.json_body["message"].startswith(
        f"Signature not yet current: {signed_at:%Y%m%dT%H%M%SZ} is still later than ")


def test_signature_within_the_allowed_skew_is_accepted(client):
    signed_at = datetime.now(UTC) - timedelta(minutes=4)
    assert _get(client, "/hello", sign("GET", BASE + "/hello", at=signed_at)).status_code == 200


def test_credential_for_another_region_is_rejected(client):
    response = _get(client, "/hello", sign("GET", BASE + "/hello", region="eu-west-1"))
    assert response.json_body == {
        "message": "Credential should be scoped to a valid region, not 'eu-west-1'. "}


def test_credential_for_another_service_is_rejected(client):
    response = _get(client, "/hello", sign("GET", BASE + "/hello", service="s3"))
    assert response.json_body == {
        "message": "Credential should be scoped to correct service: 'execute-api'. "}


def test_routes_without_authorizer_ignore_authorization(client):
    response = _get(client, "/health", {"Authorization": "Bearer whatever"})
    assert response.status_code == 200

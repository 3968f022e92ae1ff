"""The AWS_IAM decision itself, on fixed clocks and hand-altered requests."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from stack.sigv4 import LocalCaller, ReceivedRequest, Rejected, verify_request
from tests.support.signing import sign

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
CALLER = LocalCaller(access_key_id="testing", secret_access_key="testing",
                     region="us-east-1")
URL = "http://127.0.0.1:8000/hello"


def _received(headers, url=URL, method="GET", body=b""):
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return ReceivedRequest(method, path, headers, body)


def _rejection(request, caller=CALLER, now=NOW):
    with pytest.raises(Rejected) as raised:
        verify_request(request, caller, now=now)
    return raised.value


def test_valid_signature_yields_the_iam_identity():
    identity = verify_request(_received(sign("GET", URL, at=NOW)), CALLER, now=NOW)
    assert identity["accessKey"] == "testing"
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/local-developer"
    assert identity["cognitoIdentityId"] is None


def test_expired_message_names_the_three_times_like_api_gateway():
    signed_at = NOW - timedelta(minutes=5, seconds=1)
    rejection = _rejection(_received(sign("GET", URL, at=signed_at)))
    assert rejection.error_type == "InvalidSignatureException"
    assert rejection.message == ("Signature expired: 20260101T115459Z is now earlier than "
                                 "20260101T115500Z (20260101T120000Z - 5 min.)")


def test_future_message_names_the_three_times_like_api_gateway():
    signed_at = NOW + timedelta(minutes=5, seconds=1)
    rejection = _rejection(_received(sign("GET", URL, at=signed_at)))
    assert rejection.message == ("Signature not yet current: 20260101T120501Z is still later "
                                 "than 20260101T120500Z (20260101T120000Z + 5 min.)")


@pytest.mark.parametrize("offset", [timedelta(minutes=-5), timedelta(minutes=5)])
def test_exactly_five_minutes_of_skew_is_allowed(offset):
    request = _received(sign("GET", URL, at=NOW + offset))
    assert verify_request(request, CALLER, now=NOW)["accessKey"] == "testing"


def test_body_other_than_the_signed_one_is_rejected():
    headers = sign("POST", URL, at=NOW, body=b'{"a": 1}',
                   headers={"Content-Type": "application/json"})
    rejection = _rejection(_received(headers, method="POST", body=b'{"a": 2}'))
    assert rejection.error_type == "InvalidSignatureException"
    assert rejection.message.startswith("The request signature we calculated does not match")


def test_signed_body_is_accepted():
    headers = sign("POST", URL, at=NOW, body=b'{"a": 1}',
                   headers={"Content-Type": "application/json"})
    request = _received(headers, method="POST", body=b'{"a": 1}')
    assert verify_request(request, CALLER, now=NOW)["accessKey"] == "testing"


def test_signature_over_headers_botocore_would_not_sign_is_verified():
    headers = sign("GET", URL, at=NOW, headers={"User-Agent": "probe/1"},
                   include=("host", "x-amz-date", "user-agent"))
    assert "user-agent" in headers["authorization"]
    assert verify_request(_received(headers), CALLER, now=NOW)["accessKey"] == "testing"
    headers["user-agent"] = "probe/2"
    assert _rejection(_received(headers)).error_type == "InvalidSignatureException"


def test_date_header_may_replace_x_amz_date(monkeypatch):
    # requests-aws4auth always adds X-Amz-Date; botocore signs with a Date
    # header alone when the request has one.
    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    monkeypatch.setattr(auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest("GET", URL, headers={"Date": "placeholder", "Host": "127.0.0.1:8000"})
    auth.SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1"
                   ).add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert "x-amz-date" not in headers and headers["date"].startswith("Thu, 01 Jan 2026 12:00:00")
    assert verify_request(_received(headers), CALLER, now=NOW)["accessKey"] == "testing"


def test_missing_date_is_an_incomplete_signature():
    headers = sign("GET", URL, at=NOW)
    del headers["x-amz-date"]
    rejection = _rejection(_received(headers))
    assert rejection.error_type == "IncompleteSignatureException"
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in rejection.message


def test_credential_with_missing_elements_is_an_incomplete_signature():
    headers = sign("GET", URL, at=NOW)
    headers["authorization"] = headers["authorization"].replace("/us-east-1", "")
    rejection = _rejection(_received(headers))
    assert rejection.message.startswith(
        "Credential must have exactly 5 slash-delimited elements")


def test_temporary_credentials_need_their_session_token():
    caller = LocalCaller("ASIATEMP", "secret", "us-east-1", session_token="token-1")
    signed = sign("GET", URL, at=NOW, access_key="ASIATEMP", secret_key="secret",
                  session_token="token-1")
    assert verify_request(_received(signed), caller, now=NOW)["accessKey"] == "ASIATEMP"
    unsigned_token = sign("GET", URL, at=NOW, access_key="ASIATEMP", secret_key="secret")
    assert _rejection(_received(unsigned_token), caller).error_type == (
        "UnrecognizedClientException")


def test_rejection_body_is_api_gateways_compact_json():
    assert Rejected("X", "Missing Authentication Token").body() == (
        b'{"message":"Missing Authentication Token"}')


def test_a_signature_that_leaves_out_host_is_refused():
    headers = sign("GET", URL, at=NOW, include=("x-amz-date",))
    assert "SignedHeaders=x-amz-date," in headers["authorization"]
    rejection = _rejection(_received(headers))
    assert rejection.error_type == "IncompleteSignatureException"
    assert "'Host' or ':authority' must be a 'SignedHeader'" in rejection.message
    headers["host"] = "evil.example"
    assert "'Host'" in _rejection(_received(headers)).message


def test_a_signature_bound_to_one_host_fails_on_another():
    headers = sign("GET", URL, at=NOW)
    headers["host"] = "evil.example"
    assert _rejection(_received(headers)).error_type == "InvalidSignatureException"


def test_the_dating_header_must_be_signed():
    headers = sign("GET", URL, at=NOW, include=("host",))
    rejection = _rejection(_received(headers))
    assert rejection.error_type == "IncompleteSignatureException"
    assert "'x-amz-date' dates the request" in rejection.message


def test_a_sent_session_token_must_be_signed():
    caller = LocalCaller("ASIATEMP", "secret", "us-east-1", session_token="token-1")
    headers = sign("GET", URL, at=NOW, access_key="ASIATEMP", secret_key="secret",
                   include=("host", "x-amz-date"))
    headers["x-amz-security-token"] = "token-1"
    rejection = _rejection(_received(headers), caller)
    assert "'x-amz-security-token' is sent and must be a 'SignedHeader'" in rejection.message


@pytest.mark.parametrize("listed", ["x-amz-date;host", "Host;X-Amz-Date",
                                    "host;host;x-amz-date", "host;;x-amz-date"])
def test_signed_headers_must_be_lower_case_sorted_and_unique(listed):
    headers = sign("GET", URL, at=NOW)
    current = headers["authorization"].split("SignedHeaders=")[1].split(",")[0]
    headers["authorization"] = headers["authorization"].replace(current, listed)
    rejection = _rejection(_received(headers))
    assert rejection.error_type == "IncompleteSignatureException"
    assert "SignedHeaders must list lower-case header names, sorted" in rejection.message


def test_a_signed_header_the_request_does_not_send_is_refused():
    headers = sign("GET", URL, at=NOW, headers={"X-Amz-Meta": "1"})
    assert "x-amz-meta" in headers["authorization"]
    del headers["x-amz-meta"]
    rejection = _rejection(_received(headers))
    assert "names 'x-amz-meta', which the request does not send" in rejection.message

"""API Gateway's AWS_IAM check, reproduced for the local stack.

In AWS, API Gateway verifies the SigV4 signature of every request to a route
declared with ``IAMAuthorizer`` before Lambda sees it; `chalice local` and
`chalice.test` admit such requests unchecked.  This module makes the same
decisions locally, with API Gateway's 403 messages and error types, for the one
IAM principal the local stack knows (the credentials it was started with).

The signature is recomputed with botocore's SigV4 signer from what the client
declared (its timestamp, its signed headers, the received body) and compared
in constant time; nothing here implements a hash or an HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# API Gateway rejects a signature whose timestamp is more than five minutes
# away from its clock, in either direction (the "- 5 min." in its message).
ALLOWED_SKEW = timedelta(minutes=5)
# moto's default account: the emulator's resources live in it, so the caller's
# ARNs and the resources' ARNs agree locally.
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_USER_NAME = "local-developer"

MISSING_TOKEN = "MissingAuthenticationTokenException"  # noqa: S105 (an error type)
INCOMPLETE_SIGNATURE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"

_MISMATCH = ("The request signature we calculated does not match the signature you "
             "provided. Check your AWS Secret Access Key and signing method. Consult the "
             "service documentation for details.")
_INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105


class Rejected(Exception):
    """API Gateway would answer 403 with ``error_type`` and ``message``."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    def body(self) -> bytes:
        """The response body API Gateway sends: compact JSON with one message."""
        return json.dumps({"message": self.message}, separators=(",", ":")).encode()


@dataclass(frozen=True)
class LocalCaller:
    """The IAM user whose credentials the local stack accepts."""

    access_key_id: str
    secret_access_key: str
    region: str
    session_token: str | None = None
    account_id: str = LOCAL_ACCOUNT_ID
    user_name: str = LOCAL_USER_NAME

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LocalCaller:
        """The caller named by AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
        AWS_SESSION_TOKEN and AWS_DEFAULT_REGION; raises KeyError if one of the
        required three is missing."""
        return cls(access_key_id=environ["AWS_ACCESS_KEY_ID"],
                   secret_access_key=environ["AWS_SECRET_ACCESS_KEY"],
                   region=environ["AWS_DEFAULT_REGION"],
                   session_token=environ.get("AWS_SESSION_TOKEN") or None)

    @property
    def user_id(self) -> str:
        # IAM users have an opaque unique id starting with AIDA; derive a
        # stable one so that different local keys look like different users.
        digest = hashlib.sha256(self.access_key_id.encode()).hexdigest().upper()
        return "AIDA" + digest[:17]

    def identity(self) -> dict[str, str | None]:
        """The fields API Gateway puts in requestContext.identity for this caller."""
        return {
            "accessKey": self.access_key_id,
            "accountId": self.account_id,
            "caller": self.user_id,
            "user": self.user_id,
            "userArn": f"arn:aws:iam::{self.account_id}:user/{self.user_name}",
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
        }


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as it reached the gateway: ``path`` is the raw path with its
    query string, ``headers`` have lower-case names."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: datetime


def verify_request(request: ReceivedRequest, caller: LocalCaller,
                   now: datetime | None = None) -> dict[str, str | None]:
    """Check the request's SigV4 signature as API Gateway's AWS_IAM does.

    Returns the caller's identity fields; raises Rejected with API Gateway's
    error type and message otherwise.
    """
    header = request.headers.get("authorization")
    if header is None:
        raise Rejected(MISSING_TOKEN, "Missing Authentication Token")
    authorization = _parse_authorization(header, request.headers)
    _check_signed_headers(authorization.signed_headers, request.headers)
    if authorization.region != caller.region:
        raise Rejected(INVALID_SIGNATURE, "Credential should be scoped to a valid region, "
                                          f"not '{authorization.region}'. ")
    if authorization.service != SERVICE:
        raise Rejected(INVALID_SIGNATURE,
                       f"Credential should be scoped to correct service: '{SERVICE}'. ")
    _check_skew(authorization.timestamp, now or datetime.now(UTC))
    token = request.headers.get("x-amz-security-token")
    if authorization.access_key_id != caller.access_key_id or not _same_token(
            token, caller.session_token):
        raise Rejected(UNRECOGNIZED_CLIENT, _INVALID_TOKEN)
    _check_signature(request, authorization, caller)
    return caller.identity()


def _parse_authorization(header: str, headers: Mapping[str, str]) -> _Authorization:
    scheme, _, rest = header.strip().partition(" ")
    pairs: dict[str, str] = {}
    if scheme == ALGORITHM:
        for part in rest.split(","):
            part = part.strip()
            if not part:
                continue
            name, equals, value = part.partition("=")
            if not equals:
                raise Rejected(INCOMPLETE_SIGNATURE,
                               f"'{part}' not a valid key=value pair (missing equal-sign) "
                               f"in Authorization header: '{header}'.")
            pairs[name.strip()] = value.strip()
    missing = [f"Authorization header requires '{name}' parameter."
               for name in ("Credential", "Signature", "SignedHeaders") if not pairs.get(name)]
    timestamp = _request_timestamp(headers)
    if timestamp is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' "
                       "or a 'Date' header.")
    if missing or timestamp is None:
        raise Rejected(INCOMPLETE_SIGNATURE, " ".join([*missing, f"Authorization={header}"]))
    credential = pairs["Credential"].split("/")
    if len(credential) != 5:
        raise Rejected(INCOMPLETE_SIGNATURE,
                       "Credential must have exactly 5 slash-delimited elements, e.g. "
                       f"keyid/date/region/service/term, got '{pairs['Credential']}'")
    key, date, region, service, terminator = credential
    return _Authorization(key, date, region, service, terminator,
                          tuple(pairs["SignedHeaders"].split(";")),
                          pairs["Signature"], timestamp)


def _check_signed_headers(signed: tuple[str, ...], headers: Mapping[str, str]) -> None:
    """SigV4's rules for SignedHeaders, before any signature is computed.

    The list is lower-case names, sorted, each once; it includes ``host`` (so
    a signature cannot be replayed against another host), the header that
    dates the request, and x-amz-security-token when one is sent; and every
    header it names is in the request.  Raises Rejected.
    """
    if any(not name or name != name.lower() for name in signed) or list(signed) != sorted(
            set(signed)):
        raise Rejected(INCOMPLETE_SIGNATURE,
                       "SignedHeaders must list lower-case header names, sorted and each "
                       f"once, separated by ';': got '{';'.join(signed)}'.")
    if "host" not in signed:
        raise Rejected(INCOMPLETE_SIGNATURE,
                       "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                       "Authorization.")
    dating = "x-amz-date" if headers.get("x-amz-date") else "date"
    if dating not in signed:
        raise Rejected(INCOMPLETE_SIGNATURE,
                       f"'{dating}' dates the request and must be a 'SignedHeader' in the "
                       "AWS Authorization.")
    if "x-amz-security-token" in headers and "x-amz-security-token" not in signed:
        raise Rejected(INCOMPLETE_SIGNATURE,
                       "'x-amz-security-token' is sent and must be a 'SignedHeader' in the "
                       "AWS Authorization.")
    missing = [name for name in signed if name not in headers]
    if missing:
        raise Rejected(INCOMPLETE_SIGNATURE,
                       f"SignedHeaders names '{missing[0]}', which the request does not "
                       "send.")


def _request_timestamp(headers: Mapping[str, str]) -> datetime | None:
    """X-Amz-Date, else the Date header, in UTC; None when neither parses."""
    amz_date = headers.get("x-amz-date")
    if amz_date:
        try:
            return datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return None
    date = headers.get("date")
    if date:
        try:
            parsed = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return None
        # "-0000" (what botocore sends) parses to a naive datetime that means UTC.
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    return None


def _check_skew(timestamp: datetime, now: datetime) -> None:
    signed, current = timestamp.strftime(AMZ_DATE_FORMAT), now.strftime(AMZ_DATE_FORMAT)
    if timestamp < now - ALLOWED_SKEW:
        earliest = (now - ALLOWED_SKEW).strftime(AMZ_DATE_FORMAT)
        raise Rejected(INVALID_SIGNATURE, f"Signature expired: {signed} is now earlier than "
                                          f"{earliest} ({current} - 5 min.)")
    if timestamp > now + ALLOWED_SKEW:
        latest = (now + ALLOWED_SKEW).strftime(AMZ_DATE_FORMAT)
        raise Rejected(INVALID_SIGNATURE, f"Signature not yet current: {signed} is still "
                                          f"later than {latest} ({current} + 5 min.)")


def _same_token(given: str | None, expected: str | None) -> bool:
    if expected is None:
        return given is None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _check_signature(request: ReceivedRequest, authorization: _Authorization,
                     caller: LocalCaller) -> None:
    timestamp = authorization.timestamp
    path, _, query = request.path.partition("?")
    declared = {name: request.headers.get(name, "") for name in authorization.signed_headers}
    # botocore takes a signed x-amz-content-sha256 as the payload hash; it
    # must also be the hash of the body received, or a replayed signature
    # would vouch for another body.
    body_hash = hashlib.sha256(request.body).hexdigest()
    body_as_signed = declared.get("x-amz-content-sha256", body_hash) == body_hash
    host = request.headers.get("host", "localhost")
    signable = AWSRequest(method=request.method.upper(), url=f"http://{host}{path}",
                          headers=declared, data=request.body,
                          # API Gateway decodes the query (a '+' is a space) and
                          # re-encodes it canonically, as botocore does with params.
                          params=parse_qsl(query, keep_blank_values=True))
    signable.context["timestamp"] = timestamp.strftime(AMZ_DATE_FORMAT)
    signer = _DeclaredHeadersSigner(
        Credentials(caller.access_key_id, caller.secret_access_key, caller.session_token),
        caller.region, authorization.signed_headers)
    canonical_request = signer.canonical_request(signable)
    string_to_sign = signer.string_to_sign(signable, canonical_request)
    expected = signer.signature(string_to_sign, signable)
    if (not body_as_signed or authorization.terminator != "aws4_request"
            or authorization.date != timestamp.strftime("%Y%m%d")
            or not hmac.compare_digest(expected.encode(), authorization.signature.encode())):
        raise Rejected(INVALID_SIGNATURE,
                       f"{_MISMATCH}\n\nThe Canonical String for this request should have "
                       f"been\n'{canonical_request}'\n\nThe String-to-Sign should have "
                       f"been\n'{string_to_sign}'\n")


class _DeclaredHeadersSigner(SigV4Auth):
    """botocore's SigV4 signer over exactly the headers the client declared.

    botocore's own selection (every header but user-agent, expect and
    x-amzn-trace-id) is right for a client; a verifier must sign what the
    Authorization header's SignedHeaders lists.
    """

    def __init__(self, credentials: Credentials, region: str, signed: tuple[str, ...]) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        selected = HTTPHeaders()
        for name in self._signed:
            selected[name] = request.headers.get(name, "")
        return selected

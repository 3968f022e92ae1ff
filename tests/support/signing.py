"""SigV4 signing as a client does it, with requests-aws4auth (not the
verifier's botocore), so that tests check two implementations against each other."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

LOCAL_KEY = "testing"
LOCAL_SECRET = "testing"
LOCAL_REGION = "us-east-1"


def sign(method: str, url: str, *, access_key: str = LOCAL_KEY,
         secret_key: str = LOCAL_SECRET, region: str = LOCAL_REGION,
         service: str = "execute-api", at: datetime | None = None,
         headers: dict[str, str] | None = None, body: bytes = b"",
         session_token: str | None = None,
         include: tuple[str, ...] | None = None) -> dict[str, str]:
    """The headers of ``method url`` signed by requests-aws4auth, Host included,
    with lower-case names.  ``at`` signs with that timestamp instead of now;
    ``include`` names the headers to sign (requests-aws4auth's default: host,
    content-type, date and x-amz-*)."""
    import requests
    from requests_aws4auth import AWS4Auth

    extra = dict(headers or {})
    if at is not None:
        extra["X-Amz-Date"] = at.strftime("%Y%m%dT%H%M%SZ")
    prepared = requests.Request(method, url, headers=extra, data=body or None).prepare()
    options = {"include_hdrs": include} if include else {}
    AWS4Auth(access_key, secret_key, region, service, session_token=session_token,
             **options)(prepared)
    # requests adds Host when sending; chalice.test sends exactly what it is given.
    return {"host": urlsplit(url).netloc,
            **{name.lower(): value for name, value in prepared.headers.items()}}

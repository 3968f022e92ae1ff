"""Call the IAM-protected routes signed and unsigned, and print the outcomes.

    python examples/invoke_secure_routes.py --base-url http://127.0.0.1:8000
    python examples/invoke_secure_routes.py --base-url https://<api-id>.execute-api.<region>.amazonaws.com/api

Requests are signed with SigV4 (service execute-api) by requests-aws4auth using
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the
environment -- the local stack's testing/testing when they are unset.  The
region is --region, else AWS_REGION or AWS_DEFAULT_REGION, else us-east-1.

Exit status: 0 when every signed call got 200 and every unsigned call 403,
1 when one did not, 2 when the API cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys

import requests
from requests_aws4auth import AWS4Auth

ROUTES = ("hello", "goodbye")
LOCAL_DEFAULTS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def signing_auth(region: str) -> AWS4Auth:
    """A requests auth that signs for API Gateway with the environment's credentials."""
    return AWS4Auth(os.environ.get("AWS_ACCESS_KEY_ID") or LOCAL_DEFAULTS["AWS_ACCESS_KEY_ID"],
                    os.environ.get("AWS_SECRET_ACCESS_KEY")
                    or LOCAL_DEFAULTS["AWS_SECRET_ACCESS_KEY"],
                    region, "execute-api",
                    session_token=os.environ.get("AWS_SESSION_TOKEN") or None)


def invoke_routes(base_url: str, auth: AWS4Auth, timeout: float = 10.0) -> bool:
    """Call each route signed and unsigned, printing each outcome; True when all
    were as expected.  Raises requests.RequestException when the API is unreachable."""
    as_expected = True
    for route in ROUTES:
        url = f"{base_url.rstrip('/')}/{route}"
        print(f"GET {url}")
        for label, call_auth, expected in (("signed", auth, 200), ("unsigned", None, 403)):
            response = requests.get(url, auth=call_auth, timeout=timeout)
            verdict = "ok" if response.status_code == expected else f"expected {expected}"
            print(f"  {label + ':':10}{response.status_code} {response.text.strip()}  [{verdict}]")
            as_expected &= response.status_code == expected
    return as_expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("API_URL", "http://127.0.0.1:8000"),
                        help="the API's URL incl. the stage, e.g. .../api (default: $API_URL "
                             "or http://127.0.0.1:8000)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION")
                        or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    args = parser.parse_args(argv)
    try:
        as_expected = invoke_routes(args.base_url, signing_auth(args.region))
    except requests.RequestException as error:
        print(f"cannot reach {args.base_url}: {error}", file=sys.stderr)
        return 2
    print("all signed calls got 200, all unsigned calls 403" if as_expected
          else "some calls did not get the expected status")
    return 0 if as_expected else 1


if __name__ == "__main__":
    sys.exit(main())

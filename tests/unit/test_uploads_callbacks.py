import hashlib
import hmac
import json

from chalicelib import netguard
from chalicelib.uploads import callbacks

SECRET = b"test-secret"
BODY = b'{"blobId":"b","status":"done"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert callbacks.sign(SECRET, 1_700_000_000, BODY) == f"sha256={expected}"


def test_verify_accepts_a_fresh_signature_and_refuses_tampering_and_replays():
    signature = callbacks.sign(SECRET, 1_700_000_000, BODY)
    assert callbacks.verify(SECRET, "1700000000", signature, BODY, now=1_700_000_010)
    assert not callbacks.verify(SECRET, "1700000000", signature, BODY + b" ", 1_700_000_010)
    assert not callbacks.verify(b"other", "1700000000", signature, BODY, 1_700_000_010)
    assert not callbacks.verify(SECRET, "1700000001", signature, BODY, 1_700_000_010)
    assert not callbacks.verify(SECRET, "1700000000", signature, BODY, 1_700_000_000 + 301)
    assert not callbacks.verify(SECRET, "soon", signature, BODY, 1_700_000_010)


def test_verify_refuses_timestamps_that_are_digits_only_to_unicode():
    signature = callbacks.sign(SECRET, 2, BODY)
    for timestamp in ("\u00b2", "\u0661\u0667\u0660\u0660", "\uff11\uff17", "9" * 5000):
        assert not callbacks.verify(SECRET, timestamp, signature, BODY, 1_700_000_010)


def test_body_carries_labels_when_done_and_the_error_when_failed():
    done = {"id": "b1", "status": "done", "labels": [{"label": "cat", "score": 0.9}]}
    failed = {"id": "b2", "status": "failed", "error": "the upload is empty"}
    assert json.loads(callbacks.callback_body(done)) == {
        "blobId": "b1", "status": "done", "labels": [{"label": "cat", "score": 0.9}]}
    assert json.loads(callbacks.callback_body(failed)) == {
        "blobId": "b2", "status": "failed", "error": "the upload is empty"}


class Receiver:
    """Answers each call with the next outcome: a status, or an exception to raise."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def __call__(self, url, body, headers, *, timeout, allow_loopback):
        self.calls.append(headers)
        outcome = self.outcomes[min(len(self.calls), len(self.outcomes)) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def deliver(send, sleeps, attempts=3):
    return callbacks.deliver("https://hooks.example/x", BODY, SECRET, attempts=attempts,
                             backoff=0.5, timeout=1.0, allow_loopback=False, send=send,
                             sleep=sleeps.append, clock=lambda: 1_700_000_000.0)


def test_retries_server_errors_with_exponential_backoff_until_delivered():
    send, sleeps = Receiver(503, 502, 204), []
    outcome = deliver(send, sleeps)
    assert outcome == callbacks.Delivery("delivered", 3, None, 1_700_000_000.0)
    assert sleeps == [0.5, 1.0]
    assert all(callbacks.verify(SECRET, call[callbacks.TIMESTAMP_HEADER],
                                call[callbacks.SIGNATURE_HEADER], BODY, 1_700_000_000)
               for call in send.calls)


def test_gives_up_after_the_attempts_with_the_last_error():
    send, sleeps = Receiver(netguard.FetchFailed("could not fetch x: timeout")), []
    outcome = deliver(send, sleeps)
    assert (outcome.state, outcome.attempts) == ("failed", 3)
    assert "timeout" in outcome.last_error
    assert sleeps == [0.5, 1.0]


def test_a_client_error_answer_is_final():
    send, sleeps = Receiver(404, 200), []
    outcome = deliver(send, sleeps)
    assert outcome == callbacks.Delivery("failed", 1, "the receiver answered HTTP 404", None)
    assert sleeps == []


def test_a_refused_address_is_final():
    send, sleeps = Receiver(netguard.UrlRefused("x resolves to 10.0.0.1, a private address")), []
    outcome = deliver(send, sleeps)
    assert (outcome.state, outcome.attempts) == ("failed", 1)
    assert "private address" in outcome.last_error


def test_a_host_that_does_not_resolve_is_retried_as_it_may_resolve_later():
    send, sleeps = Receiver(netguard.HostUnresolved("the host 'x.example' does not resolve"),
                            204), []
    outcome = deliver(send, sleeps)
    assert outcome == callbacks.Delivery("delivered", 2, None, 1_700_000_000.0)
    assert sleeps == [0.5]

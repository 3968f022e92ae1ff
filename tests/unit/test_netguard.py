import pytest

from chalicelib.netguard import UrlRefused, check_url, refusal_reason
from tests.support.hostnames import IDEOGRAPHIC_STOP, fullwidth


@pytest.mark.parametrize("address, fragment", [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("fd00::1", "private"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:127.0.0.1", "loopback"),
    ("2002:a9fe:a9fe::1", "link-local"),
    ("64:ff9b::a9fe:a9fe", "link-local"),
])
def test_internal_addresses_are_refused(address, fragment):
    assert fragment in refusal_reason(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert refusal_reason(address) is None


def test_loopback_switch_allows_only_loopback():
    assert refusal_reason("127.0.0.1", allow_loopback=True) is None
    assert refusal_reason("::ffff:127.0.0.1", allow_loopback=True) is None
    assert refusal_reason("10.0.0.1", allow_loopback=True) == "a private address"


def resolver_for(*addresses):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("url, fragment", [
    ("ftp://example.com/a.jpg", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://example.com", "only http and https"),
    ("http://", "no host"),
    ("", "empty"),
    ("http://user:pw@example.com/", "credentials"),
    ("http://example.com:99999/", "malformed"),
])
def test_malformed_or_foreign_urls_are_refused(url, fragment):
    with pytest.raises(UrlRefused, match=fragment):
        check_url(url, resolver=resolver_for("93.184.216.34"))


def test_any_internal_address_among_several_refuses_the_host():
    with pytest.raises(UrlRefused, match=r"169\.254\.169\.254"):
        check_url("http://example.com/", resolver=resolver_for("93.184.216.34",
                                                                "169.254.169.254"))


def test_target_pins_the_checked_address():
    target = check_url("https://example.com/img.png?size=2",
                       resolver=resolver_for("93.184.216.34"))
    assert (target.address, target.port, target.host, target.path) == (
        "93.184.216.34", 443, "example.com", "/img.png?size=2")


def recording_resolver(seen, address="93.184.216.34"):
    def resolve(host, port):
        seen.append(host)
        return [address]
    return resolve


@pytest.mark.parametrize("url, host", [
    (f"http://{fullwidth('93')}.184.216.34/a.png", "93.184.216.34"),
    (f"http://public{IDEOGRAPHIC_STOP}test/a.png", "public.test"),
    (f"http://{fullwidth('example.com')}/a.png", "example.com"),
    ("http://Bücher.example/a.png", "xn--bcher-kva.example"),
    ("http://EXAMPLE.com/a.png", "example.com"),
])
def test_host_names_are_normalised_before_they_are_resolved(url, host):
    seen = []
    target = check_url(url, resolver=recording_resolver(seen))
    assert seen == [host] and target.host == host


def test_a_fullwidth_internal_address_is_refused_as_the_address_it_means():
    with pytest.raises(UrlRefused, match=r"127\.0\.0\.1, a loopback address"):
        check_url(f"http://{fullwidth('127.0.0.1')}/latest")


@pytest.mark.parametrize("url", [
    "http://a\u200db.example/",  # a joiner outside its allowed context
    "http://\u0378.example/",  # an unassigned code point
    "http://exa\u3002\u3002mple/",  # an empty label
])
def test_host_names_that_cannot_be_normalised_are_refused(url):
    with pytest.raises(UrlRefused, match="not a valid domain name") as refused:
        check_url(url, resolver=recording_resolver([]))
    assert refused.value.details["reason"] == "bad_host"


def test_a_non_ascii_path_is_percent_encoded_so_that_it_can_be_sent():
    target = check_url("http://example.com/bilder/bär 1.png?q=ü",
                       resolver=resolver_for("93.184.216.34"))
    assert target.path == "/bilder/b%C3%A4r%201.png?q=%C3%BC"


def test_a_resolution_still_running_at_the_deadline_fails_the_fetch():
    import threading
    import time

    from chalicelib.netguard import FetchFailed

    released = threading.Event()

    def stuck(host, port):
        released.wait(10)
        return ["93.184.216.34"]

    try:
        with pytest.raises(FetchFailed, match="did not resolve by the deadline"):
            check_url("http://slow.example/", resolver=stuck,
                      deadline=time.monotonic() + 0.2)
    finally:
        released.set()


@pytest.mark.parametrize("url, fragment", [
    ("http://exa\x00mple.com/", "control characters"),
    ("http://exa\x7fmple.com/", "control characters"),
    ("http://a\ud800b.example/", "not a valid domain name"),
    ("http://example.com/\ud800.png", "not valid text"),
])
def test_urls_that_could_never_be_sent_are_refused_not_crashed_on(url, fragment):
    with pytest.raises(UrlRefused, match=fragment):
        check_url(url, resolver=resolver_for("93.184.216.34"))

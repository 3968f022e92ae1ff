import pytest

from chalicelib.netguard import UrlRefused, check_url, refusal_reason


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

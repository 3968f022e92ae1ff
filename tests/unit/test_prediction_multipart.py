import pytest
from requests_toolbelt import MultipartEncoder

from chalicelib.errors import InvalidInput, PayloadTooLarge
from chalicelib.prediction.multipart import media_type, parse_form


def form(*parts: bytes, boundary: bytes = b"b0") -> bytes:
    return b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts) + \
        b"--" + boundary + b"--\r\n"


def test_parts_come_back_in_order_with_names_filenames_and_bytes():
    encoder = MultipartEncoder(fields=[("url", "http://a.example/x.png"),
                                       ("image", ("a.png", b"\x89PNG-bytes", "image/png")),
                                       ("url", "http://b.example/y.png")])
    parts = parse_form(encoder.to_string(), encoder.content_type, max_parts=16)

    assert [(p.name, p.filename, p.content_type, p.content) for p in parts] == [
        ("url", None, None, b"http://a.example/x.png"),
        ("image", "a.png", "image/png", b"\x89PNG-bytes"),
        ("url", None, None, b"http://b.example/y.png")]


def test_part_content_keeps_crlf_and_near_boundary_bytes():
    content = b"\r\n--b1\r\n\r\n--b\r\n-b0\r\n"
    body = form(b'Content-Disposition: form-data; name="image"\r\n\r\n' + content)

    [only] = parse_form(body, "multipart/form-data; boundary=b0", max_parts=4)
    assert only.content == content


def test_quoted_boundary_with_characters_that_need_quoting():
    body = form(b'Content-Disposition: form-data; name="url"\r\n\r\nhttp://a', boundary=b"a b:c")

    [only] = parse_form(body, 'multipart/form-data; boundary="a b:c"', max_parts=4)
    assert only.content == b"http://a"


@pytest.mark.parametrize("disposition, filename", [
    ('form-data; name="image"; filename="été 📷.png"', "été 📷.png"),
    ("form-data; name=\"image\"; filename=\"fallback.png\"; "
     "filename*=UTF-8''%E2%82%AC%20rate.png", "€ rate.png"),
    ("form-data; name=\"image\"; filename*=UTF-8''%E2%82%AC.png; filename=\"fallback.png\"",
     "€.png"),
    ('form-data; name="image"', None),
])
def test_filenames_including_non_ascii_and_rfc5987(disposition, filename):
    body = form(b"Content-Disposition: " + disposition.encode() + b"\r\n\r\nxx")

    [only] = parse_form(body, "multipart/form-data; boundary=b0", max_parts=4)
    assert (only.name, only.filename) == ("image", filename)


def test_exactly_max_parts_is_accepted_one_more_is_too_many():
    one = b'Content-Disposition: form-data; name="url"\r\n\r\nhttp://a'

    assert len(parse_form(form(*[one] * 3), "multipart/form-data; boundary=b0", 3)) == 3
    with pytest.raises(PayloadTooLarge, match="at most 3 per request"):
        parse_form(form(*[one] * 4), "multipart/form-data; boundary=b0", 3)
    with pytest.raises(PayloadTooLarge, match="at most 3 per request"):
        parse_form(form(*[one] * 40), "multipart/form-data; boundary=b0", 3)


def test_malformed_bodies_are_invalid_input():
    with pytest.raises(InvalidInput, match="malformed"):
        parse_form(b"--b0\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nx",
                   "multipart/form-data; boundary=b0", 4)


def test_media_type_ignores_parameters_and_case():
    assert media_type("Multipart/Form-Data; boundary=x") == "multipart/form-data"
    assert media_type(None) == ""

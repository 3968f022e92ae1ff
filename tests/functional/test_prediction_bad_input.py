"""Every malformed prediction request gets its own clear JSON 4xx, never a 500."""

import pytest
from requests_toolbelt import MultipartEncoder

from tests.support.fake_models import FakeClassifier, FakeDetector, serve
from tests.support.pictures import picture

PNG = picture((4, 4))
FORM = "multipart/form-data; boundary=b0"


def part(headers: str, content: bytes) -> bytes:
    return b"--b0\r\n" + headers.encode() + b"\r\n\r\n" + content + b"\r\n"


IMAGE_PART = part('Content-Disposition: form-data; name="image"; filename="a.png"', PNG)


def encoded(fields):
    encoder = MultipartEncoder(fields=fields)
    return encoder.content_type, encoder.to_string()


SEVENTEEN = encoded([("image", (f"{i}.png", PNG, "image/png")) for i in range(17)])
UNKNOWN_FIELD = encoded([("image", ("a.png", PNG, "image/png")), ("picture", "x"),
                         ("comment", "hello")])

# (case, content type, body, query, status, error code, fragment of the message)
CASES = [
    ("body over MAX_REQUEST_BYTES", "image/png", b"\0" * 4_400_001, "", 413,
     "PayloadTooLarge", "POST /blobs"),
    ("more images than MAX_IMAGES", *SEVENTEEN, "", 413, "PayloadTooLarge",
     "at most 16 per request (MAX_IMAGES)"),
    ("JSON instead of a form", "application/json", b'{"image": "x"}', "", 415,
     "UnsupportedMediaType", "'application/json' is not accepted"),
    ("no Content-Type", None, PNG, "", 415, "UnsupportedMediaType", "'(none)'"),
    ("an image type this API does not decode", "image/tiff", PNG, "", 415,
     "UnsupportedMediaType", "image/tiff"),
    ("no boundary parameter", "multipart/form-data", IMAGE_PART + b"--b0--\r\n", "", 400,
     "InvalidInput", "has no boundary"),
    ("boundary longer than RFC 2046 allows", "multipart/form-data; boundary=" + "x" * 71,
     b"", "", 400, "InvalidInput", "longer than 70"),
    ("empty multipart body", FORM, b"", "", 400, "InvalidInput", "malformed"),
    ("a boundary that is not in the body", FORM, b"just text, no parts", "", 400,
     "InvalidInput", "malformed"),
    ("missing final boundary", FORM, IMAGE_PART, "", 400, "InvalidInput",
     "does not end with the final boundary --b0--"),
    ("cut off inside a part", FORM, IMAGE_PART[:-30], "", 400, "InvalidInput",
     "does not end with the final boundary"),
    ("a header line without a colon", FORM,
     part("Content-Disposition form-data", PNG) + b"--b0--\r\n", "", 400, "InvalidInput",
     "malformed"),
    ("headers never end", FORM,
     b'--b0\r\nContent-Disposition: form-data; name="url"\r\nhttp://a\r\n--b0--\r\n', "",
     400, "InvalidInput", "malformed"),
    ("LF instead of CRLF", FORM,
     b'--b0\nContent-Disposition: form-data; name="url"\n\nhttp://a\n--b0--\n', "", 400,
     "InvalidInput", "malformed"),
    ("too many headers in a part", FORM,
     part('Content-Disposition: form-data; name="image"\r\n'
          + "\r\n".join(f"X-Extra-{i}: {i}" for i in range(10)), PNG) + b"--b0--\r\n", "",
     400, "InvalidInput", "Maximum header count exceeded"),
    ("a header line over 4 KB", FORM,
     part('Content-Disposition: form-data; name="image"; filename="' + "a" * 5000 + '"', PNG)
     + b"--b0--\r\n", "", 400, "InvalidInput", "Maximum header size exceeded"),
    ("no parts at all", FORM, b"--b0--\r\n", "", 400, "InvalidInput", "has no parts"),
    ("a part without Content-Disposition", FORM,
     part("Content-Type: image/png", PNG) + b"--b0--\r\n", "", 400, "InvalidInput",
     "part 0 has no Content-Disposition"),
    ("a part without a field name", FORM,
     IMAGE_PART + part('Content-Disposition: form-data; filename="b.png"', PNG)
     + b"--b0--\r\n", "", 400, "InvalidInput", "part 1 has no field name"),
    ("a part that is not form-data", FORM,
     part('Content-Disposition: attachment; name="image"', PNG) + b"--b0--\r\n", "", 400,
     "InvalidInput", "part 0 is not form-data"),
    ("unknown field names", *UNKNOWN_FIELD, "", 400, "InvalidInput",
     "unknown form field(s) 'comment', 'picture'"),
    ("top_k zero", FORM, IMAGE_PART + b"--b0--\r\n", "?top_k=0", 400, "InvalidInput",
     "top_k must be a whole number from 1 to 100"),
    ("top_k above the cap", FORM, IMAGE_PART + b"--b0--\r\n", "?top_k=101", 400,
     "InvalidInput", "top_k must be a whole number from 1 to 100"),
    ("top_k not a number", FORM, IMAGE_PART + b"--b0--\r\n", "?top_k=lots", 400,
     "InvalidInput", "top_k must be a whole number from 1 to 100, got 'lots'"),
    ("top_k in Arabic-Indic digits", FORM, IMAGE_PART + b"--b0--\r\n", "?top_k=%D9%A5", 400,
     "InvalidInput", "got '\u0665'"),
    ("top_k padded", FORM, IMAGE_PART + b"--b0--\r\n", "?top_k=%205", 400,
     "InvalidInput", "got ' 5'"),
    ("top_k twice", FORM, IMAGE_PART + b"--b0--\r\n", "?top_k=1&top_k=2", 400,
     "InvalidInput", "given 2 times"),
    ("an unknown query parameter", FORM, IMAGE_PART + b"--b0--\r\n", "?threshold=0.5", 400,
     "InvalidInput", "unknown query parameter 'threshold'; this route takes top_k"),
]

DETECTION_CASES = [
    ("threshold below 0", "?threshold=-0.1", "from 0 to 1"),
    ("threshold above 1", "?threshold=1.5", "from 0 to 1"),
    ("threshold NaN", "?threshold=nan", "got 'nan'"),
    ("threshold in Arabic-Indic digits", "?threshold=%D9%A1", "got '\u0661'"),
    ("threshold padded", "?threshold=%200.5", "got ' 0.5'"),
    ("threshold not a number", "?threshold=high",
     "threshold must be a finite decimal number from 0 to 1, got 'high'"),
    ("top_k on detection", "?top_k=3", "unknown query parameter 'top_k'"),
]


@pytest.fixture
def models(monkeypatch):
    return serve(monkeypatch, FakeClassifier()), serve(monkeypatch, FakeDetector())


@pytest.mark.parametrize("case, content_type, body, query, status, code, fragment", CASES,
                         ids=[case[0] for case in CASES])
def test_bad_requests_get_their_own_error(client, models, case, content_type, body, query,
                                          status, code, fragment):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.http.post(f"/predict{query}", headers=headers, body=body)

    assert response.status_code == status
    assert response.json_body["code"] == code
    assert fragment in response.json_body["message"]
    assert models[0].calls == []


@pytest.mark.parametrize("case, query, fragment", DETECTION_CASES,
                         ids=[case[0] for case in DETECTION_CASES])
def test_bad_detection_parameters(client, models, case, query, fragment):
    response = client.http.post(f"/object_detection{query}", headers={"Content-Type": FORM},
                                body=IMAGE_PART + b"--b0--\r\n")

    assert response.status_code == 400
    assert fragment in response.json_body["message"]
    assert models[1].calls == []


def test_the_size_limit_holds_for_multipart_bodies_and_says_how_big(client, models):
    content_type, body = encoded([("image", (f"{i}.png", b"\0" * 1_000_000, "image/png"))
                                  for i in range(5)])
    response = client.http.post("/predict", headers={"Content-Type": content_type},
                                body=body)

    assert response.status_code == 413
    assert response.json_body["size"] == len(body)
    assert response.json_body["limit"] == 4_400_000
    assert response.json_body["upload_route"] == "/blobs"

"""multipart/form-data bodies split into named parts.

The parsing is python-multipart's (the parser Starlette and FastAPI use).  On
a 16-image 4.2 MB body it measured about twice as fast as requests-toolbelt's
MultipartDecoder and the `multipart` package (see docs/benchmarks.md), and
unlike MultipartDecoder it refuses malformed part headers.  Two things it
leaves to its caller are done here: skipping a preamble (RFC 2046 allows one
before the first boundary) and noticing a missing final boundary.
Content-Disposition parameters are read with the standard library so that an
RFC 5987 ``filename*=`` wins over a plain ``filename``.
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.errors import InvalidInput, PayloadTooLarge


class FormPart(NamedTuple):
    name: str
    filename: str | None
    content_type: str | None
    content: bytes


def media_type(content_type: str | None) -> str:
    """The lower-cased media type of a Content-Type header, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_form(body: bytes, content_type: str, max_parts: int) -> list[FormPart]:
    """The parts of a multipart/form-data body, in order.

    Raises InvalidInput when the body or its Content-Type is malformed and
    PayloadTooLarge when it has more than ``max_parts`` parts.
    """
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser

    boundary = _boundary(content_type)
    collector = _Collector(max_parts)
    parser = MultipartParser(boundary, callbacks=collector.callbacks())
    try:
        parser.write(_without_preamble(body, boundary))
        parser.finalize()
    except MultipartParseError as error:
        raise InvalidInput(f"the multipart/form-data body is malformed: {error}") from None
    if not collector.ended:
        raise InvalidInput("the multipart/form-data body is malformed: it does not end "
                           f"with the final boundary --{boundary.decode('latin-1')}--")
    if not collector.parts:
        raise InvalidInput("the multipart/form-data body has no parts; send `image` file "
                           "parts or `url` text parts")
    return [_form_part(index, headers, content)
            for index, (headers, content) in enumerate(collector.parts)]


def _boundary(content_type: str) -> bytes:
    from python_multipart.multipart import parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary", b"")
    if not boundary:
        raise InvalidInput("the multipart/form-data Content-Type has no boundary "
                           "parameter", content_type=content_type)
    # RFC 2046: 1 to 70 characters.
    if len(boundary) > 70:
        raise InvalidInput("the multipart boundary is longer than 70 characters",
                           content_type=content_type)
    return boundary


def _without_preamble(body: bytes, boundary: bytes) -> bytes:
    delimiter = b"--" + boundary
    if body.startswith(delimiter):
        return body
    start = body.find(b"\r\n" + delimiter)
    return body if start < 0 else body[start + 2:]


class _Collector:
    """python-multipart's callbacks gathering each part's headers and bytes."""

    def __init__(self, max_parts: int) -> None:
        self.max_parts = max_parts
        self.parts: list[tuple[list[tuple[bytes, bytes]], bytes]] = []
        self.ended = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._chunks: list[bytes] = []

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_part_data": lambda data, start, end: self._chunks.append(data[start:end]),
            "on_part_end": self._end,
            "on_end": self._finish,
        }

    def _begin(self) -> None:
        if len(self.parts) >= self.max_parts:
            raise PayloadTooLarge(
                f"the request has more than {self.max_parts} images; this stage accepts at "
                f"most {self.max_parts} per request (MAX_IMAGES): split them over several "
                "requests", limit=self.max_parts)
        self._headers, self._chunks = [], []

    def _header_end(self) -> None:
        self._headers.append((bytes(self._field), bytes(self._value)))
        self._field.clear()
        self._value.clear()

    def _end(self) -> None:
        self.parts.append((self._headers, b"".join(self._chunks)))

    def _finish(self) -> None:
        self.ended = True


def _form_part(index: int, headers: list[tuple[bytes, bytes]], content: bytes) -> FormPart:
    # Imported here: the email package would add ~12 ms to every cold start.
    import email.message
    import email.utils

    named = {field.decode("latin-1").strip().lower(): _text(value) for field, value in headers}
    disposition = named.get("content-disposition")
    if disposition is None:
        raise InvalidInput(f"part {index} has no Content-Disposition header", part=index)
    header = email.message.Message()
    header["Content-Disposition"] = disposition
    if header.get_content_disposition() != "form-data":
        raise InvalidInput(f"part {index} is not form-data: {disposition!r}", part=index)
    plain: dict[str, str] = {}
    extended: dict[str, str] = {}
    for key, value in header.get_params(header="content-disposition")[1:]:
        if isinstance(value, tuple):
            extended[key] = email.utils.collapse_rfc2231_value(value)
        else:
            plain[key] = value
    name = extended.get("name") or plain.get("name")
    if not name:
        raise InvalidInput(f"part {index} has no field name", part=index)
    return FormPart(name=name, filename=extended.get("filename") or plain.get("filename"),
                    content_type=named.get("content-type"), content=content)


def _text(value: bytes) -> str:
    # Browsers send non-ASCII filenames as raw UTF-8 (WHATWG); older clients
    # may send Latin-1.
    try:
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        return value.decode("latin-1").strip()

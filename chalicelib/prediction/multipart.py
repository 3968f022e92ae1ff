"""multipart/form-data bodies split into named parts.

The parsing itself is the `multipart` package's (strict mode: a body without
its opening or final boundary, or with a malformed part header, is refused).
It measured about twice as fast as requests-toolbelt's MultipartDecoder on a
16-image 4 MB body and, unlike it, skips a preamble and epilogue and notices a
missing final boundary.  Content-Disposition parameters are read with the
standard library so that RFC 5987 ``filename*=`` wins over a plain ``filename``.
"""

from __future__ import annotations

import email.message
import email.utils
import io
from dataclasses import dataclass

from chalicelib.errors import InvalidInput, PayloadTooLarge


@dataclass(frozen=True)
class FormPart:
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
    import multipart

    boundary = _boundary(content_type)
    parser = multipart.MultipartParser(
        io.BytesIO(body), boundary, content_length=len(body), strict=True,
        # One more part than allowed so that our own count, with its clear
        # message, trips before the parser's limit does.
        part_limit=max_parts + 1,
        # Keep every part in memory: the body is already there, capped by
        # MAX_REQUEST_BYTES; never spool to the function's /tmp.
        memory_limit=len(body) + 1, spool_limit=len(body) + 1)
    parts: list[FormPart] = []
    try:
        for index, part in enumerate(parser):
            if index >= max_parts:
                raise PayloadTooLarge(
                    f"the request has more than {max_parts} images; this stage accepts at "
                    f"most {max_parts} per request (MAX_IMAGES): split them over several "
                    "requests", limit=max_parts)
            parts.append(_form_part(part))
    except multipart.MultipartError as error:
        raise InvalidInput(f"the multipart/form-data body is malformed: {error}") from None
    if not parts:
        raise InvalidInput("the multipart/form-data body has no parts; send `image` file "
                           "parts or `url` text parts")
    return parts


def _boundary(content_type: str) -> str:
    import multipart

    _, options = multipart.parse_options_header(content_type)
    boundary = options.get("boundary", "")
    if not boundary:
        raise InvalidInput("the multipart/form-data Content-Type has no boundary "
                           "parameter", content_type=content_type)
    # RFC 2046: 1 to 70 characters.
    if len(boundary) > 70:
        raise InvalidInput("the multipart boundary is longer than 70 characters",
                           content_type=content_type)
    return boundary


def _form_part(part) -> FormPart:
    # The parser has already refused parts without a form-data
    # Content-Disposition or without a name.
    header = email.message.Message()
    header["Content-Disposition"] = part.headers["Content-Disposition"]
    plain: dict[str, str] = {}
    extended: dict[str, str] = {}
    for key, value in header.get_params(header="content-disposition")[1:]:
        if isinstance(value, tuple):
            extended[key] = email.utils.collapse_rfc2231_value(value)
        else:
            plain[key] = value
    return FormPart(name=extended.get("name") or plain.get("name") or part.name,
                    filename=extended.get("filename") or plain.get("filename"),
                    content_type=part.headers.get("Content-Type"),
                    content=part.raw)

"""Time multipart/form-data parsers on a 16-image, ~4.2 MB body.

    .venv/bin/python tools/bench_multipart.py

Compares requests-toolbelt's MultipartDecoder (the seed's choice) with
chalicelib.prediction.multipart.parse_form (python-multipart plus our header
handling), and with the `multipart` package when it is installed (it is not a
dependency).  Rounds are interleaved so that load on the machine hits every
parser alike; the minimum is the least disturbed figure.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from requests_toolbelt import MultipartEncoder
from requests_toolbelt.multipart.decoder import MultipartDecoder

from chalicelib.prediction.multipart import parse_form
from tests.support.pictures import noise


def main(rounds: int = 100) -> None:
    images = [noise((295, 295), seed=i) for i in range(16)]
    encoder = MultipartEncoder(fields=[("image", (f"{i}.png", data, "image/png"))
                                       for i, data in enumerate(images)])
    body, content_type = encoder.to_string(), encoder.content_type
    parsers = {
        "requests-toolbelt MultipartDecoder": lambda: [
            part.content for part in MultipartDecoder(body, content_type).parts],
        "parse_form (python-multipart)": lambda: [
            part.content for part in parse_form(body, content_type, max_parts=16)],
    }
    try:
        import multipart
    except ImportError:
        pass
    else:
        boundary = content_type.split("boundary=", 1)[1]
        parsers["multipart MultipartParser"] = lambda: [
            part.raw for part in multipart.MultipartParser(
                io.BytesIO(body), boundary, len(body), strict=True,
                memory_limit=len(body) + 1, spool_limit=len(body) + 1)]

    timings: dict[str, list[float]] = {name: [] for name in parsers}
    for name, parse in parsers.items():
        assert parse() == images, name
    for _ in range(rounds):
        for name, parse in parsers.items():
            started = time.perf_counter()
            parse()
            timings[name].append(time.perf_counter() - started)
    print(f"body: {len(body)} bytes, {len(images)} images, {rounds} interleaved rounds")
    for name, values in timings.items():
        print(f"{name:36s} min {min(values) * 1000:6.2f} ms   "
              f"median {statistics.median(values) * 1000:6.2f} ms")


if __name__ == "__main__":
    main()

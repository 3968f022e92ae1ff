import pytest
from PIL import Image, ImageStat

from chalicelib.errors import ImageRejected
from chalicelib.prediction.images import decode_image
from tests.support.pictures import animated_gif, picture


def mean(image):
    return tuple(round(v) for v in ImageStat.Stat(image).mean)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_supported_formats_decode_to_rgb(fmt):
    image = decode_image(picture((12, 7), (250, 250, 250), fmt), max_pixels=1000)

    assert (image.mode, image.size) == ("RGB", (12, 7))
    assert all(abs(v - 250) <= 3 for v in mean(image))


@pytest.mark.parametrize("orientation, size", [(1, (40, 20)), (3, (40, 20)), (6, (20, 40)),
                                               (8, (20, 40))])
def test_exif_orientation_is_applied(orientation, size):
    image = decode_image(picture((40, 20), fmt="JPEG", orientation=orientation), 10_000)

    assert image.size == size


def test_a_gif_gives_its_first_frame():
    image = decode_image(animated_gif([(0, 0, 255), (255, 0, 0)]), 10_000)

    red, _, blue = mean(image)
    assert blue > 200 and red < 50


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"GIF89a but not really", "not_an_image"),
    (picture((64, 64), fmt="PNG")[:60] + b"\0" * 500, "corrupt"),
    (b"hello, I am text", "not_an_image"),
    (picture(fmt="TIFF"), "not_an_image"),
    (picture((64, 64), fmt="PNG")[:-30], "corrupt"),
    (picture((64, 64), fmt="JPEG")[:200], "corrupt"),
])
def test_unusable_data_is_rejected_with_its_reason(data, reason):
    with pytest.raises(ImageRejected) as raised:
        decode_image(data, max_pixels=100_000)
    assert raised.value.details["reason"] == reason


def test_the_pixel_limit_is_checked_before_decoding():
    with pytest.raises(ImageRejected, match="2001x1000 = 2001000 pixels") as raised:
        decode_image(picture((2001, 1000), (0, 0, 0), mode="L"), max_pixels=2_000_000)
    assert raised.value.details["reason"] == "too_many_pixels"


def test_pillows_own_bomb_check_is_an_error_not_a_warning(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)

    with pytest.raises(ImageRejected, match="decompression bomb"):
        decode_image(picture((11, 10)), max_pixels=1_000_000)


@pytest.mark.parametrize("orientation, source", [(1, (3000, 2000)), (6, (2000, 3000))])
def test_a_large_jpeg_is_decoded_at_a_reduced_scale_no_smaller_than_asked(orientation, source):
    data = picture((3000, 2000), (30, 120, 200), fmt="JPEG", orientation=orientation)

    image = decode_image(data, 16_000_000, at_least=(256, 256))

    assert min(image.size) >= 256 and image.size[0] * 4 <= source[0]
    assert image.info["source_size"] == source
    assert all(abs(got - want) <= 3 for got, want in zip(mean(image), (30, 120, 200),
                                                           strict=True))


def test_small_jpegs_and_other_formats_are_decoded_at_full_size():
    small = decode_image(picture((400, 300), fmt="JPEG"), 16_000_000, at_least=(256, 256))
    png = decode_image(picture((3000, 2000), fmt="PNG"), 16_000_000, at_least=(256, 256))

    assert small.size == (400, 300) and "source_size" not in small.info
    assert png.size == (3000, 2000) and "source_size" not in png.info

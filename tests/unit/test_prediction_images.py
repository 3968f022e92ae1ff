import pytest
from PIL import Image, ImageStat

from chalicelib.errors import ImageRejected
from chalicelib.prediction.images import MemoryBudget, TooLarge, decode_for_model, decode_image
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


@pytest.mark.parametrize("fmt, orientation, source_size", [
    ("JPEG", 1, (1600, 800)), ("JPEG", 6, (800, 1600)), ("PNG", 8, (800, 1600)),
    ("WEBP", 3, (1600, 800))])
def test_large_images_are_reduced_towards_the_fit_and_stay_upright(fmt, orientation,
                                                                  source_size):
    data = picture((1600, 800), (30, 200, 90), fmt, orientation=orientation)

    decoded = decode_for_model(data, 2_000_000, fit=(50, 50))

    assert decoded.source_size == source_size
    width, height = decoded.image.size
    assert min(width, height) >= 50 and min(width, height) < 100
    assert (width > height) == (source_size[0] > source_size[1])
    assert all(abs(got - want) <= 4 for got, want in zip(mean(decoded.image), (30, 200, 90),
                                                         strict=True))


@pytest.mark.parametrize("size", [(90, 60), (1000, 1000)])
def test_images_smaller_than_twice_the_fit_or_a_megapixel_are_left_as_they_are(size):
    decoded = decode_for_model(picture(size, fmt="JPEG"), 2_000_000, fit=(50, 50))

    assert decoded.image.size == decoded.source_size == size


def test_the_budget_holds_what_stays_and_refuses_what_does_not_fit():
    budget = MemoryBudget(1_000_000)

    kept = decode_for_model(picture((100, 100)), 100_000, fit=(50, 50), budget=budget,
                            input_bytes=30_000)

    assert budget.held == kept.image.width * kept.image.height * 4 + 30_000
    with pytest.raises(TooLarge, match="the 500x500 RGB image needs") as refused:
        decode_for_model(picture((500, 500)), 1_000_000, budget=budget)
    assert refused.value.details["reason"] == "memory"
    assert budget.held == kept.image.width * kept.image.height * 4 + 30_000

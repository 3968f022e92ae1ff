import io

import pytest
from PIL import Image

from chalicelib.uploads.labelling import ClassifierLabeller, NotAnImage, inspect_image
from tests.support.images import ColourClassifier, image_bytes


def test_inspect_names_format_and_size():
    info = inspect_image(image_bytes(size=(40, 10), image_format="GIF"))
    assert (info.format, info.width, info.height) == ("GIF", 40, 10)


@pytest.mark.parametrize("data, fragment", [
    (b"", "empty"),
    (b"%PDF-1.7 not an image", "not an image"),
    (image_bytes(image_format="PNG")[:60], "damaged or truncated"),
])
def test_what_is_not_a_readable_image_is_refused_with_a_reason(data, fragment):
    with pytest.raises(NotAnImage, match=fragment):
        inspect_image(data)


def test_an_image_with_too_many_pixels_is_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("1", (10_000, 6_000)).save(buffer, format="PNG")
    with pytest.raises(NotAnImage, match="10000x6000 pixels"):
        inspect_image(buffer.getvalue())


def test_classifier_sees_the_image_upright_and_in_rgb():
    classifier = ColourClassifier()
    labeller = ClassifierLabeller(lambda: classifier)
    # EXIF orientation 6: the camera was turned; the stored 40x20 shows 20x40.
    data = image_bytes(colour=(10, 200, 10), size=(40, 20), image_format="JPEG",
                       exif_orientation=6)
    labels = labeller.label(data, max_labels=2)
    assert classifier.sizes == [(20, 40)] and classifier.modes == ["RGB"]
    assert len(labels) == 2 and labels[0]["label"] == "green"
    assert labels[0]["score"] > 0.8 > labels[1]["score"]


def test_classifier_labeller_refuses_non_images():
    with pytest.raises(NotAnImage):
        ClassifierLabeller(ColourClassifier).label(b"plain text", max_labels=3)

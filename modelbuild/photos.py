"""The real test photos: where each comes from, who made it, and what the classifier must see.

``top5`` lists ImageNet labels that must all be among the classifier's five
best for that photo (empty where no ImageNet class describes the photo: those
photos are there for the detector).  Photos are written to ``models/photos``
as JPEG, PNG sources re-encoded at a high quality.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelbuild.sources import DARKNET, MATPLOTLIB, SCIKIT_IMAGE, SCIKIT_LEARN, Package

JPEG_QUALITY = 95


@dataclass(frozen=True)
class Photo:
    """A photo shipped inside a registry package."""

    name: str
    package: Package
    path: str
    credit: str
    top5: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.name}.jpg"


_DARKNET_CREDIT = "darknet sample photo (Debian package darknet; GPL-3.0+ or MIT or WTFPL)"
PHOTOS = (
    Photo("chelsea", SCIKIT_IMAGE, "skimage/data/chelsea.png",
          "Stefan van der Walt, CC0 (scikit-image data)", ("tabby", "tiger cat", "Egyptian cat")),
    Photo("coffee", SCIKIT_IMAGE, "skimage/data/coffee.png",
          "Rachel Michetti, CC0 (scikit-image data)", ("espresso",)),
    Photo("rocket", SCIKIT_IMAGE, "skimage/data/rocket.jpg",
          "SpaceX, public domain (scikit-image data)", ("missile",)),
    Photo("camera", SCIKIT_IMAGE, "skimage/data/camera.png",
          "Lav Varshney, CC0 (scikit-image data)", ("tripod",)),
    Photo("motorcycle_left", SCIKIT_IMAGE, "skimage/data/motorcycle_left.png",
          "Middlebury stereo dataset 2014, Scharstein et al. (scikit-image data)",
          ("moped", "motor scooter")),
    Photo("astronaut", SCIKIT_IMAGE, "skimage/data/astronaut.png",
          "NASA, public domain (scikit-image data)"),
    Photo("grace_hopper", MATPLOTLIB, "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
          "U.S. Navy, public domain (matplotlib sample data)", ("military uniform",)),
    Photo("china", SCIKIT_LEARN, "sklearn/datasets/images/china.jpg",
          "danielbuechele on Flickr, CC BY 2.0 (scikit-learn sample images)", ("palace",)),
    Photo("flower", SCIKIT_LEARN, "sklearn/datasets/images/flower.jpg",
          "vultilion on Flickr, CC BY 2.0 (scikit-learn sample images)", ("daisy",)),
    Photo("dog", DARKNET, "usr/share/darknet/data/dog.jpg", _DARKNET_CREDIT,
          ("German shepherd", "malamute")),
    Photo("eagle", DARKNET, "usr/share/darknet/data/eagle.jpg", _DARKNET_CREDIT,
          ("bald eagle",)),
    Photo("giraffe", DARKNET, "usr/share/darknet/data/giraffe.jpg", _DARKNET_CREDIT,
          ("zebra",)),
    Photo("person", DARKNET, "usr/share/darknet/data/person.jpg", _DARKNET_CREDIT,
          ("borzoi", "Great Pyrenees")),
    Photo("kite", DARKNET, "usr/share/darknet/data/kite.jpg", _DARKNET_CREDIT),
    Photo("horses", DARKNET, "usr/share/darknet/data/horses.jpg", _DARKNET_CREDIT),
)


def classifier_expectations() -> dict[str, tuple[str, ...]]:
    """Photo file name -> labels that must be in the classifier's top 5 (photos that have some)."""
    return {photo.file_name: photo.top5 for photo in PHOTOS if photo.top5}

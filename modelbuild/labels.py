"""Class names from Debian's darknet package, in the order the models' outputs use."""

from __future__ import annotations

from pathlib import Path

# Two pairs of ImageNet-1k classes share a short name; say which is which.
_DISAMBIGUATED = {"n02012849": "crane (bird)", "n03126707": "crane (machine)",
                  "n03710721": "maillot (tank suit)"}


def imagenet_labels(darknet: Path) -> list[str]:
    """The 1,000 ImageNet-1k class names in sorted-WordNet-id order (torchvision's and TF's).

    darknet lists the 1k classes first, in the ILSVRC devkit's order, then the
    rest of ImageNet-21k; its short names are in the same order.
    """
    data = darknet / "usr/share/darknet/data"
    wnids = (data / "imagenet.labels.list").read_text(encoding="utf-8").split()[:1000]
    names = (data / "imagenet.shortnames.list").read_text(encoding="utf-8").splitlines()[:1000]
    by_wnid = dict(zip(wnids, names, strict=True))
    labels = [_DISAMBIGUATED.get(wnid, by_wnid[wnid]) for wnid in sorted(by_wnid)]
    if len(set(labels)) != 1000:
        raise ValueError("the ImageNet-1k names from darknet are not 1,000 distinct names")
    return labels


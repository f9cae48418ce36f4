"""Images in class sub-folders (``root/<class>/<image>``), streamed from disk.

``automodel.data.image_folder(path, image_size=None, color_mode=None)`` names the
folder. Preparing it reads only the image headers (Pillow) to check every file,
learn the sizes and colour modes, and skip unreadable files with a warning that
names them (a class folder left with none, or one image in two class folders, is
an error); the files are then split three ways, stratified and seeded. Training
streams batches through ``tf.data`` (read, decode, resize), so the images are
never all in memory.

It decodes like ``keras.utils.image_dataset_from_directory`` (same file types,
``tf.io.decode_image``, bilinear resizing), which it does not call: that utility
splits two ways and at random, where a search needs a stratified train,
validation and test split, and it stops at the first corrupt file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataError

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
COLOR_MODES = {"grayscale": 1, "rgb": 3}
STATISTICS_SAMPLES = 2000  # images read to learn the normalisation statistics
SHOWN = 5  # file names quoted in a message


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """Where the images are and how to read them (see ``image_folder``)."""

    path: str
    image_size: tuple[int, int] | None = None
    color_mode: str | None = None


def image_folder(path, image_size=None, color_mode: str | None = None) -> ImageFolder:
    """Images in one sub-folder per class under ``path``, for ``automodel.search(data=...)``.

    ``image_size=(height, width)`` resizes every image (required when sizes
    differ); ``color_mode`` is ``"grayscale"``, ``"rgb"`` or None (grey when every
    image is grey).
    """
    if image_size is not None:
        if (
            not isinstance(image_size, (tuple, list))
            or len(image_size) != 2
            or not all(isinstance(v, int) and v > 0 for v in image_size)
        ):
            raise DataError(f"image_size={image_size!r}: pass (height, width) in pixels, e.g. (64, 64).")
        image_size = tuple(image_size)
    if color_mode not in (None, *COLOR_MODES):
        raise DataError(f"color_mode={color_mode!r}: use 'grayscale', 'rgb' or None.")
    return ImageFolder(str(Path(path).expanduser().resolve()), image_size, color_mode)


class FileSplit(NamedTuple):
    """One split of an image folder: files, integer labels, and the model's image shape."""

    files: np.ndarray
    labels: np.ndarray
    image_shape: tuple


@dataclasses.dataclass
class Listing:
    files: np.ndarray
    labels: np.ndarray
    classes: list[str]
    image_shape: tuple
    fingerprint: str


def _quote(paths, root) -> str:
    names = [os.path.relpath(p, root) for p in paths[:SHOWN]]
    more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    return ", ".join(names) + more


def list_images(folder: ImageFolder) -> Listing:
    """Check every image of ``folder`` by its header; skip the unreadable ones with a warning."""
    root = Path(folder.path)
    class_dirs = _class_dirs(root)
    files, labels, classes, sizes, modes = _read_headers(root, class_dirs)
    if len(classes) < 2:
        raise DataError(
            f"Image folder {root} has one class ({classes[0]!r}); classification needs at least two "
            "sub-folders of images."
        )
    if folder.image_size is None and len(sizes) > 1:
        examples = "; ".join(f"{h}x{w} ({os.path.relpath(p, root)})" for (h, w), p in list(sizes.items())[:3])
        raise DataError(
            f"The images in {root} have {len(sizes)} different sizes ({examples}). Pass "
            "image_size=(height, width) to image_folder() to resize them."
        )
    _check_copies(root, files, labels)
    height, width = folder.image_size or next(iter(sizes))
    channels = COLOR_MODES[folder.color_mode] if folder.color_mode else (1 if modes <= GREY_MODES else 3)
    fingerprint = _fingerprint(root, files, (folder.image_size, channels))
    return Listing(np.array(files), np.array(labels, dtype="int64"), classes, (height, width, channels), fingerprint)


def _class_dirs(root: Path) -> list[Path]:
    """The class sub-folders of ``root``, which must exist and hold some."""
    if not root.exists():
        raise DataError(f"Image folder {root} does not exist. Check the path.")
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a folder of class sub-folders. Pass the folder that holds them.")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        loose = [p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
        hint = " It holds images directly: move them into one sub-folder per class." if loose else ""
        raise DataError(f"Image folder {root} is empty: it has no class sub-folders.{hint}")
    return class_dirs


def _read_headers(root: Path, class_dirs: list[Path]):
    """Files, labels and classes of the readable images; their sizes (height, width) -> an example, their modes."""
    from PIL import Image

    files, labels, classes, bad, sizes, modes, empty = [], [], [], [], {}, set(), []
    for class_dir in class_dirs:
        found = sorted(p for p in class_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        good = []
        for path in found:
            try:
                with Image.open(path) as image:
                    image.verify()
                    size, mode = image.size, image.mode
            except Exception:
                bad.append(str(path))
                continue
            good.append(str(path))
            sizes.setdefault((size[1], size[0]), str(path))  # (height, width)
            modes.add(mode)
        if good:
            classes.append(class_dir.name)
            files += good
            labels += [len(classes) - 1] * len(good)
        else:
            empty.append(class_dir.name)
    if bad:
        warnings.warn(f"Skipped {len(bad)} unreadable image file(s) in {root}: {_quote(bad, root)}.", stacklevel=4)
    if not files:
        what = f"none of its {len(bad)} image files could be read" if bad else "no image files"
        raise DataError(f"Image folder {root} has {what} ({', '.join(IMAGE_EXTENSIONS)} in class sub-folders).")
    if empty:  # a class would silently vanish from the search
        raise DataError(
            f"Class folder(s) {', '.join(empty)} of {root} hold no readable image files "
            f"({', '.join(IMAGE_EXTENSIONS)}). Add images there (converted to one of these types), or remove the folder."
        )
    return files, labels, classes, sizes, modes


def _check_copies(root: Path, files: list[str], labels: list[int]) -> None:
    """One image in two class folders has two labels, and may land in both training and test data.

    Files named alike in two classes (``cat/1.png``, ``dog/1.png``) are common and
    fine; only those of the same name and size are compared byte for byte, so the
    folder is not read whole.
    """
    alike = {}
    for path, label in zip(files, labels):
        alike.setdefault((os.path.basename(path), os.path.getsize(path)), []).append((path, label))
    copies = []
    for group in alike.values():
        if len({label for _, label in group}) > 1:
            first = {}  # content -> the first file holding it
            for path, label in group:
                digest = hashlib.sha256(Path(path).read_bytes()).digest()
                other = first.setdefault(digest, (path, label))
                if other[1] != label:
                    copies.append(f"{os.path.relpath(other[0], root)} = {os.path.relpath(path, root)}")
    if copies:
        more = f" and {len(copies) - SHOWN} more" if len(copies) > SHOWN else ""
        raise DataError(
            f"Image folder {root} holds the same image in two classes: {', '.join(copies[:SHOWN])}{more}. "
            "An image has one class: delete the copy in the wrong class folder."
        )


def _fingerprint(root: Path, files: list[str], settings) -> str:
    """Names, sizes and times of the files (not their bytes: a folder may be large), and how they are read."""
    digest = hashlib.sha256(repr(settings).encode())
    for path in files:
        stat = os.stat(path)
        digest.update(f"{os.path.relpath(path, root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _decode(path, image_shape):
    import tensorflow as tf

    height, width, channels = image_shape
    image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
    image = tf.image.resize(image, (height, width))  # float32; a no-op size keeps the pixels
    image.set_shape(image_shape)
    return image


def dataset(split: FileSplit, batch_size: int, shuffle: bool = False, seed: int = 0):
    """A ``tf.data.Dataset`` of (image, label) batches, read from disk as it goes."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((split.files, split.labels))
    if shuffle:
        data = data.shuffle(len(split.files), seed=seed, reshuffle_each_iteration=True)
    data = data.map(lambda path, label: (_decode(path, split.image_shape), label), num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_images(split: FileSplit, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` images of ``split`` in memory, with their labels."""
    part = FileSplit(split.files[:limit], split.labels[:limit], split.image_shape)
    images = [x for x, _ in dataset(part, batch_size=256).as_numpy_iterator()]
    return np.concatenate(images), part.labels


def statistics(split: FileSplit, seed: int = 0) -> tuple[list[float], list[float], tuple[float, float]]:
    """Per-channel mean and variance, and the value range, of a sample of ``split``."""
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(split.files))[:STATISTICS_SAMPLES]
    images, _ = load_images(FileSplit(split.files[chosen], split.labels[chosen], split.image_shape))
    pixels = images.reshape(-1, images.shape[-1]).astype("float64")
    return pixels.mean(axis=0).tolist(), pixels.var(axis=0).tolist(), (float(pixels.min()), float(pixels.max()))

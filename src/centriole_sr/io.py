"""Reading and writing images and tables with pixel sizes, atomically.

Conventions: images are float32 arrays indexed (y, x); pixel sizes are in nm.
Every writer goes through a temporary file in the destination folder and an
atomic rename, so an interrupted job never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tifffile


class InputError(ValueError):
    """A user-supplied file or setting the pipeline cannot use; the message says how to fix it."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The file gets the permissions of any newly created file (0666 less the umask), not
    mkstemp's owner-only 0600: collaborators sharing a results folder can read it.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


KEPT_INTEGER_TYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.int16))


def write_tiff(
    path: str | os.PathLike,
    image: np.ndarray,
    pixel_nm: float,
    *,
    z_step_nm: float | None = None,
    description: str | None = None,
) -> None:
    """Write a (y, x) image or (z, y, x) stack as OME-TIFF with its physical pixel size.

    The OME metadata holds ``PhysicalSizeX``/``Y`` (and ``PhysicalSizeZ`` with ``z_step_nm``)
    in µm, OME's default unit: Bio-Formats (Fiji, QuPath) reads any unit, but bioio and the
    napari readers built on it take the number as µm whatever the unit says, so 45 nm is
    written 0.045 µm. The TIFF resolution tags carry it too (per cm), for plain TIFF readers.
    ``description`` goes into the OME Image's Description. uint8, uint16 and int16 images
    keep their type; any other is written as float32. The OME UUID is derived from the pixels
    and metadata, so the same image gives the same bytes.
    """
    if pixel_nm <= 0:
        raise ValueError(f"pixel size must be > 0 nm, got {pixel_nm}")
    dtype = image.dtype if image.dtype in KEPT_INTEGER_TYPES else np.dtype(np.float32)
    data = np.ascontiguousarray(image, dtype=dtype)
    metadata: dict[str, Any] = {
        "axes": "YX" if data.ndim == 2 else "ZYX",
        "PhysicalSizeX": pixel_nm / 1000.0,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": pixel_nm / 1000.0,
        "PhysicalSizeYUnit": "µm",
    }
    if z_step_nm is not None:
        metadata.update(PhysicalSizeZ=z_step_nm / 1000.0, PhysicalSizeZUnit="µm")
    if description is not None:
        metadata["Description"] = description
    digest = hashlib.sha256(memoryview(data.reshape(-1)).cast("B"))  # no copy of the pixels
    digest.update(repr(sorted(metadata.items())).encode())
    metadata["UUID"] = str(uuid.UUID(bytes=digest.digest()[:16], version=4))
    per_cm = 1e7 / pixel_nm
    with atomic_path(path) as tmp:
        tifffile.imwrite(
            tmp,
            data,
            ome=True,
            photometric="minisblack",
            resolution=(per_cm, per_cm),
            resolutionunit="CENTIMETER",
            metadata=metadata,
        )


def _ome_pixels(tif: tifffile.TiffFile) -> list[Any]:
    """The OME ``Pixels`` elements of a TIFF, in document order (empty for non-OME TIFFs)."""
    if not (tif.is_ome and tif.ome_metadata):
        return []
    import xml.etree.ElementTree as ET

    return [e for e in ET.fromstring(tif.ome_metadata).iter() if e.tag.endswith("Pixels")]


def read_pixel_nm(tif: tifffile.TiffFile) -> float | None:
    """Pixel size in nm from OME or ImageJ/TIFF resolution tags, or None when absent."""
    for pixels in _ome_pixels(tif):
        if "PhysicalSizeX" in pixels.attrib:
            size = float(pixels.attrib["PhysicalSizeX"])
            unit = pixels.attrib.get("PhysicalSizeXUnit", "µm")
            scale = {"nm": 1.0, "µm": 1000.0, "um": 1000.0, "mm": 1e6}.get(unit)
            if scale is not None:
                return size * scale
    page = tif.pages.first
    tag = page.tags.get("XResolution")
    if tag is None:
        return None
    numerator, denominator = tag.value
    if numerator == 0 or denominator == 0:
        return None
    pixels_per_unit = numerator / denominator
    if tif.is_imagej and tif.imagej_metadata:
        # ImageJ leaves "unit" out of uncalibrated images: their resolution is not a size
        unit = str(tif.imagej_metadata.get("unit", "pixel")).replace("\\u00B5", "u")
    else:
        resunit = page.tags.get("ResolutionUnit")
        code = int(resunit.value) if resunit is not None else 1
        unit = {2: "inch", 3: "cm"}.get(code, "none")
    scale_nm = {
        "um": 1000.0,
        "micron": 1000.0,
        "µm": 1000.0,
        "nm": 1.0,
        "cm": 1e7,
        "inch": 2.54e7,
    }.get(unit)
    if scale_nm is None:
        return None
    return scale_nm / pixels_per_unit


def channel_names(tif: tifffile.TiffFile) -> list[str]:
    """The channel names of an OME-TIFF's first image (empty for other TIFFs)."""
    pixels = _ome_pixels(tif)
    if not pixels:
        return []
    return [c.attrib.get("Name", "") for c in pixels[0] if c.tag.endswith("Channel")]


def sharpest_slice(stack: np.ndarray) -> int:
    """Index of the (z, y, x) stack's sharpest slice: the largest variance of its Laplacian."""
    from scipy import ndimage

    return int(np.argmax([ndimage.laplace(plane.astype(np.float64)).var() for plane in stack]))


def select_plane(
    image: np.ndarray,
    axes: str,
    path: Path,
    channel: int | str | None = None,
    z_stack: str = "max",
    names: Sequence[str] = (),
) -> np.ndarray:
    """The 2D (y, x) plane of a TIFF series with tifffile ``axes`` (e.g. "CZYX", "YXS").

    Axes of length 1 are dropped. Channels (C, or S for RGB samples) are chosen by index or
    by OME name (``channel``); a z-stack (Z) is reduced by ``z_stack``: "max" (maximum
    intensity projection) or "sharpest" (the slice of :func:`sharpest_slice`), or kept as
    (z, y, x) with "stack" (bead images, whose focus the fit finds). Any other
    axis of length > 1 (time, or planes of unknown meaning) is refused.
    """
    kept = [(axis, n) for axis, n in zip(axes, image.shape, strict=True) if n > 1 or axis in "YX"]
    image = image.reshape([n for _, n in kept])
    axes = "".join(axis for axis, _ in kept)
    for axis in "CS":
        if axis not in axes:
            continue
        count = image.shape[axes.index(axis)]
        known = f" named {', '.join(names)}" if names else ""
        if channel is None:
            raise InputError(
                f"{path}: {count} channels{known}; set inputs.channel in config.yaml to the "
                f"centriole channel's index (0-{count - 1}) or name"
            )
        if isinstance(channel, str):
            if channel not in names:
                raise InputError(
                    f"{path}: no channel named {channel!r} (channels{known or ' have no names'});"
                    " set inputs.channel to an index or one of the names"
                )
            index = list(names).index(channel)
        else:
            index = channel
        if not 0 <= index < count:
            raise InputError(
                f"{path}: inputs.channel {index} is out of range: the file has {count} channels"
            )
        image = np.take(image, index, axis=axes.index(axis))
        axes = axes.replace(axis, "")
    if axes.replace("Z", "") != "YX":
        raise InputError(
            f"{path}: expected a 2D (y, x) image, got axes {axes} of shape {image.shape}; "
            "save one plane per field, or an ImageJ/OME hyperstack whose axes say which are "
            "channels (C) and z-slices (Z)"
        )
    if "Z" in axes:
        stack = np.moveaxis(image, axes.index("Z"), 0)
        if z_stack == "max":
            image = stack.max(axis=0)
        elif z_stack == "sharpest":
            image = stack[sharpest_slice(stack)]
        elif z_stack == "stack":
            image = stack
        else:
            raise InputError(f"inputs.z_stack must be 'max' or 'sharpest', got {z_stack!r}")
    return image


TIFF_SUFFIXES = (".ome.tiff", ".ome.tif", ".tiff", ".tif")
"""The endings of TIFF fields, matched in any case (longest first)."""
VENDOR_SUFFIXES = (".czi", ".nd2", ".lif")
"""Microscope vendors' formats (Zeiss, Nikon, Leica), read with bioio: the ``formats`` extra."""
IMAGE_SUFFIXES = TIFF_SUFFIXES + VENDOR_SUFFIXES


def _bioimage(path: str | os.PathLike) -> Any:
    """A vendor file opened through bioio (lazily: pixels are read on demand).

    Without bioio (``pip install -e '.[formats]'``) it stops, naming the extra.
    """
    try:
        from bioio import BioImage
    except ImportError as error:
        raise InputError(
            f"{path}: {Path(path).suffix} files are read with bioio, which is not installed; "
            "install it with: pip install -e '.[formats]'"
        ) from error
    try:
        return BioImage(path)
    except Exception as error:  # each reader raises its own types for a bad file
        raise InputError(f"{path}: not readable by bioio ({error}); re-export it") from error


def read_with_bioio(path: str | os.PathLike) -> tuple[np.ndarray, str, float | None, list[str]]:
    """An image through bioio (first scene, first time point): its pixels, their axes
    ("CZYX"), the pixel size in nm (None where the file has none) and the channel names."""
    image = _bioimage(path)
    try:
        pixels = np.asarray(image.get_image_data("CZYX", T=0))
        size_um = image.physical_pixel_sizes.X
        names = [str(name) for name in (image.channel_names or [])]
    except Exception as error:  # each reader raises its own types for a bad file
        raise InputError(f"{path}: not readable by bioio ({error}); re-export it") from error
    return pixels, "CZYX", (float(size_um) * 1000.0 if size_um else None), names


def field_name(path: str | os.PathLike) -> str:
    """A field's name: its file name without the image ending (``.ome.tif`` counted whole)."""
    name = Path(path).name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def find_fields(folder: str | os.PathLike) -> dict[str, Path]:
    """The fields of a folder, by name: its files ending in .tif, .tiff, .ome.tif, .ome.tiff or
    a vendor format of :data:`VENDOR_SUFFIXES` (any case), sorted by name. A folder without
    any, or two files of one name, stop."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder of fields")
    fields: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.lower().endswith(IMAGE_SUFFIXES):
            name = field_name(path)
            if name in fields:
                raise InputError(
                    f"{folder}: {fields[name].name} and {path.name} are both field '{name}'; "
                    "keep one of them"
                )
            fields[name] = path
    if not fields:
        patterns = ", ".join(
            f"*{suffix}" for suffix in (*reversed(TIFF_SUFFIXES), *VENDOR_SUFFIXES)
        )
        raise InputError(f"{folder}: no fields ({patterns}, in any case); check the folder")
    return dict(sorted(fields.items()))


def field_shape_yx(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) in pixels of a field, from its header (pixels are not read)."""
    if Path(path).name.lower().endswith(VENDOR_SUFFIXES):
        dims = _bioimage(path).dims
        return dims.Y, dims.X
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            sizes = dict(zip(series.axes, series.shape, strict=True))
    except Exception as error:  # tifffile raises many types for corrupt files
        raise InputError(f"{path}: not a readable TIFF ({error}); re-export it as TIFF") from error
    return sizes["Y"], sizes["X"]


def read_field(
    path: str | os.PathLike,
    expected_pixel_nm: float | None = None,
    *,
    tolerance: float = 0.02,
    channel: int | str | None = None,
    z_stack: str = "max",
) -> tuple[np.ndarray, float]:
    """Read a field as a float32 (y, x) plane (or (z, y, x) with z_stack="stack") and its
    pixel size in nm.

    Multi-channel files give the plane of ``channel`` and z-stacks are reduced by
    ``z_stack`` (see :func:`select_plane`). The pixel size comes from the file (OME or
    ImageJ metadata, TIFF resolution tags); if the file has none, ``expected_pixel_nm``
    (from config) is used. A file whose pixel size differs from the expected one by more
    than ``tolerance`` (relative) is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes); re-export the image as TIFF")
    if path.name.lower().endswith(VENDOR_SUFFIXES):
        image, axes, pixel_nm, names = read_with_bioio(path)
    else:
        try:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                image, axes = series.asarray(), series.axes
                pixel_nm = read_pixel_nm(tif)
                names = channel_names(tif)
        except Exception as error:  # tifffile raises many types for corrupt files
            raise InputError(
                f"{path}: not a readable TIFF ({error}); re-export it as TIFF"
            ) from error
    image = select_plane(image, axes, path, channel, z_stack, names)
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise InputError(f"{path}: unsupported pixel type {image.dtype}")
    image = image.astype(np.float32)
    if not np.all(np.isfinite(image)):
        raise InputError(f"{path}: contains NaN or Inf pixels; replace them before running")
    if float(image.max()) == float(image.min()):
        raise InputError(f"{path}: the image is constant ({image.flat[0]}); nothing to pick")
    if pixel_nm is None:
        if expected_pixel_nm is None:
            raise InputError(
                f"{path}: no pixel size in the file's metadata; set it in config.yaml (optics)"
            )
        pixel_nm = float(expected_pixel_nm)
    elif expected_pixel_nm is not None and abs(pixel_nm / expected_pixel_nm - 1) > tolerance:
        raise InputError(
            f"{path}: pixel size {pixel_nm:.2f} nm in the file differs from "
            f"{expected_pixel_nm:.2f} nm in config.yaml (optics); fix the config or the file"
        )
    return image, float(pixel_nm)


def write_table(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Write a table as TSV (or CSV if the name ends in .csv), atomically."""
    sep = "," if str(path).endswith(".csv") else "\t"
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep=sep, index=False)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV or TSV table, detecting the separator."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: table not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the table is empty (0 bytes)")
    return pd.read_csv(path, sep=None, engine="python")


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write a JSON document, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_napari_points(path: str | os.PathLike, picks: pd.DataFrame) -> None:
    """Write picks (y_px, x_px and any other columns) as the CSV of a napari points layer:
    ``index``, ``axis-0`` (y), ``axis-1`` (x), then the other columns as the points' features.
    """
    table = picks.rename(columns={"y_px": "axis-0", "x_px": "axis-1"})
    others = [column for column in table.columns if column not in ("axis-0", "axis-1")]
    table = table[["axis-0", "axis-1", *others]].reset_index(drop=True)
    table.insert(0, "index", np.arange(len(table)))
    write_table(path, table)


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON document."""
    return json.loads(Path(path).read_text())


def normalize_percentile(
    image: np.ndarray, low: float = 1.0, high: float = 99.8, eps: float = 1e-6
) -> np.ndarray:
    """Map the ``low`` and ``high`` percentiles of ``image`` to 0 and 1 (float32).

    The one normalisation used by degradation, training, restoration and evaluation.
    """
    lo, hi = percentile_bounds(image, low, high)
    return ((image - lo) / max(float(hi - lo), eps)).astype(np.float32)


def percentile_bounds(
    image: np.ndarray, low: float = 1.0, high: float = 99.8
) -> tuple[float, float]:
    """The intensities (float64) that :func:`normalize_percentile` maps to 0 and 1."""
    lo, hi = np.percentile(image, [low, high])
    return lo, hi


def denormalize_percentile(
    normalized: np.ndarray, bounds: tuple[float, float], dtype: np.dtype | str
) -> np.ndarray:
    """Map 0 and 1 back to ``bounds`` (:func:`percentile_bounds` of the image that was
    normalised), as ``dtype``: the inverse of :func:`normalize_percentile` on that image's
    intensity scale; integer types are rounded and clipped to their range.
    """
    lo, hi = bounds
    image = normalized.astype(np.float64) * (hi - lo) + lo
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        image = np.clip(np.rint(image), info.min, info.max)
    return image.astype(dtype)


def stored_dtype(path: str | os.PathLike) -> np.dtype:
    """Pixel type of the image stored in a TIFF file (without reading its pixels)."""
    with tifffile.TiffFile(path) as tif:
        return tif.series[0].dtype

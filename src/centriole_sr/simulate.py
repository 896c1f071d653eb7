"""The embedded demo: one 3D sample of centrioles imaged by a confocal and a widefield microscope.

The sample is a volume on the confocal lateral grid with planes every ``z_step_nm``: centriole
barrels (point emitters on 9-fold symmetric cylinder walls, often in orthogonal mother/daughter
pairs), clutter (diffuse blobs and point-like specks) and a smoothly varying cytoplasmic
background. Each microscope images it with its own vectorial 3D PSF (`psf.computed_psf`) focused
on z = 0: image = sum over planes of the plane convolved with the PSF at that defocus. The
widefield image is then integrated over its camera pixels (confocal pixels partly covered by
a camera pixel count by the fraction covered, for any pixel-size ratio). Poisson and
Gaussian read noise finish both.

A mother/daughter pair is ONE picking target, at the centre of mass of its emitters: its two
barrels touch (within ~300 nm), which neither microscope resolves as two objects at 90 nm
pixels, and biologically it is one centrosome. Clutter is listed too (kind "clutter") so that
evaluations can tell false picks on it apart.

Pixel geometry, used everywhere: pixel i covers [i, i + 1) * pixel_nm, so its centre lies at
(i + 0.5) * pixel_nm; integrating confocal pixels over camera pixels is then geometrically
exact.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import fft, ndimage

from centriole_sr.degrade import block_mean
from centriole_sr.grid import area_mean, is_whole
from centriole_sr.io import InputError
from centriole_sr.psf import Optics, computed_psf

MODALITIES = ("confocal", "widefield")
CAMERAS = ("scmos", "emccd")
_BLADES = 9  # triplet microtubule blades of a centriole wall
_EMITTERS_PER_NM = 0.8  # labels per nm of barrel length (smooth at any pixel size)
_REFERENCE_LENGTH_NM = 450.0  # a barrel this long with brightness 1 emits 1 unit
_BLOB_EMITTERS = 600
_PEAK_WINDOW_NM = 400.0  # a target's peak is searched this far around its centre


def nm_to_px(coord_nm: np.ndarray | float, pixel_nm: float) -> np.ndarray | float:
    """Physical coordinate (nm) -> pixel coordinate (pixel i's centre is at i)."""
    return np.asarray(coord_nm) / pixel_nm - 0.5


def px_to_nm(coord_px: np.ndarray | float, pixel_nm: float) -> np.ndarray | float:
    """Pixel coordinate (pixel i's centre is at i) -> physical coordinate (nm)."""
    return (np.asarray(coord_px) + 0.5) * pixel_nm


@dataclass(frozen=True)
class DemoParams:
    """The demo sample and acquisitions; lengths in nm, photon numbers per pixel."""

    field_size_px: int = 1024  # confocal pixels per side of the square field
    # picking targets: single barrels or mother/daughter pairs; (low, high): drawn per field
    centrioles_per_field: int | tuple[int, int] = 40
    clutter_per_field: int = 15  # non-centriole spots: diffuse blobs and point-like specks
    pair_fraction: float = 0.6  # targets that are an orthogonal mother/daughter pair
    barrel_diameter_nm: float = 240.0  # outer diameter of the labelled centriole wall
    barrel_length_nm: tuple[float, float] = (400.0, 500.0)  # mother (and single) barrel length
    daughter_length_fraction: tuple[float, float] = (0.5, 0.9)  # daughter / mother length
    brightness_range: tuple[float, float] = (0.5, 1.5)  # labelling intensity per target
    blob_diameter_nm: tuple[float, float] = (600.0, 1200.0)  # round diffuse clutter blobs
    blob_brightness: tuple[float, float] = (4.0, 12.0)  # total, in centriole units
    speck_brightness: tuple[float, float] = (0.3, 1.0)  # point-like aggregates, centriole units
    sample_thickness_nm: float = 3000.0  # cell thickness, centred on the focal plane z = 0
    centriole_z_range_nm: float = 600.0  # centrioles lie within +-half of this around focus
    clutter_z_range_nm: float = 2000.0  # clutter lies within +-half of this around focus
    z_step_nm: float = 200.0  # axial sampling of the sample volume
    psf_size_nm: float = 8000.0  # lateral PSF extent: holds the widefield's defocus haze
    border_margin_nm: float = 800.0  # target centres keep this far from the field border
    min_separation_nm: float = 1500.0  # lateral distance between any two targets or clutter
    background_fraction: float = 0.1  # mean cytoplasm level / median centriole peak (confocal)
    background_contrast: float = 0.35  # std of the log cytoplasm density (smooth in 3D)
    background_scale_nm: tuple[float, float] = (800.0, 4000.0)  # its (axial, lateral) length
    confocal_photons: float = 60.0  # noise-free peak photons of the median centriole (confocal)
    widefield_photons: float = 600.0  # the same in the widefield camera's pixels
    confocal_read_noise: float = 1.0  # Gaussian detector noise, photons rms
    widefield_read_noise: float = 1.6  # sCMOS read noise, electrons rms
    widefield_camera: str = "scmos"  # or emccd: electron multiplication doubles the shot noise
    widefield_offset: float = 100.0  # camera baseline added to the widefield image

    def __post_init__(self) -> None:
        if self.field_size_px < 1:
            raise InputError(f"demo.field_size_px must be >= 1, got {self.field_size_px}")
        counts = np.atleast_1d(self.centrioles_per_field)
        if len(counts) > 2 or counts.min() < 1 or counts[0] > counts[-1]:
            raise InputError(
                "demo.centrioles_per_field must be a count >= 1 or [low, high] with "
                f"1 <= low <= high, got {self.centrioles_per_field}"
            )
        if self.clutter_per_field < 0:
            raise InputError(f"demo.clutter_per_field must be >= 0, got {self.clutter_per_field}")
        if self.widefield_camera not in CAMERAS:
            raise InputError(
                f"demo.widefield_camera must be one of {', '.join(CAMERAS)}, "
                f"got {self.widefield_camera!r}"
            )


@dataclass
class DemoField:
    """One simulated field: both acquisitions (float32, photons) and the sample's objects."""

    confocal: np.ndarray  # noisy confocal acquisition, confocal pixels
    confocal_clean: np.ndarray  # the same without noise (for evaluation)
    widefield: np.ndarray  # noisy widefield acquisition, widefield pixels
    centres: pd.DataFrame  # y_nm, x_nm, z_nm, kind, shape, brightness


@dataclass(frozen=True)
class SampleGrid:
    """Where the sample volume lies: confocal pixels around the field plus a margin, z planes.

    Volume index (k, i + margin_px, j + margin_px) is field pixel (i, j) on plane z_nm[k]; the
    margin holds the sample outside the field whose out-of-focus light still reaches it.
    """

    pixel_nm: float
    field_size_px: int
    margin_px: int
    z_step_nm: float
    half_planes: int  # planes at k * z_step_nm for k = -half_planes .. half_planes

    @property
    def z_nm(self) -> np.ndarray:
        """Defocus of each plane from the focal plane z = 0."""
        return np.arange(-self.half_planes, self.half_planes + 1) * self.z_step_nm

    @property
    def size_px(self) -> int:
        """Lateral size of the volume (fast for FFTs; wrap-around never reaches the field)."""
        return fft.next_fast_len(self.field_size_px + 2 * self.margin_px, real=True)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(z, y, x) shape of the volume."""
        return 2 * self.half_planes + 1, self.size_px, self.size_px


def sample_grid(optics: Optics, params: DemoParams) -> SampleGrid:
    """The demo's volume grid: planes every z_step_nm within +-sample_thickness_nm / 2."""
    return SampleGrid(
        pixel_nm=optics.confocal_pixel_nm,
        field_size_px=params.field_size_px,
        margin_px=round(params.psf_size_nm / 2 / optics.confocal_pixel_nm),
        z_step_nm=params.z_step_nm,
        half_planes=int(params.sample_thickness_nm / 2 / params.z_step_nm + 1e-9),
    )


def emitter_volume(points_zyx_nm: np.ndarray, weights: np.ndarray, grid: SampleGrid) -> np.ndarray:
    """Splat point emitters (z, y, x in nm from the field's corner) trilinearly into a volume."""
    points = np.asarray(points_zyx_nm, dtype=float).reshape(-1, 3)
    coords = np.stack(
        [
            points[:, 0] / grid.z_step_nm + grid.half_planes,
            nm_to_px(points[:, 1], grid.pixel_nm) + grid.margin_px,
            nm_to_px(points[:, 2], grid.pixel_nm) + grid.margin_px,
        ]
    )
    shape = np.array(grid.shape)[:, None]
    if np.any(coords < 0) or np.any(coords > shape - 1):
        raise ValueError("emitters outside the sample volume")
    low = np.floor(coords).astype(int)
    fraction = coords - low
    volume = np.zeros(grid.shape, dtype=np.float32)
    for corner in np.ndindex(2, 2, 2):
        offset = np.array(corner)[:, None]
        share = np.prod(np.where(offset == 1, fraction, 1 - fraction), axis=0) * weights
        index = np.minimum(low + offset, shape - 1)
        np.add.at(volume, tuple(index), share.astype(np.float32))
    return volume


def image_volume(
    volume: np.ndarray, psf_stacks: list[np.ndarray], grid: SampleGrid
) -> list[np.ndarray]:
    """Image a volume with each PSF stack focused on z = 0: sum over planes of 2D convolutions.

    Each stack is (z, 2 * margin_px + 1, same) on the grid's planes. Returns the field
    (field_size_px square, confocal pixels) per stack, float32.
    """
    n = grid.size_px
    spectra = [np.zeros((n, n // 2 + 1), dtype=np.complex64) for _ in psf_stacks]
    kernel = np.zeros((n, n), dtype=np.float32)
    size = 2 * grid.margin_px + 1
    for plane, image in enumerate(volume):
        if not image.any():
            continue
        image_spectrum = fft.rfft2(image, workers=-1)
        for spectrum, stack in zip(spectra, psf_stacks, strict=True):
            kernel[:size, :size] = stack[plane]
            centred = np.roll(kernel, (-grid.margin_px, -grid.margin_px), axis=(0, 1))
            spectrum += image_spectrum * fft.rfft2(centred, workers=-1)
    crop = slice(grid.margin_px, grid.margin_px + grid.field_size_px)
    return [
        fft.irfft2(spectrum, s=(n, n), workers=-1)[crop, crop].astype(np.float32)
        for spectrum in spectra
    ]


def _unit_vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, 3))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _orthonormal_frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.eye(3)[np.argmin(np.abs(axis))]
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)


def _barrel(
    rng: np.random.Generator,
    centre: np.ndarray,
    axis: np.ndarray,
    length_nm: float,
    radius_nm: float,
) -> np.ndarray:
    """Emitters (z, y, x nm) on the nine blades of a centriole wall."""
    count = max(1, round(length_nm * _EMITTERS_PER_NM))
    u, v = _orthonormal_frame(axis)
    angle = rng.uniform(0, 2 * np.pi) + 2 * np.pi * rng.integers(0, _BLADES, count) / _BLADES
    angle += rng.normal(0, 15.0 / radius_nm, count)  # a blade is ~30 nm wide
    radius = radius_nm + rng.normal(0, 8.0, count)
    along = rng.uniform(-length_nm / 2, length_nm / 2, count)
    return (
        centre
        + along[:, None] * axis
        + (radius * np.cos(angle))[:, None] * u
        + (radius * np.sin(angle))[:, None] * v
    )


def _centriole(
    rng: np.random.Generator, params: DemoParams, pair: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Emitters and weights of one target (single barrel or orthogonal pair), centred on its
    brightness-weighted centre of mass."""
    radius = params.barrel_diameter_nm / 2
    axis = _unit_vectors(rng, 1)[0]
    length = rng.uniform(*params.barrel_length_nm)
    points = [_barrel(rng, np.zeros(3), axis, length, radius)]
    if pair:
        # The daughter grows perpendicular from the wall near the mother's proximal end.
        u, v = _orthonormal_frame(axis)
        angle = rng.uniform(0, 2 * np.pi)
        direction = np.cos(angle) * u + np.sin(angle) * v
        daughter_length = length * rng.uniform(*params.daughter_length_fraction)
        base = axis * (-length / 2 + 0.25 * length)
        centre = base + direction * (radius + 20.0 + daughter_length / 2)
        points.append(_barrel(rng, centre, direction, daughter_length, radius))
    emitters = np.concatenate(points)
    weights = np.full(len(emitters), 1.0 / (_REFERENCE_LENGTH_NM * _EMITTERS_PER_NM))
    return emitters - emitters.mean(axis=0), weights


def _blob(rng: np.random.Generator, diameter_nm: float) -> np.ndarray:
    """Emitters filling a ball (a diffuse aggregate), relative to its centre."""
    radius = diameter_nm / 2 * np.cbrt(rng.uniform(0, 1, _BLOB_EMITTERS))
    return _unit_vectors(rng, _BLOB_EMITTERS) * radius[:, None]


def _place(
    rng: np.random.Generator,
    count: int,
    field_nm: float,
    params: DemoParams,
    taken: np.ndarray,
    key: str,
) -> np.ndarray:
    """Lateral (y, x) nm positions inside the border margin, min_separation_nm from each other
    and from ``taken``; InputError naming ``key`` when the field is too crowded."""
    positions = list(taken)
    low, high = params.border_margin_nm, field_nm - params.border_margin_nm
    for _ in range(count):
        for _attempt in range(2000):
            candidate = rng.uniform(low, high, 2)
            if all(np.hypot(*(candidate - p)) >= params.min_separation_nm for p in positions):
                positions.append(candidate)
                break
        else:
            raise InputError(
                f"demo.{key}: cannot place {count} objects {params.min_separation_nm:.0f} nm "
                f"apart in a {field_nm / 1000:.1f} um field; lower it or enlarge "
                "demo.field_size_px"
            )
    return np.array(positions[len(taken) :]).reshape(-1, 2)


def _sample_objects(
    rng: np.random.Generator, params: DemoParams, grid: SampleGrid
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Centriole targets and clutter: the centre table and (emitters, weights) of each kind."""
    field_nm = params.field_size_px * grid.pixel_nm
    count = params.centrioles_per_field
    if not isinstance(count, int):
        count = int(rng.integers(count[0], count[1] + 1))
    targets = _place(rng, count, field_nm, params, np.zeros((0, 2)), "centrioles_per_field")
    clutter = _place(rng, params.clutter_per_field, field_nm, params, targets, "clutter_per_field")
    rows = []
    centriole_points, centriole_weights = [np.zeros((0, 3))], [np.zeros(0)]
    clutter_points, clutter_weights = [np.zeros((0, 3))], [np.zeros(0)]
    volume_half_nm = grid.half_planes * grid.z_step_nm
    # a barrel reaches its length from its centre at most: thin cells hold them nearer focus
    half_z = min(params.centriole_z_range_nm / 2,
                 max(volume_half_nm - params.barrel_length_nm[1], 0.0))  # fmt: skip
    for y_nm, x_nm in targets:
        pair = bool(rng.uniform() < params.pair_fraction)
        brightness = rng.uniform(*params.brightness_range)
        z_nm = rng.uniform(-half_z, half_z)
        points, weights = _centriole(rng, params, pair)
        points = points + [z_nm, y_nm, x_nm]
        points[:, 0] = np.clip(points[:, 0], -volume_half_nm, volume_half_nm)  # thin cells
        centriole_points.append(points)
        centriole_weights.append(weights * brightness)
        rows.append((y_nm, x_nm, z_nm, "centriole", "pair" if pair else "single", brightness))
    z_limit = min(params.clutter_z_range_nm / 2, volume_half_nm)
    for y_nm, x_nm in clutter:
        if rng.uniform() < 0.5:
            diameter = min(rng.uniform(*params.blob_diameter_nm), 2 * z_limit)  # thin cells
            shape, points = "blob", _blob(rng, diameter)
            brightness = rng.uniform(*params.blob_brightness)
            z_nm = rng.uniform(-z_limit + diameter / 2, z_limit - diameter / 2)
        else:
            shape, points = "speck", np.zeros((1, 3))
            brightness = rng.uniform(*params.speck_brightness)
            z_nm = rng.uniform(-z_limit, z_limit)
        clutter_points.append(points + [z_nm, y_nm, x_nm])
        clutter_weights.append(np.full(len(points), brightness / len(points)))
        rows.append((y_nm, x_nm, z_nm, "clutter", shape, brightness))
    centres = pd.DataFrame(rows, columns=["y_nm", "x_nm", "z_nm", "kind", "shape", "brightness"])
    return (
        centres,
        (np.concatenate(centriole_points), np.concatenate(centriole_weights)),
        (np.concatenate(clutter_points), np.concatenate(clutter_weights)),
    )


def _cytoplasm(rng: np.random.Generator, params: DemoParams, grid: SampleGrid) -> np.ndarray:
    """Smooth log-normal density (mean ~1) filling the sample volume."""
    coarse_nm = 250.0
    coarse_px = int(np.ceil(grid.size_px * grid.pixel_nm / coarse_nm))
    noise = rng.standard_normal((len(grid.z_nm), coarse_px, coarse_px))
    axial_nm, lateral_nm = params.background_scale_nm
    sigma = (axial_nm / params.z_step_nm, lateral_nm / coarse_nm, lateral_nm / coarse_nm)
    smooth = ndimage.gaussian_filter(noise, sigma)
    smooth *= params.background_contrast / smooth.std()
    density = np.exp(smooth - params.background_contrast**2 / 2)
    zoom = (1, grid.size_px / coarse_px, grid.size_px / coarse_px)
    return ndimage.zoom(density.astype(np.float32), zoom, order=1, grid_mode=True, mode="nearest")


def _median_peak(image: np.ndarray, centres: pd.DataFrame, pixel_nm: float) -> float:
    """Median over targets of the brightest pixel near each target's centre."""
    reach = int(np.ceil(_PEAK_WINDOW_NM / pixel_nm))
    peaks = []
    for y_nm, x_nm in centres[["y_nm", "x_nm"]].to_numpy():
        y, x = (round(float(nm_to_px(c, pixel_nm))) for c in (y_nm, x_nm))
        peaks.append(
            image[max(y - reach, 0) : y + reach + 1, max(x - reach, 0) : x + reach + 1].max()
        )
    return float(np.median(peaks))


def simulate_field(optics: Optics, params: DemoParams, seed: int) -> DemoField:
    """Simulate one field of the demo imaged by both microscopes (deterministic for ``seed``).

    Photon scales: each image is scaled so that the median centriole's noise-free peak
    (centrioles alone) is ``confocal_photons`` / ``widefield_photons``; the cytoplasm density
    is set so its mean level in the noise-free confocal is ``background_fraction`` of that
    peak. Everything else (the widefield's haze, its contrast) follows from the optics.
    """
    ratio = optics.pixel_ratio
    if is_whole(ratio) and params.field_size_px % round(ratio):
        raise InputError(
            f"demo.field_size_px ({params.field_size_px}) must be a multiple of the pixel-size "
            f"ratio optics.widefield_pixel_nm / optics.confocal_pixel_nm ({round(ratio)})"
        )

    def camera(image: np.ndarray) -> np.ndarray:  # widefield pixels integrate the light
        if is_whole(ratio):
            return block_mean(image, round(ratio)) * round(ratio) ** 2
        return area_mean(image, ratio) * ratio**2

    rng = np.random.default_rng(seed)
    grid = sample_grid(optics, params)
    size_px = 2 * grid.margin_px + 1
    psfs = [computed_psf(optics, m, grid.pixel_nm, size_px, grid.z_nm) for m in MODALITIES]
    centres, centrioles, clutter = _sample_objects(rng, params, grid)
    targets = centres[centres["kind"] == "centriole"]

    confocal, widefield = image_volume(emitter_volume(*centrioles, grid), psfs, grid)
    widefield = camera(widefield)
    confocal_peak = _median_peak(confocal, targets, optics.confocal_pixel_nm)
    widefield_peak = _median_peak(widefield, targets, optics.widefield_pixel_nm)

    rest = _cytoplasm(rng, params, grid)
    crop = slice(grid.margin_px, grid.margin_px + grid.field_size_px)
    confocal_level = float(np.dot(rest[:, crop, crop].mean(axis=(1, 2)), psfs[0].sum(axis=(1, 2))))
    rest *= params.background_fraction * confocal_peak / confocal_level
    rest += emitter_volume(*clutter, grid)
    confocal_rest, widefield_rest = image_volume(rest, psfs, grid)
    del rest

    confocal_clean = (confocal + confocal_rest) * (params.confocal_photons / confocal_peak)
    widefield_clean = (widefield + camera(widefield_rest)) * (
        params.widefield_photons / widefield_peak
    )
    confocal_clean = np.clip(confocal_clean, 0, None)  # FFT round-off only
    widefield_clean = np.clip(widefield_clean, 0, None)
    noisy_confocal = rng.poisson(confocal_clean) + rng.normal(
        0, params.confocal_read_noise, confocal_clean.shape
    )
    noisy_widefield = (
        camera_electrons(widefield_clean, params.widefield_camera, rng)
        + rng.normal(0, params.widefield_read_noise, widefield_clean.shape)
        + params.widefield_offset
    )
    return DemoField(
        confocal=noisy_confocal.astype(np.float32),
        confocal_clean=confocal_clean.astype(np.float32),
        widefield=noisy_widefield.astype(np.float32),
        centres=centres,
    )


def camera_electrons(photons: np.ndarray, camera: str, rng: np.random.Generator) -> np.ndarray:
    """Detected electrons of a camera for mean ``photons`` per pixel (before read noise).

    sCMOS: Poisson. EMCCD: Poisson photoelectrons multiplied by the gain register, whose
    output is Gamma-distributed (shape: the photoelectrons); divided by the gain, the mean
    stays and the variance doubles (excess noise factor sqrt(2)).
    """
    electrons = rng.poisson(photons).astype(np.float64)
    if camera == "emccd":
        multiplied = rng.gamma(np.maximum(electrons, 1e-9), 1.0)
        electrons = np.where(electrons > 0, multiplied, 0.0)
    return electrons


def truth_table(centres: pd.DataFrame, pixel_nm: float) -> pd.DataFrame:
    """Centriole targets (not clutter) as (y_px, x_px) in the pixels of one modality."""
    targets = centres[centres["kind"] == "centriole"]
    return pd.DataFrame(
        {
            "y_px": nm_to_px(targets["y_nm"].to_numpy(float), pixel_nm),
            "x_px": nm_to_px(targets["x_nm"].to_numpy(float), pixel_nm),
        }
    )


def demo_labels(
    truth_by_field: dict[str, pd.DataFrame],
    labelled_fields: list[str],
    labels_per_field: int,
    optics: Optics,
    seed: int,
) -> pd.DataFrame:
    """A sparse labels table: a few clicked centriole centres per labelled field.

    The same centrioles are clicked in both modalities (the demo images one sample twice),
    each in that modality's pixels; columns field, modality, x_px, y_px (x = column).
    """
    pixel_nm = {"confocal": optics.confocal_pixel_nm, "widefield": optics.widefield_pixel_nm}
    chosen = {}
    for field in labelled_fields:
        targets = truth_by_field[field]
        targets = targets[targets["kind"] == "centriole"]
        rng = np.random.default_rng([seed, zlib.crc32(field.encode())])
        picks = rng.choice(len(targets), min(labels_per_field, len(targets)), replace=False)
        chosen[field] = targets.iloc[np.sort(picks)]
    rows = [
        pd.DataFrame(
            {
                "field": field,
                "modality": modality,
                "x_px": nm_to_px(targets["x_nm"].to_numpy(float), pixel_nm[modality]),
                "y_px": nm_to_px(targets["y_nm"].to_numpy(float), pixel_nm[modality]),
            }
        )
        for modality in MODALITIES
        for field, targets in chosen.items()
    ]
    return pd.concat(rows, ignore_index=True)


def _render_points(
    points_px: np.ndarray, weights: np.ndarray, psf: np.ndarray, shape_px: int
) -> np.ndarray:
    """Points at sub-pixel (y, x) pixel positions imaged by a 2D PSF (odd size, centred): exact
    sub-pixel shifts in Fourier space, on a grid padded so nothing wraps around."""
    half = psf.shape[0] // 2
    n = fft.next_fast_len(shape_px + 2 * half, real=True)
    ky, kx = fft.fftfreq(n), fft.rfftfreq(n)
    shifted = np.asarray(points_px, dtype=float) + half
    phase_y = np.exp(-2j * np.pi * shifted[:, :1] * ky)  # (points, n)
    phase_x = np.exp(-2j * np.pi * shifted[:, 1:] * kx) * np.asarray(weights)[:, None]
    kernel = np.zeros((n, n))
    kernel[: psf.shape[0], : psf.shape[1]] = psf
    kernel = np.roll(kernel, (-half, -half), axis=(0, 1))
    spectrum = (phase_y.T @ phase_x) * fft.rfft2(kernel)
    return fft.irfft2(spectrum, s=(n, n))[half : half + shape_px, half : half + shape_px]


def simulate_beads(
    optics: Optics,
    modality: str,
    pixel_nm: float,
    size_px: int,
    count: int,
    seed: int,
    z_planes_nm: np.ndarray | None = None,
    *,
    positions_nm: np.ndarray | None = None,
    peak_photons: float = 1000.0,
    background_photons: float = 10.0,
    read_noise: float = 1.5,
    offset: float = 0.0,
    brightness_range: tuple[float, float] = (0.7, 1.3),
    min_separation_nm: float = 1500.0,
    border_nm: float = 500.0,
    psf_size_nm: float = 3000.0,
    oversample: int | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """A noisy image of point-like (sub-resolution) beads on the coverslip (z = 0), imaged by
    one microscope with its `psf.computed_psf`.

    2D (in focus) by default; with ``z_planes_nm`` a (z, y, x) stack focused at each of those
    heights (the beads then lie -z from focus). Beads sit ``min_separation_nm`` apart,
    ``border_nm`` from the edges, at random sub-pixel positions (or at ``positions_nm``, (y, x)
    rows), each with a brightness from ``brightness_range``. The image is rendered on a grid
    ``oversample`` times finer and averaged over blocks into pixels; by default a camera
    (widefield) integrates ``optics.scale`` x ``optics.scale`` fine pixels as the demo's
    widefield does, a confocal samples the PSF at pixel centres (oversample 1).
    ``peak_photons`` is the noise-free in-focus peak of a brightness-1 bead on a pixel centre;
    Poisson noise on it plus ``background_photons``, Gaussian ``read_noise`` and ``offset``
    finish the image (float32).

    Returns the image and the true beads: y_nm, x_nm, y_px, x_px, brightness.
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if oversample is None:
        oversample = optics.scale if modality == "widefield" else 1
    rng = np.random.default_rng(seed)
    field_nm = size_px * pixel_nm
    if positions_nm is None:
        params = DemoParams(border_margin_nm=border_nm, min_separation_nm=min_separation_nm)
        try:
            positions_nm = _place(rng, count, field_nm, params, np.zeros((0, 2)), "beads")
        except InputError as error:
            raise InputError(
                f"cannot place {count} beads {min_separation_nm:.0f} nm apart in a "
                f"{field_nm / 1000:.1f} um bead image; ask for fewer beads or more pixels"
            ) from error
    positions_nm = np.asarray(positions_nm, dtype=float).reshape(-1, 2)
    brightness = rng.uniform(*brightness_range, len(positions_nm))

    fine_nm = pixel_nm / oversample
    psf_px = 2 * int(psf_size_nm / fine_nm / 2) + 1
    planes = np.zeros(1) if z_planes_nm is None else np.asarray(z_planes_nm, dtype=float)
    psfs = computed_psf(optics, modality, fine_nm, psf_px, np.concatenate([[0.0], -planes]))
    points_px = nm_to_px(positions_nm, fine_nm)

    def camera(fine: np.ndarray) -> np.ndarray:
        return block_mean(fine, oversample) * oversample**2

    centre = np.full((1, 2), float(nm_to_px((size_px // 2 + 0.5) * pixel_nm, fine_nm)))
    reference = camera(_render_points(centre, [1.0], psfs[0], size_px * oversample)).max()
    clean = np.stack(
        [
            camera(_render_points(points_px, brightness, psf, size_px * oversample))
            for psf in psfs[1:]
        ]
    )
    clean = np.clip(clean * (peak_photons / reference), 0, None) + background_photons
    image = rng.poisson(clean) + rng.normal(0, read_noise, clean.shape) + offset
    truth = pd.DataFrame(
        {
            "y_nm": positions_nm[:, 0],
            "x_nm": positions_nm[:, 1],
            "y_px": nm_to_px(positions_nm[:, 0], pixel_nm),
            "x_px": nm_to_px(positions_nm[:, 1], pixel_nm),
            "brightness": brightness,
        }
    )
    image = image.astype(np.float32)
    return (image[0] if z_planes_nm is None else image), truth

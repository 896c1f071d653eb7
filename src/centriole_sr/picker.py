"""A trained Topaz picker used outside the pipeline, as its picking stage uses it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from centriole_sr import io
from centriole_sr.restore import PLANE
from centriole_sr.settings import Reading

PathLike = str | os.PathLike


@dataclass
class Picker:
    """A trained Topaz picker with its calibration (threshold.json: threshold, rescorer, and
    the picking settings and pixel size it was trained with)."""

    model: Path
    calibration_path: Path
    settings: Any
    pixel_nm: float

    @classmethod
    def from_dir(cls, picker_dir: PathLike) -> Picker:
        """The picker of a training's folder (results/picking/<modality>: picker.sav and
        threshold.json)."""
        from centriole_sr.settings import Picking

        folder = Path(picker_dir)
        model, calibration_path = folder / "picker.sav", folder / "threshold.json"
        for path in (model, calibration_path):
            if not path.is_file():
                raise io.InputError(f"{path}: file not found; give a folder the pipeline's "
                                    "train_picker wrote (picker.sav, threshold.json)")  # fmt: skip
        try:
            calibration = io.read_json(calibration_path)
            settings = Picking.from_dict(calibration["picking"])
            pixel_nm = float(calibration["field_pixel_nm"])
        except (ValueError, KeyError, TypeError) as error:
            raise io.InputError(
                f"{calibration_path}: not a calibration of this version ({error}); retrain "
                "the picker with the pipeline"
            ) from error
        return cls(model, calibration_path, settings, pixel_nm)

    @property
    def factor(self) -> int:
        """Topaz's downsampling factor for fields of the picker's pixel size."""
        from centriole_sr.picking import downsample_factor

        return downsample_factor(self.pixel_nm, self.settings.pixel_nm)

    def pick_file(
        self,
        path: PathLike,
        output: PathLike,
        *,
        napari: PathLike | None = None,
        reading: Reading = PLANE,
        threads: int = 1,
        log: PathLike | None = None,
    ) -> None:
        """Pick one field file as the pipeline's picking stage does (MRC conversion, Topaz
        preprocessing and extraction, refinement, rescoring, threshold); write the pipeline's
        table to ``output`` and, with ``napari``, a napari points CSV."""
        import tempfile

        from centriole_sr.stages import picking

        with tempfile.TemporaryDirectory(prefix="centriole_sr_pick_") as work:
            mrc, preprocessed = Path(work) / "field.mrc", Path(work) / "preprocessed.mrc"
            picking.convert_to_mrc(
                image=path, pixel_nm=self.pixel_nm,
                saturate_percentile=self.settings.saturate_percentile, reading=reading,
                output=mrc, log=Path(work) / "convert.log",
            )  # fmt: skip
            picking.preprocess_for_topaz(
                mrc=mrc, factor=self.factor, gmm_sample=self.settings.gmm_sample,
                seed=self.settings.seed, output=preprocessed, log=Path(work) / "preprocess.log",
            )  # fmt: skip
            picking.pick_centrioles(
                model=self.model, threshold=self.calibration_path, image=preprocessed,
                field=path, factor=self.factor, pixel_nm=self.pixel_nm, settings=self.settings,
                reading=reading, threads=threads, output=output, napari=napari, log=log,
            )  # fmt: skip

"""What users call after training, without Snakemake.

    from centriole_sr.api import Picker, Restorer
    restorer = Restorer.from_dir("results/model")
    restored = restorer.restore(image, pixel_nm=90.0)  # (y, x) -> confocal grid, normalised
    restorer.restore_file("new/cell07.tif", "restored/cell07.ome.tif")
    Picker.from_dir("results/picking/widefield").pick_file("new/cell07.tif", "cell07.tsv")

The command line (:mod:`centriole_sr.cli`) runs these; so do the pipeline's restoration rules.
"""

from centriole_sr.picker import Picker
from centriole_sr.restore import Restorer

__all__ = ["Picker", "Restorer"]

"""Derive every sigma from the optics of both microscopes."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # noqa: F821  (works in any conda env)

from centriole_sr import pipeline  # noqa: E402

pipeline.psf_sigma(snakemake.params.optics, snakemake.output.sigma, snakemake.log[0])

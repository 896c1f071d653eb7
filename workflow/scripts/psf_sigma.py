"""Derive every sigma from the optics of both microscopes."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")  # the package, in any conda env

from centriole_sr import pipeline

pipeline.psf_sigma(snakemake.params.optics, snakemake.output.sigma, snakemake.log[0])

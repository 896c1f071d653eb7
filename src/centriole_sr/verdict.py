"""The report's first page: whether the network can be believed on this data set, in a
table, in words and in a figure (results/evaluation/verdict.csv and verdict.png)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from centriole_sr.figures import _display, _save, _show_whole, method_label, plt

CLASSICAL = {"bicubic": "bicubic", "richardson_lucy": "Richardson-Lucy", "wiener": "Wiener"}
"""The classical methods the network must beat, by their names in words."""


@dataclass
class Verdict:
    """The report's first page: per data set, the network's margin over each classical
    method; the trust map's summary; the domain gap; warnings in words."""

    margins: pd.DataFrame
    """dataset, method, psnr_margin_db, ssim_margin, count, beats (network - method)."""
    trust: pd.DataFrame
    """field, trust_spread, trust_spread_centrioles: most trusted (lowest spread) first."""
    domain_gap_db: float
    warnings: list[str]


def verdict(
    summary: pd.DataFrame,
    fields: pd.DataFrame,
    domain_gap: Mapping[str, Any],
    calibration: Mapping[str, Any],
    domain_gap_warning_db: float,
) -> Verdict:
    """Whether the network can be believed on this data set, from the :func:`summary_table`,
    the field tables (:data:`FIELD_COLUMNS`), domain_gap.json and model.json's calibration.

    The network beats a method on a data set when its mean PSNR and SSIM are both higher.
    Warnings: a data set where it does not; a domain gap above ``domain_gap_warning_db``;
    a calibration that could not be done; fields whose trust spread is over twice the
    median field's.
    """
    rows, warnings = [], []
    indexed = summary.set_index(["dataset", "method"])
    for dataset in dict.fromkeys(summary["dataset"]):
        if (dataset, "network") not in indexed.index:
            continue
        network = indexed.loc[(dataset, "network")]
        if not np.isfinite(network["psnr_db_mean"]):  # no reference: nothing to compare
            continue
        for method in CLASSICAL:
            if (dataset, method) not in indexed.index:
                continue
            other = indexed.loc[(dataset, method)]
            psnr = float(network["psnr_db_mean"] - other["psnr_db_mean"])
            ssim = float(network["ssim_mean"] - other["ssim_mean"])
            rows.append({"dataset": dataset, "method": method, "psnr_margin_db": psnr,
                         "ssim_margin": ssim, "count": int(network["psnr_db_count"]),
                         "beats": bool(psnr > 0 and ssim > 0)})  # fmt: skip
            if not rows[-1]["beats"]:
                warnings.append(
                    f"On {dataset} the network does not beat {CLASSICAL[method]}: "
                    f"PSNR {psnr:+.2f} dB, SSIM {ssim:+.3f}."
                )
    margins = pd.DataFrame(
        rows, columns=["dataset", "method", "psnr_margin_db", "ssim_margin", "count", "beats"]
    )
    if not any(margins["dataset"] == "widefield fields"):
        warnings.append(
            "No widefield field has a reference image: the network is judged on simulated "
            "pairs only (inputs.reference gives the fields' confocal images)."
        )
    network = fields[fields["method"] == "network"]
    trust = network[["field", "trust_spread", "trust_spread_centrioles"]].sort_values(
        "trust_spread", ignore_index=True
    )
    median = float(trust["trust_spread"].median()) if len(trust) else float("nan")
    for row in trust.itertuples():
        if median > 0 and row.trust_spread > 2 * median:
            warnings.append(
                f"{row.field} is trusted least: its trust spread {row.trust_spread:.4f} is "
                f"{row.trust_spread / median:.1f} x the median field's; look at its trust map."
            )
    gap_db = float(domain_gap.get("spectral_gap_db", float("nan")))
    if not np.isfinite(gap_db):
        warnings.append("No domain gap: no widefield patches to compare the training data with.")
    elif gap_db > domain_gap_warning_db:
        warnings.append(
            f"The training data do not resemble your widefield: the domain gap is {gap_db:.1f} "
            f"dB (above {domain_gap_warning_db:g} dB). Restorations may show dark rings or a "
            "lifted background; check the degradation settings (haze, blur, noise) against "
            "the degradation figure."
        )
    if calibration.get("status") == "not calibrated":
        warnings.append(f"The degradation is not calibrated: {calibration.get('reason', '')}.")
    return Verdict(margins, trust, gap_db, warnings)


def verdict_figure(
    verdict: Verdict,
    trusted: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: str | os.PathLike,
) -> None:
    """The report's first page: the verdict in words, the network's PSNR margin over each
    classical method per data set, and the most and least trusted fields (``trusted``: name
    -> (restoration, trust map), most trusted first) with their trust maps."""
    lines = []
    for dataset, group in verdict.margins.groupby("dataset", sort=False):
        beaten = [method_label(m) for m in group.loc[group["beats"], "method"]]
        count = int(group["count"].iloc[0])
        lines.append(
            f"{dataset} ({count}): the network beats "
            + (", ".join(beaten) if beaten else "none of the classical methods")
            + f" (PSNR {', '.join(f'{m:+.1f}' for m in group['psnr_margin_db'])} dB)"
        )
    lines.append(
        f"domain gap (degraded confocal against widefield): {verdict.domain_gap_db:.1f} dB"
    )
    if len(verdict.trust):
        lines.append(
            "trust spread per field: "
            + ", ".join(f"{r.field} {r.trust_spread:.4f}" for r in verdict.trust.itertuples())
        )
    warnings = [textwrap.fill("WARNING: " + w, 110) for w in verdict.warnings] or ["no warnings"]
    names = list(trusted)
    text_in = max(0.17 * (len(lines) + sum(w.count("\n") + 1 for w in warnings)) + 0.9,
                  0.32 * len(verdict.margins) + 0.9)  # fmt: skip
    gallery_in = 3.0 if names else 0.0
    figure = plt.figure(figsize=(13, text_in + gallery_in), layout="constrained")
    parts = figure.subfigures(2, 1, height_ratios=(text_in, gallery_in)) if names else [figure]
    text_axis = parts[0]
    top = text_axis.subplots(1, 2, width_ratios=(2.2, 1))
    top[0].set_axis_off()
    body = "\n".join(lines) + "\n\n" + "\n".join(warnings)
    top[0].text(0, 1, body, va="top", ha="left", fontsize=9, family="monospace",
                color="black" if not verdict.warnings else "darkred")  # fmt: skip
    top[0].set_title("Verdict: can the restorations be believed?", loc="left", fontsize=12)
    margins = verdict.margins
    if len(margins):
        pairs = zip(margins["dataset"], margins["method"], strict=True)
        labels = [f"{dataset[:24]}\n{method_label(method)}" for dataset, method in pairs]
        colours = ["tab:green" if b else "tab:red" for b in margins["beats"]]
        top[1].barh(range(len(margins)), margins["psnr_margin_db"], color=colours)
        top[1].set_yticks(range(len(margins)), labels, fontsize=7)
        top[1].invert_yaxis()
        top[1].axvline(0, color="black", linewidth=0.8)
        top[1].set_xlabel("network − method, PSNR (dB)")
    else:
        top[1].set_axis_off()
    if names:
        axes = parts[1].subplots(1, 2 * len(names), squeeze=False)[0]
        top_spread = max(float(np.percentile(m, 99.9)) for _, m in trusted.values())
        for index, name in enumerate(names):
            restored, trust_map = trusted[name]
            kind = "most trusted" if index == 0 else "least trusted"
            _show_whole(axes[2 * index], _display(restored), cmap="gray")
            axes[2 * index].set_title(f"{name} ({kind})", fontsize=9)
            shown = _show_whole(axes[2 * index + 1], trust_map, cmap="magma", vmin=0,
                                vmax=top_spread)  # fmt: skip
            axes[2 * index + 1].set_title("its trust map (one scale)", fontsize=9)
            figure.colorbar(shown, ax=axes[2 * index + 1], fraction=0.046)
        for axis in axes:
            axis.set_axis_off()
    _save(figure, path)

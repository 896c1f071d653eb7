"""Figures for the report (matplotlib, written atomically as PNG)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from centriole_sr.calibration import Calibration  # noqa: E402
from centriole_sr.degrade import block_mean  # noqa: E402
from centriole_sr.io import atomic_path, normalize_percentile  # noqa: E402
from centriole_sr.picking import matched_pairs  # noqa: E402
from centriole_sr.quality import Consistency  # noqa: E402

DISPLAY_PERCENTILES = (0.5, 99.95)
WHOLE_FIELD_DISPLAY_PX = 512

# How tables name the methods (keys) and how figures show them (values).
METHOD_LABELS = {
    "widefield_input": "widefield input",
    "bicubic": "widefield (bicubic)",
    "richardson_lucy": "Richardson-Lucy",
    "wiener": "Wiener",
    "network": "network",
    "confocal_acquisition": "confocal acquisition",
    "noise_free_confocal": "noise-free confocal",
    "reference": "reference (noise-free confocal)",
}


def method_label(method: str, rl_iterations: int | None = None) -> str:
    """The figure label of a method key; Richardson-Lucy with its iterations when given."""
    label = METHOD_LABELS.get(method, method)
    if method == "richardson_lucy" and rl_iterations is not None:
        label += f" ({rl_iterations} it.)"
    return label


def _save(figure: plt.Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


def _display(image: np.ndarray) -> np.ndarray:
    """Percentile-normalised and clipped to [0, 1]: the same contrast rule for every panel."""
    return np.clip(normalize_percentile(image, *DISPLAY_PERCENTILES), 0.0, 1.0)


def _show_whole(axis: plt.Axes, image: np.ndarray, **style) -> matplotlib.image.AxesImage:
    """Draw a whole field, averaged down to at most ~512 pixels a side (a panel shows fewer;
    drawing the full array only slows the PNG down), in the full image's pixel coordinates."""
    factor = max(1, max(image.shape) // WHOLE_FIELD_DISPLAY_PX)
    height, width = image.shape
    return axis.imshow(
        block_mean(image, factor) if factor > 1 else image,
        extent=(-0.5, width - 0.5, height - 0.5, -0.5),
        **style,
    )


def _display_inset(crop: np.ndarray) -> np.ndarray:
    """An inset scaled from its 0.5th percentile to its maximum, so nothing saturates."""
    return np.clip(normalize_percentile(crop, DISPLAY_PERCENTILES[0], 100.0), 0.0, 1.0)


def picks_figure(
    image: np.ndarray,
    picks: pd.DataFrame,
    truth: pd.DataFrame,
    radius_px: float,
    title: str,
    path: str | os.PathLike,
) -> None:
    """A field with its picks and true centres, matched one-to-one within ``radius_px`` as
    the picking table counts them: matched picks, false picks and missed centres."""
    picks_yx = picks[["y_px", "x_px"]].to_numpy(float).reshape(-1, 2)
    truth_yx = truth[["y_px", "x_px"]].to_numpy(float).reshape(-1, 2)
    pick_index, truth_index = matched_pairs(picks_yx, truth_yx, radius_px)
    pick_matched = np.isin(np.arange(len(picks_yx)), pick_index)
    truth_found = np.isin(np.arange(len(truth_yx)), truth_index)
    figure, axis = plt.subplots(figsize=(8, 8))
    axis.imshow(np.sqrt(_display(image)), cmap="gray")  # square root: dim centrioles show
    for points, style, label in (
        (picks_yx[pick_matched], dict(marker="o", s=160, facecolors="none", edgecolors="lime"),
         "pick on a centriole"),
        (picks_yx[~pick_matched], dict(marker="o", s=160, facecolors="none", edgecolors="red"),
         "pick elsewhere"),
        (truth_yx[~truth_found], dict(marker="x", s=60, c="yellow"), "centriole missed"),
    ):  # fmt: skip
        axis.scatter(points[:, 1], points[:, 0], linewidths=1.2, label=label, **style)
    axis.legend(loc="upper right", fontsize=8, framealpha=0.7)
    axis.set_title(title)
    axis.set_axis_off()
    _save(figure, path)


def precision_recall_figure(
    curve: pd.DataFrame,
    threshold: float,
    evaluated: dict[str, float] | None,
    title: str,
    path: str | os.PathLike,
    evaluated_on: str = "all fields",
) -> None:
    """The picker's precision-recall curve on its labelled fields (expected from the clicks),
    the chosen ``threshold`` marked on it, and the precision and recall ``evaluated`` against
    the truth on ``evaluated_on`` (if any)."""
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot(curve["recall"], curve["precision"], color="tab:blue",
              label="labelled fields, expected")  # fmt: skip
    if not curve.empty:
        chosen = curve.iloc[(curve["threshold"] - threshold).abs().argmin()]
        axis.scatter(chosen["recall"], chosen["precision"], s=80, c="tab:red", zorder=3,
                     label=f"threshold {threshold:.2f} (F1 {chosen['f1']:.3f})")  # fmt: skip
    if evaluated is not None:
        axis.scatter(evaluated["recall"], evaluated["precision"], s=80, marker="s",
                     facecolors="none", edgecolors="k", zorder=3,
                     label=f"{evaluated_on}, measured (F1 {evaluated['f1']:.3f})")  # fmt: skip
    axis.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    axis.legend(loc="lower left", fontsize=8)
    axis.grid(alpha=0.3)
    _save(figure, path)


def gallery_figure(
    panels: dict[str, np.ndarray],
    picks: pd.DataFrame,
    scale: float,
    pixel_nm: float,
    field: str,
    path: str | os.PathLike,
    insets: int = 3,
    inset_px: int = 48,
    note: str = "",
) -> None:
    """Whole-field panels side by side, with zoomed insets around the best-scored picks.

    All panels share the confocal pixel grid (``scale`` of its pixels per side of a pick's
    widefield pixel), a scale bar and the same contrast rule;
    ``note`` is added to the title (what is missing, for example).
    """
    names = list(panels)
    height, width = panels[names[0]].shape
    picks = picks.sort_values("score", ascending=False) if "score" in picks else picks
    centres = [
        (int(y * scale + scale / 2), int(x * scale + scale / 2))
        for y, x in picks[["y_px", "x_px"]].to_numpy()
        if inset_px <= y * scale < height - inset_px and inset_px <= x * scale < width - inset_px
    ][:insets]
    rows = 1 + len(centres)
    figure, axes = plt.subplots(
        rows, len(names), figsize=(2.6 * len(names), 2.6 * rows + 0.4), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    half = inset_px // 2
    bar_um = 5 if width * pixel_nm > 20_000 else 1  # a visible bar on large fields
    bar_px = bar_um * 1000 / pixel_nm
    for column, name in enumerate(names):
        shown = _display(panels[name])
        _show_whole(axes[0, column], shown, cmap="magma")
        axes[0, column].set_title(name, fontsize=9)
        axes[0, column].add_patch(
            Rectangle((width * 0.05, height * 0.93), bar_px, height * 0.012, color="white")
        )
        for row, (y, x) in enumerate(centres, start=1):
            axes[0, column].add_patch(
                Rectangle((x - half, y - half), inset_px, inset_px, fill=False, color="cyan")
            )
            crop = panels[name][y - half : y + half, x - half : x + half]
            axes[row, column].imshow(_display_inset(crop), cmap="magma", vmin=0, vmax=1)
            axes[row, column].add_patch(
                Rectangle((2, inset_px - 4), 250 / pixel_nm, 1.2, color="white")
            )
    for axis in axes.ravel():
        axis.set_axis_off()
    if not centres:
        note = "; ".join(filter(None, [note, "no picks to zoom on"]))
    title = f"{field}: scale bars {bar_um} µm (field) and 250 nm (insets)"
    figure.suptitle(f"{title}\n{note}" if note else title, fontsize=10)
    _save(figure, path)


def maps_figure(
    consistency: dict[str, Consistency],
    errors: dict[str, tuple[np.ndarray, np.ndarray]],
    threshold_sigma: float,
    field: str,
    path: str | os.PathLike,
    trust_map: np.ndarray | None = None,
    network: str = "network",
) -> None:
    """Per method (columns): the data-consistency map with its invented regions outlined,
    the ``network``'s ``trust_map`` (its column only) and, where a reference exists, the
    error and SSIM maps against it (rows)."""
    names = list(consistency)
    rows = [("consistency", "re-degraded − widefield\n(noise s.d.)", "RdBu_r", -10, 10)]
    if trust_map is not None:
        top = max(float(np.percentile(trust_map, 99.9)), 1e-6)
        rows.append(("trust", "trust map: ensemble spread\n(restoration's range)", "magma", 0,
                     top))  # fmt: skip
    if errors:
        rows += [("error", "error vs reference\n(target range)", "RdBu_r", -0.25, 0.25),
                 ("ssim", "local SSIM\nvs reference", "viridis", 0, 1)]  # fmt: skip
    figure, axes = plt.subplots(
        len(rows), len(names), figsize=(2.6 * len(names) + 0.8, 2.7 * len(rows) + 0.4),
        squeeze=False, layout="constrained",
    )  # fmt: skip
    for row, (kind, label, cmap, low, high) in enumerate(rows):
        for column, name in enumerate(names):
            axis = axes[row, column]
            axis.set_axis_off()
            if kind == "consistency":
                check = consistency[name]
                shown = _show_whole(axis, check.error_map, cmap=cmap, vmin=low, vmax=high)
                if check.invented.any():
                    axis.contour(check.invented, levels=[0.5], colors="black", linewidths=0.6)
                axis.set_title(
                    f"{name}\nRSE {check.rse:.3f}, RSP {check.rsp:.3f}\n"
                    f"{check.invented_regions} regions > {threshold_sigma:g} s.d.",
                    fontsize=8,
                )
            elif kind == "trust":
                if name != network:
                    continue
                shown = _show_whole(axis, trust_map, cmap=cmap, vmin=low, vmax=high)
                axis.set_title(f"{name}: trust map, mean {trust_map.mean():.4f}", fontsize=8)
            elif name in errors:
                image = errors[name][0 if kind == "error" else 1]
                shown = _show_whole(axis, image, cmap=cmap, vmin=low, vmax=high)
        figure.colorbar(shown, ax=list(axes[row]), fraction=0.015, pad=0.02).set_label(
            label, fontsize=8
        )
    note = "" if errors else " (no reference image: error and SSIM maps need one)"
    figure.suptitle(f"{field}: checks against the widefield input{note}", fontsize=10)
    _save(figure, path)


SUMMARY_AXES = {
    "psnr_db": "PSNR (dB), higher is better",
    "ssim": "SSIM, higher is better",
    "resolution_nm": "resolution (nm, decorrelation), lower is finer",
}


def summary_figure(summary: pd.DataFrame, history: pd.DataFrame, path: str | os.PathLike) -> None:
    """Mean ± std of PSNR, SSIM and resolution per method (one row each) and data set, and
    the training curves. Axes span the data, not zero: the differences between methods are
    what matters."""
    figure, axes = plt.subplots(1, 4, figsize=(19, 4.4), width_ratios=(1, 1, 1, 1.1))
    methods = [m for m in METHOD_LABELS if m in set(summary["method"])]
    methods += sorted(set(summary["method"]) - set(methods))
    datasets = list(dict.fromkeys(summary["dataset"]))
    offsets = np.linspace(-0.15, 0.15, len(datasets)) if len(datasets) > 1 else [0.0]
    for axis, metric in zip(axes[:3], ("psnr_db", "ssim", "resolution_nm"), strict=True):
        for index, (offset, dataset) in enumerate(zip(offsets, datasets, strict=True)):
            rows = summary[summary["dataset"] == dataset].set_index("method")
            if f"{metric}_mean" not in rows:
                continue
            shown = [m for m in methods if m in rows.index]
            axis.errorbar(
                rows.loc[shown, f"{metric}_mean"],
                [methods.index(m) + offset for m in shown],
                xerr=rows.loc[shown, f"{metric}_std"],
                fmt="o", capsize=3, color=f"C{index}", label=dataset,
            )  # fmt: skip
        axis.set_yticks(range(len(methods)), [METHOD_LABELS.get(m, m) for m in methods])
        axis.invert_yaxis()
        axis.grid(axis="x", alpha=0.3)
        axis.set_xlabel(SUMMARY_AXES[metric])
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(datasets), frameon=False)
    axes[1].tick_params(labelleft=False)
    axes[2].tick_params(labelleft=False)
    axes[3].plot(history["epoch"], history["train_loss"], label="training L1")
    axes[3].plot(history["epoch"], history["val_loss"], label="validation L1")
    axes[3].set_xlabel("epoch")
    axes[3].set_ylabel("L1 loss")
    axes[3].legend()
    axes[3].set_title("training curves")
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    _save(figure, path)


def degradation_figure(
    targets: np.ndarray,
    inputs: np.ndarray,
    widefield: np.ndarray,
    path: str | os.PathLike,
    examples: int = 6,
) -> None:
    """Rows: confocal patches, their degraded versions, and real widefield patches to compare."""
    rows = {
        "confocal patch (target)": targets[:examples],
        "degraded (network input)": inputs[:examples],
        "real widefield patch"
        if len(widefield)
        else "real widefield patch: none (not picked)": widefield[:examples],
    }
    figure, axes = plt.subplots(3, examples, figsize=(1.8 * examples, 6), squeeze=False)
    for row, (name, images) in enumerate(rows.items()):
        for column in range(examples):
            axis = axes[row, column]
            axis.set_axis_off()
            if column < len(images):
                axis.imshow(_display_inset(images[column]), cmap="magma", vmin=0, vmax=1)
        axes[row, 0].set_title(name, fontsize=9, loc="left")
    figure.tight_layout()
    _save(figure, path)


def domain_gap_figure(
    frequency_per_um: np.ndarray,
    power_degraded: np.ndarray,
    power_widefield: np.ndarray,
    gap: dict[str, float],
    path: str | os.PathLike,
) -> None:
    """Mean power spectra of degraded confocal and real widefield patches, their ratio, and
    the patches' background and noise."""
    figure, axes = plt.subplots(1, 3, figsize=(14, 3.8), width_ratios=(1.2, 1.2, 0.8),
                                layout="constrained")  # fmt: skip
    shown = slice(1, None)  # DC carries no shape
    axes[0].semilogy(frequency_per_um[shown], power_widefield[shown], label="real widefield")
    axes[0].semilogy(frequency_per_um[shown], power_degraded[shown], label="degraded confocal")
    axes[0].set_xlabel("spatial frequency (cycles/µm)")
    axes[0].set_ylabel("mean power")
    axes[0].legend()
    axes[0].set_title("radial power spectra of the patches")
    ratio_db = 10 * np.log10(power_degraded[shown] / power_widefield[shown])
    axes[1].axhline(0, color="grey", linewidth=0.8)
    axes[1].plot(frequency_per_um[shown], ratio_db, color="C3")
    axes[1].set_xlabel("spatial frequency (cycles/µm)")
    axes[1].set_ylabel("degraded / real (dB)")
    axes[1].set_title(f"domain gap: {gap['spectral_gap_db']:.2f} dB (RMS)")
    names = ("background", "noise")
    x = np.arange(len(names))
    axes[2].bar(x - 0.2, [gap[f"widefield_{n}"] for n in names], 0.4, label="real widefield")
    axes[2].bar(x + 0.2, [gap[f"degraded_{n}"] for n in names], 0.4, label="degraded confocal")
    axes[2].set_xticks(x, names)
    axes[2].set_ylabel("fraction of the patch's range")
    axes[2].set_title("per patch (median)")
    axes[2].legend(fontsize=8)
    _save(figure, path)


def calibration_figure(fitted: Calibration, path: str | os.PathLike) -> None:
    """The degradation's fit on the widefield fields: the mean profile around centrioles,
    the field intensity percentiles and the power spectra of windows around centrioles, of
    the real widefield and of degraded confocal before and after the fit."""
    from centriole_sr.calibration import FIELD_PERCENTILES
    from centriole_sr.quality import radial_power_spectrum

    figure, axes = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
    curves = (("real widefield", fitted.widefield, "k"), ("degraded, before", fitted.before, "C1"),
              ("degraded, fitted", fitted.after, "C0"))  # fmt: skip
    for label, features, colour in curves:
        axes[0].plot(fitted.radius_nm, features.profile, color=colour, label=label)
        axes[1].plot(FIELD_PERCENTILES, features.percentiles, "o-", color=colour, label=label)
        frequency, power = radial_power_spectrum(features.windows)
        pixel_nm = fitted.radius_nm[1]
        axes[2].semilogy(frequency[1:] * 1000 / pixel_nm, power[1:], color=colour, label=label)
    start, end = fitted.start, fitted.degradation
    axes[0].set_title(
        f"around centrioles: haze {start.haze_fraction:.2g} → {end.haze_fraction:.2g}, "
        f"blur ×{end.sigma_px / start.sigma_px:.2f}",
        fontsize=10,
    )
    axes[0].set_xlabel("distance from the centre (nm)")
    axes[0].set_ylabel("normalised intensity (whole field)")
    axes[0].legend(fontsize=8)
    axes[1].set_title(f"field intensities: mismatch {fitted.cost_before:.2g} → {fitted.cost:.2g}",
                      fontsize=10)  # fmt: skip
    axes[1].set_xlabel("percentile of the field")
    axes[1].set_ylabel("normalised intensity")
    axes[2].set_title(
        f"spectra: domain gap {fitted.spectral_gap_before_db:.2f} → "
        f"{fitted.spectral_gap_after_db:.2f} dB",
        fontsize=10,
    )
    axes[2].set_xlabel("spatial frequency (cycles/µm)")
    axes[2].set_ylabel("mean power")
    _save(figure, path)


def beads_figure(
    image: np.ndarray, table: pd.DataFrame, summary: dict, title: str, path: str | os.PathLike
) -> None:
    """A bead image with its accepted (green) and rejected (red) beads, and the fitted widths."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.6), width_ratios=(1, 1.2),
                                layout="constrained")  # fmt: skip
    plane = image[int(table["z_plane"].iloc[0])] if image.ndim == 3 and len(table) else image
    plane = plane.max(axis=0) if plane.ndim == 3 else plane
    _show_whole(axes[0], _display(plane))
    accepted = table["accepted"].astype(bool)
    for chosen, colour in ((accepted, "lime"), (~accepted, "red")):
        axes[0].scatter(table.loc[chosen, "x_px"], table.loc[chosen, "y_px"], s=80,
                        facecolors="none", edgecolors=colour, linewidths=1)  # fmt: skip
    axes[0].set_title(f"{title}: {int(accepted.sum())} of {len(table)} beads accepted")
    bins = np.linspace(table["sigma_nm"].min() - 1, table["sigma_nm"].max() + 1, 30)
    axes[1].hist(table.loc[accepted, "sigma_nm"], bins, color="C2", label="accepted")
    axes[1].hist(table.loc[~accepted, "sigma_nm"], bins, color="C3", label="rejected")
    axes[1].axvline(summary["sigma_nm"], color="k", linestyle="--",
                    label=f"median {summary['sigma_nm']:.1f} nm")  # fmt: skip
    axes[1].set_xlabel("fitted Gaussian σ (nm)")
    axes[1].set_ylabel("beads")
    axes[1].legend()
    _save(figure, path)


def message_figure(message: str, path: str | os.PathLike) -> None:
    """A figure that says why there is nothing to draw, in place of the missing one."""
    figure, axis = plt.subplots(figsize=(8, 1.5))
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    axis.set_axis_off()
    _save(figure, path)

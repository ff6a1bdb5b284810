"""The "which architecture?" panel: what the completed runs say, and what to try next."""

from __future__ import annotations

import math

import pandas as pd

from seqlab.analysis import words
from seqlab.analysis.frames import completed, config_columns, require_columns
from seqlab.analysis.stats import MIN_SEEDS, compare_groups
from seqlab.analysis.sweeps import sweep_families, sweep_table
from seqlab.experiments import SWEEPABLE

# Two architectures closer than this in best validation accuracy are "tied"
# for the advice panel: on small validation sets it is about one example in 100.
CLOSE_ACCURACY = 0.01


def advice(summary: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    """Returns the "which architecture?" panel, computed from completed runs.

    Every line quotes numbers from the runs: rankings by best validation
    accuracy, seconds per epoch and parameters; the trade-off between the
    fastest and the most accurate architecture; overfitting and still-falling
    validation losses; and the experiment that would settle an open question
    (seeds for a near tie, a sweep for a setting tried at one value only).
    With runs on several datasets, each dataset gets its own lines.

    Args:
        summary: `run_summary_table(...)`.
        curves: `curves_table(...)` of the same runs.

    Returns:
        Sentences; a single "no completed runs yet" line when nothing has
        finished.

    Raises:
        ValueError: if `summary` lacks a needed column.
    """
    require_columns(summary, ["run_id", "arch", "status", "best_val_accuracy", "seconds_per_epoch"], "summary")
    done = completed(summary)
    if done.empty:
        return [words.NO_COMPLETED_RUNS]
    datasets = done["dataset"].fillna("?") if "dataset" in done else pd.Series("", index=done.index)
    names = datasets.unique()
    lines = []
    for name in names:
        prefix = words.dataset_prefix(name) if len(names) > 1 else ""
        part = done[datasets == name]
        lines.extend(prefix + line for line in _advice_for(part, curves))
    return lines


def _advice_for(runs: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    """The advice lines for completed runs of one dataset."""
    for column in ("num_params", "overfit_epoch", "best_epoch", "epochs_run"):
        if column not in runs:
            runs = runs.assign(**{column: math.nan})
    per_arch = runs.groupby("arch").agg(
        accuracy=("best_val_accuracy", "max"),
        seconds=("seconds_per_epoch", "median"),
        parameters=("num_params", "median"),
        n_runs=("run_id", "size"),
    ).sort_values("accuracy", ascending=False)
    lines = []
    if len(per_arch) == 1:
        arch = per_arch.index[0]
        others = [a for a in ("lstm", "gru", "transformer", "baseline") if a != arch][:2]
        lines.append(words.only_one_architecture(arch, per_arch["accuracy"].iloc[0],
                                                 per_arch["n_runs"].iloc[0], others))
    else:
        lines.append(words.ranking("best validation accuracy", per_arch["accuracy"], "{:.3f}"))
        speed = per_arch["seconds"].dropna().sort_values()
        if len(speed) > 1:
            lines.append(words.ranking("seconds per epoch", speed, "{:.2f}"))
        size = per_arch["parameters"].dropna().sort_values()
        if len(size) > 1:
            lines.append(words.ranking("parameters", size.map(words.count_text), "{}"))
        lines.extend(_trade_off(per_arch))
        lines.extend(_close_call(runs, per_arch))
        lines.extend(_sweep_lines(runs))
    lines.extend(_overfitting_lines(runs))
    lines.extend(_still_improving_lines(runs, curves))
    lines.extend(_untried_settings(runs))
    return lines


def _trade_off(per_arch: pd.DataFrame) -> list[str]:
    speed = per_arch["seconds"].dropna()
    if len(speed) < 2:
        return []
    most_accurate = per_arch.index[0]
    fastest = speed.idxmin()
    if fastest == most_accurate:
        second = per_arch.index[1]
        best, close = per_arch["accuracy"].iloc[0], per_arch["accuracy"].iloc[1]
        if best - close < CLOSE_ACCURACY and second in speed:
            return [words.tied_but_faster(fastest, second, best, close, speed[second] / speed[fastest])]
        runner_up = speed.drop(fastest).idxmin()
        return [words.most_accurate_and_fastest(fastest, runner_up, speed[runner_up] / speed[fastest])]
    if most_accurate not in speed:
        return []
    ratio = speed[most_accurate] / speed[fastest]
    fast_accuracy = per_arch.loc[fastest, "accuracy"]
    best_accuracy = per_arch.loc[most_accurate, "accuracy"]
    tied = best_accuracy - fast_accuracy < CLOSE_ACCURACY
    return [words.faster_trade_off(fastest, most_accurate, ratio, fast_accuracy, best_accuracy, tied)]


def _close_call(runs: pd.DataFrame, per_arch: pd.DataFrame) -> list[str]:
    """Settles, or says how to settle, the race between the two leading architectures.

    Only seeds of one recipe are compared (each architecture's best one):
    runs that differ in a setting, such as the points of a sweep, are not
    seed-to-seed noise.
    """
    first, second = per_arch.index[:2]
    gap = per_arch.loc[first, "accuracy"] - per_arch.loc[second, "accuracy"]
    values = {arch: _best_recipe(runs[runs["arch"] == arch])["best_val_accuracy"] for arch in (first, second)}
    if min(len(values[first]), len(values[second])) >= MIN_SEEDS:
        result = compare_groups(values[first], values[second], labels=(first, second))
        return [words.verdict_sentence(result, (first, second))]
    if gap < CLOSE_ACCURACY:
        return [words.near_tie(first, second, gap, MIN_SEEDS, len(values[first]), len(values[second]))]
    return []


def _best_recipe(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs sharing every config setting (all but the seed) with the most accurate run."""
    columns = config_columns(runs, seed=False)
    settings = runs[columns].astype(str)
    best = settings.loc[runs["best_val_accuracy"].idxmax()]
    return runs[settings.eq(best).all(axis=1)]


def _sweep_lines(runs: pd.DataFrame) -> list[str]:
    """Reads each sweep of several architectures point by point: who leads where, and the cost."""
    lines = []
    for vary in SWEEPABLE:
        for run_ids in sweep_families(runs, vary):
            table = sweep_table(runs[runs["run_id"].isin(run_ids)], vary)
            if table["arch"].nunique() < 2:
                continue
            points = []
            for value, point in table.groupby("value", sort=True):
                if len(point) < 2:
                    continue
                lead, runner_up = point.sort_values("val_accuracy", ascending=False).iloc[:2].itertuples()
                tie = lead.val_accuracy - runner_up.val_accuracy < CLOSE_ACCURACY
                points.append(words.sweep_point(value, lead.arch, lead.val_accuracy, runner_up.arch,
                                                runner_up.val_accuracy, tie))
            if not points:
                continue
            lines.append(words.along_sweep(vary, points))
            costs = []
            for arch, part in table.dropna(subset=["seconds_per_epoch"]).groupby("arch", sort=False):
                low, high = part.iloc[0], part.iloc[-1]
                if len(part) > 1 and low["seconds_per_epoch"] > 0:
                    costs.append((arch, low["seconds_per_epoch"], high["seconds_per_epoch"]))
            if costs:
                lines.append(words.sweep_costs(vary, table["value"].min(), table["value"].max(), costs))
            if table["n_runs"].max() < MIN_SEEDS:
                lines.append(words.sweep_needs_seeds(vary, table["n_runs"].max(), MIN_SEEDS))
    return lines


def _overfitting_lines(runs: pd.DataFrame) -> list[str]:
    lines = []
    for arch, part in runs.groupby("arch"):
        onsets = part["overfit_epoch"].dropna()
        if onsets.empty:
            continue
        lines.append(words.overfitting_advice(arch, int(onsets.min()), len(onsets), len(part)))
    return lines


def _still_improving_lines(runs: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    """Runs whose validation loss was lowest at their last epoch could use more epochs."""
    if curves is None or curves.empty:
        return []
    validation = curves[
        (curves["split"] == "validation") & (curves["metric"] == "loss") & curves["run_id"].isin(runs["run_id"])
    ].sort_values(["run_id", "epoch"], kind="stable")
    if validation.empty:
        return []
    lowest = validation.loc[validation.groupby("run_id", sort=False)["value"].idxmin(), ["run_id", "epoch"]]
    last = validation.groupby("run_id", sort=False)["epoch"].max()
    improving = lowest[(lowest["epoch"].to_numpy() == last.loc[lowest["run_id"]].to_numpy()) & (lowest["epoch"] > 1).to_numpy()]
    arch_of = runs.set_index("run_id")["arch"]
    lines = []
    for arch, part in improving.groupby(improving["run_id"].map(arch_of)):
        total = int((runs["arch"] == arch).sum())
        lines.append(words.still_improving_advice(arch, [int(epoch) for epoch in part["epoch"]], total))
    return lines


def _untried_settings(runs: pd.DataFrame) -> list[str]:
    lines = []
    for column, name in (("data.sequence_length", "sequence length"), ("train.learning_rate", "learning rate")):
        if column in runs and runs[column].nunique() == 1:
            lines.append(words.untried_setting(name, column, runs[column].iloc[0]))
    return lines

"""Every sentence the analysis shows a user, built in one place from numbers.

The other analysis modules compute; the functions here say what the
numbers mean, in the plain words the pages show.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def count_text(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def mean_std_text(mean: float, std: float, digits: int) -> str:
    if pd.isna(mean):
        return "—"
    if pd.isna(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def setting_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def early_stopping_sentence(result: dict[str, Any]) -> str:
    accuracy = result["val_accuracy_at_stop"]
    accuracy_text = "" if math.isnan(accuracy) else f" with validation accuracy {accuracy:.3f}"
    patience = result["patience"]
    if result["stopped"]:
        return (
            f"with patience {patience}, training would have stopped at epoch "
            f"{result['stopped_epoch']}{accuracy_text} (best epoch {result['best_epoch']})"
        )
    return (
        f"with patience {patience}, training would have run all {result['recorded_epochs']} "
        f"recorded epochs{accuracy_text} (best epoch {result['best_epoch']})"
    )


def full_sentence(clause: str) -> str:
    """Ends a clause (as the analysis returns them, to join into lists) with a full stop."""
    return clause if clause.endswith(".") else clause + "."


def verdict_sentence(result: dict[str, Any], labels: tuple[str, str] = ("A", "B"),
                     metric_name: str = "validation accuracy") -> str:
    """Says a `stats.compare_groups` result in words (no final full stop).

    Args:
        result: what `stats.compare_groups` returned.
        labels: names of the two groups, in the order compared.
        metric_name: words for the metric.

    Returns:
        "gru is ahead of lstm on validation accuracy by 0.100 (95% interval
        ...): larger than the seed-to-seed noise (3 and 3 seeds)", a "within
        seed-to-seed noise" sentence, or the "too few seeds" one.
    """
    n_a, n_b = result["n_a"], result["n_b"]
    if result["significant"] is None:
        return (f"too few seeds to tell: run at least {result['min_seeds']} seeds of each "
                f"(currently {n_a} and {n_b})")
    difference, low, high = result["difference"], result["low"], result["high"]
    percent = f"{result['confidence'] * 100:g}%"
    if result["significant"]:
        a_ahead = (difference > 0) == result["higher_is_better"]
        leader, follower = (labels[0], labels[1]) if a_ahead else (labels[1], labels[0])
        # Report the interval for the leader's lead, so both ends read as positive.
        lead_low, lead_high = (low, high) if difference > 0 else (-high, -low)
        return (f"{leader} is ahead of {follower} on {metric_name} by {abs(difference):.3f} "
                f"({percent} interval {lead_low:.3f} to {lead_high:.3f}): larger than the "
                f"seed-to-seed noise ({n_a} and {n_b} seeds)")
    return (f"{labels[0]} vs {labels[1]} on {metric_name}: the difference {difference:.3f} "
            f"({percent} interval {low:.3f} to {high:.3f}) is within seed-to-seed noise "
            f"({n_a} and {n_b} seeds)")


# ------------------------------------------------------------------ advice
NO_COMPLETED_RUNS = ("no completed runs yet: train a run (or a preset on the home page) and its "
                     "numbers will show here")


def dataset_prefix(dataset: str) -> str:
    """The start of an advice line about one of several datasets."""
    return f"On {dataset}: "


def ranking(what: str, values: pd.Series, value_format: str) -> str:
    """"best validation accuracy: gru 0.850, lstm 0.820" from values indexed by architecture."""
    return f"{what}: " + ", ".join(f"{arch} {value_format.format(value)}" for arch, value in values.items())


def only_one_architecture(arch: str, accuracy: float, num_runs: int, others: list[str]) -> str:
    return (f"only {arch} trained so far (best validation accuracy {accuracy:.3f} over {num_runs} "
            f"run(s)): queue {' and '.join(others)} on the same data to compare architectures")


def tied_but_faster(fastest: str, second: str, best: float, close: float, ratio: float) -> str:
    return (f"{fastest} and {second} reached about the same best validation accuracy "
            f"({best:.3f} vs {close:.3f}); {fastest} trained {ratio:.1f}x faster per epoch")


def most_accurate_and_fastest(arch: str, runner_up: str, ratio: float) -> str:
    return f"{arch} is both the most accurate and the fastest: {ratio:.1f}x faster per epoch than {runner_up}"


def faster_trade_off(fastest: str, most_accurate: str, ratio: float, fast_accuracy: float,
                     best_accuracy: float, tied: bool) -> str:
    """The fastest architecture against the most accurate one."""
    if tied:
        outcome = f"and reached about the same validation accuracy ({fast_accuracy:.3f} vs {best_accuracy:.3f})"
    else:
        outcome = (f"but reached {best_accuracy - fast_accuracy:.3f} lower validation accuracy "
                   f"({fast_accuracy:.3f} vs {best_accuracy:.3f})")
    return f"{fastest} trained {ratio:.1f}x faster per epoch than {most_accurate} {outcome}"


def near_tie(first: str, second: str, gap: float, min_seeds: int, n_first: int, n_second: int) -> str:
    return (f"{first} and {second} are within {gap:.3f} of each other: repeat each over "
            f"{min_seeds} seeds to tell them apart (currently {n_first} and {n_second} runs of "
            f"each one's best settings)")


def sweep_point(value: Any, lead: str, lead_accuracy: float, runner_up: str, runner_up_accuracy: float,
                tie: bool) -> str:
    """Who leads at one point of a sweep."""
    if tie:
        return f"at {setting_text(value)} {lead} and {runner_up} tie ({lead_accuracy:.3f})"
    return (f"at {setting_text(value)} {lead} leads {runner_up} "
            f"({lead_accuracy:.3f} vs {runner_up_accuracy:.3f})")


def along_sweep(vary: str, points: list[str]) -> str:
    return f"along {vary}: " + "; ".join(points)


def sweep_costs(vary: str, low_value: Any, high_value: Any, costs: list[tuple[str, float, float]]) -> str:
    """How seconds per epoch grow along a sweep: costs are (arch, seconds at low, seconds at high)."""
    parts = [f"{arch} {low:.2f} to {high:.2f} ({high / low:.1f}x)" for arch, low, high in costs]
    return (f"seconds per epoch from {vary} {setting_text(low_value)} to {setting_text(high_value)}: "
            + ", ".join(parts))


def sweep_needs_seeds(vary: str, runs_per_point: int, min_seeds: int) -> str:
    return (f"the {vary} sweep has {runs_per_point} run(s) per point: repeat it with {min_seeds} "
            f"seeds per point to see which of these gaps exceed the seed-to-seed noise")


def overfitting_advice(arch: str, epoch: int, num_overfit: int, num_runs: int) -> str:
    where = f" in {num_overfit} of {num_runs} runs" if num_runs > 1 else ""
    return (f"{arch}'s validation loss rose after epoch {epoch} while its training loss kept "
            f"falling{where}: overfitting; try early stopping, more dropout or fewer units")


def still_improving_advice(arch: str, last_epoch: int, num_improving: int, num_runs: int) -> str:
    where = f" in {num_improving} of {num_runs} runs" if num_runs > 1 else ""
    return (f"{arch}'s validation loss was still falling at its last epoch ({last_epoch}){where}: "
            f"more epochs may help")


def untried_setting(name: str, column: str, value: Any) -> str:
    return f"only one {name} tried ({value:g}): sweep {column} to see how much it matters"


# ------------------------------------------------------------- run pages
NO_TEXTS = "No texts."


def truncation_sentence(sequence_length: int, kept: float, padded: float) -> str:
    """What a sequence length keeps: `kept` share of all tokens, `padded` share of texts padded."""
    return (f"At {sequence_length} tokens per text, {kept:.0%} of all tokens are kept and "
            f"{padded:.0%} of texts get padding.")


def overfitting_sentence(row: Any) -> str:
    """Explains one run's curves from its `tables.run_summary_table` row."""
    epochs_run, best = int(row.epochs_run), row.best_epoch
    if epochs_run == 0 or pd.isna(best):
        return "no epoch with a validation loss recorded yet"
    gap = "" if pd.isna(row.gap_final) else f"; final gap (val − train loss) {row.gap_final:.3f}"
    if not pd.isna(row.overfit_epoch):
        return (f"validation loss was lowest at epoch {int(best)}, then rose while training loss "
                f"kept falling: overfitting after epoch {int(row.overfit_epoch)}{gap}")
    if int(best) == epochs_run and epochs_run > 1:
        return f"validation loss was still falling at the last epoch ({epochs_run}): more epochs may help{gap}"
    return f"best epoch {int(best)} of {epochs_run}; no clear overfitting{gap}"


def duration_text(seconds: float) -> str:
    """Returns "about 40 s", "about 3 min" or "about 1.5 h"."""
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def budget_fit_sentence(arch: str, field: str, width: int, num_params: int, missed: bool) -> str:
    """A model sized to a parameter budget, and whether its width alone could reach it."""
    text = f"{arch} with {field} = {width}: {num_params:,} parameters"
    if missed:
        text += (" (as near as its width can get; change data.vocabulary_size or "
                 "model.embedding_dim to move the embedding's share)")
    return text


def no_such_run(run_id: str) -> str:
    return f"There is no run {run_id!r} in this store; pick a transformer run below."


def no_attention_layers(run_id: str, label: str, arch: str) -> str:
    return (f"Run {run_id} ({label}) uses the {arch} architecture, which has no "
            f"attention layers. Attention maps exist for transformer runs only.")


def no_saved_model(run_id: str, label: str, status: str) -> str:
    return (f"Run {run_id} ({label}) has no saved model yet (status {status}); "
            f"a model is saved when a run completes or is stopped.")


def size_estimate_sentence(label: str, num_train: int, num_params: int, vocabulary_size: int,
                           num_classes: int, seconds: float, basis: str) -> str:
    """A run's size and estimated time before it starts, in Markdown."""
    return (f"**{label}** on {num_train:,} training texts: **{num_params:,} parameters** (vocabulary "
            f"{vocabulary_size:,}, {num_classes} classes); estimated training time "
            f"**{duration_text(seconds)}** per run ({basis}).")

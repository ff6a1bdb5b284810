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
    closeness = "reached the same best validation accuracy" if round(gap, 3) == 0 else f"are within {gap:.3f} of each other"
    return (f"{first} and {second} {closeness}: repeat each over "
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


def still_improving_advice(arch: str, last_epochs: list[int], num_runs: int) -> str:
    """Runs of `arch` whose validation loss was lowest at their last epoch (`last_epochs`, one per run)."""
    if len(last_epochs) == 1:
        where = f" ({last_epochs[0]})" + (f" in 1 of {num_runs} runs" if num_runs > 1 else "")
    elif len(set(last_epochs)) == 1:
        where = f" ({last_epochs[0]}) in {len(last_epochs)} of {num_runs} runs"
    else:
        where = f" in {len(last_epochs)} of {num_runs} runs (epochs {and_list(sorted(last_epochs))})"
    return f"{arch}'s validation loss was still falling at its last epoch{where}: more epochs may help"


def and_list(items: list) -> str:
    """"4", "4 and 6", "4, 4 and 6"."""
    texts = [str(item) for item in items]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


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
                           num_classes: int, seconds: float, basis: str,
                           startup_seconds: float | None = None) -> str:
    """A run's size and estimated time before it starts, in Markdown.

    `startup_seconds`, the one-off part of `seconds` (loading, building,
    compiling), is said beside the total when given.
    """
    one_off = ("" if startup_seconds is None or not math.isfinite(startup_seconds)
               else f", {duration_text(startup_seconds).replace('about ', '')} of it one-off start-up "
                    f"and compiling")
    return (f"**{label}** on {num_train:,} training texts: **{num_params:,} parameters** (vocabulary "
            f"{vocabulary_size:,}, {num_classes} classes); estimated training time "
            f"**{duration_text(seconds)}** per run{one_off} ({basis}).")


# ------------------------------------------------- honest numbers (training)
# Live progress and finished-run outcomes on the Train page (`views.train`, `ui.widgets`).
PHASE_WORDS = {
    "starting": "starting", "loading data": "loading the data", "vectorizing": "turning texts into ids",
    "building": "building the model", "compiling": "compiling the model", "training": "training",
    "validating": "validating", "testing": "measuring test accuracy", "saving": "saving the model",
}


def phase_text(phase: str, elapsed: float | None = None) -> str:
    """"compiling the model… 12 s": a phase, with the seconds it has lasted when known."""
    words = PHASE_WORDS.get(phase, str(phase))
    if elapsed is None or not math.isfinite(elapsed):
        return f"{words}…"
    return f"{words}… {max(0, int(elapsed))} s"


def epoch_progress_text(epoch: int, epochs: int, batch: int, batches: int, loss: float | None) -> str:
    """"epoch 2/5: batch 3/6, loss 0.4123" (batches "?" while unknown)."""
    text = f"epoch {epoch}/{epochs}: batch {batch}/{batches or '?'}"
    return text if loss is None else f"{text}, loss {loss:.4f}"


def epoch_phase_text(epoch: int, epochs: int, phase: str, elapsed: float | None) -> str:
    """"epoch 1/5: compiling the model… 12 s" (a phase within an epoch)."""
    return f"epoch {epoch}/{epochs}: {phase_text(phase, elapsed)}"


def run_outcome_text(test_accuracy: float | None, test_accuracy_last: float | None, best_epoch: int | None,
                     epochs_run: int, restored: bool) -> str:
    """The headline of a finished run: test accuracy with the kept weights, the last epoch's beside it.

    Returns:
        e.g. "test accuracy 0.874 (weights of epoch 2 of 3, the best on validation; the last
        epoch's: 0.815)", or "" when nothing was tested.
    """
    if test_accuracy is None:
        return ""
    if not restored or best_epoch is None:
        return f"test accuracy {test_accuracy:.3f} (last epoch's weights)"
    if best_epoch >= epochs_run or test_accuracy_last is None:
        return f"test accuracy {test_accuracy:.3f} (the last epoch, {best_epoch}, was the best on validation)"
    return (f"test accuracy {test_accuracy:.3f} (weights of epoch {best_epoch} of {epochs_run}, the best on "
            f"validation; the last epoch's: {test_accuracy_last:.3f})")


def timing_text(seconds_per_epoch: float | None, compile_seconds: float | None) -> str:
    """"0.42 s per epoch after a one-off 6.1 s compile", or "" with fewer than two epochs timed."""
    if seconds_per_epoch is None or not math.isfinite(seconds_per_epoch):
        return ""
    text = f"{seconds_per_epoch:.2f} s per epoch"
    if compile_seconds is not None and math.isfinite(compile_seconds):
        text += f" after a one-off {compile_seconds:.1f} s compile"
    return text


# ----------------------------------------------------------------- compare
NOTHING_SELECTED = "no runs selected: pick runs or seed groups above and the advice speaks of them"


# --------------------------------------------------------------- attention
def top_tokens_sentence(tops: list[tuple[str, str, str]]) -> str:
    """Names each run's most decisive token: [(run label, token, class)] -> one sentence."""
    parts = [f"{label} leans most on \"{token}\" (for {class_name})" for label, token, class_name in tops]
    return "; ".join(parts) + "."


def gradient_left_sentence(kept: list[tuple[str, float]], far: int) -> str:
    """Says how much gradient reaches `far` tokens back and further: [(run label, share of the end's)]."""
    if not kept:
        return f"No text is longer than {far} tokens, so nothing reaches that far back."
    parts = [f"{label} keeps {share:.2g} times its last token's gradient" for label, share in kept]
    return f"{far} or more tokens before the end, " + "; ".join(parts) + "."


def running_prediction_sentence(class_name: str, probability: float, token: str, position: int,
                                change: float) -> str:
    """Says where a recurrent run's running prediction moved most, and where it ended.

    Args:
        class_name: the class the probabilities are of.
        probability: the probability after the last token.
        token: the token after which it moved most.
        position: that token's place in the text, from 1.
        change: how much it moved there (signed).
    """
    way = "rose" if change > 0 else "fell"
    return (f"The probability of {class_name} {way} most at \"{token}\" (token {position}, "
            f"{change:+.2f}) and ended at {probability:.2f}.")


def errors_sentence(label: str, accuracy: float, predicted: int, test_size: int,
                    commonest: tuple[str, str, int] | None) -> str:
    """Says how often a run was right on its test texts and which mistake it made most.

    Args:
        label: the run's label.
        accuracy: the share predicted right.
        predicted: texts predicted.
        test_size: texts in the whole test split.
        commonest: (true class, predicted class, count) of its commonest
            mistake, or None when it made none.
    """
    sample = (f"all {test_size:,} test texts" if predicted == test_size
              else f"{predicted:,} of its {test_size:,} test texts (a fixed sample)")
    said = f"{label} got {accuracy:.1%} of {sample} right"
    if commonest is None:
        return said + ", with no mistake."
    true, wrong, count = commonest
    return said + f"; its commonest mistake: {count:,} {true} texts called {wrong}."


def attention_growth_sentence(epoch: int, first_epoch: int, first_peak: float, peak: float) -> str:
    """Says how concentrated a probe text's attention is at one epoch, against the first.

    Args:
        epoch: the epoch shown.
        first_epoch: the first recorded epoch.
        first_peak: the largest row peak (times an even share) after `first_epoch`.
        peak: the same after `epoch`.
    """
    shown = f"After epoch {epoch}, the most-attended key of any row gets {peak:.1f} times an even share"
    if epoch == first_epoch:
        return shown + "; move the slider to see how the pattern changes with training."
    change = "sharper than" if peak > first_peak * 1.1 else (
        "flatter than" if peak < first_peak / 1.1 else "about as sharp as")
    return shown + f", {change} after epoch {first_epoch} ({first_peak:.1f} times)."


def nearly_uniform_sentence(layer: int, num_tokens: int, peak: float) -> str:
    """Says that a layer's attention is spread evenly, so the heatmap shows no structure.

    Args:
        layer: the encoder block (from 1).
        num_tokens: the real tokens of the text.
        peak: the largest row peak of the layer (its most-attended key's weight
            over an even share, `seqlab.attention.largest_peak`).
    """
    return (f"Attention in layer {layer} is nearly uniform: no token gets more than {peak:.2f} times "
            f"an even share (1/{num_tokens}), so this model does not use attention to pick out words; "
            f"it reads the text as an average of its tokens.")


def attention_cut_sentence(text_length: int, sequence_length: int, truncation: str, first_kept: int) -> str:
    """Says which part of a long text the run read, or "" when it read all of it."""
    if text_length <= sequence_length:
        return ""
    if truncation == "pre":
        return (f"This text has {text_length} tokens and the run reads only the last {sequence_length} "
                f"(data.truncation=pre): the map starts at the text's token {first_kept + 1}, "
                f"not at its beginning.")
    return (f"This text has {text_length} tokens and the run reads only the first {sequence_length} "
            f"(data.truncation=post): the last {text_length - sequence_length} are not in the map.")


def attention_window_sentence(first: int, last: int, total: int) -> str:
    """Says that the heatmap shows a window of the tokens (1-based, inclusive)."""
    return (f"Showing tokens {first} to {last} of the {total} the run read; move the window to "
            f"see the others (weights still count every token, so a row's cells need not sum to 1).")


def most_attended_sentence(shown: int, total: int, layer: int, head: str) -> str:
    """Says that the heatmap shows only the most-attended tokens, in text order."""
    head_text = "the mean of the heads" if str(head) == "mean" else f"head {head}"
    return (f"Showing the {shown} of {total} tokens that receive the most attention in layer {layer} "
            f"({head_text}), in text order; the other tokens are left out, so a row's cells need not sum to 1.")


# ------------------------------------------- tasks and preset lessons (Data, Home)
# What each built-in dataset is for and who should win, shown in the dataset
# pickers' help and on the Data page (`views.datasets.dataset_lesson`).
DATASET_LESSONS = {
    "toy": ("2,400 short film sentences, some negated (\"the plot was not clever\"): every model "
            "learns it in seconds; the bag of words trails because it cannot read \"not\"."),
    "synthetic-presence": ("One cue word (good or bad) anywhere decides the label: a bag of words "
                           "suffices, so the cheapest model wins."),
    "synthetic-longrange": ("Both good and bad, near the start; the one that comes first decides. "
                            "Same words in both classes, so a bag of words is at chance; a left-to-right "
                            "LSTM/GRU fails on long texts (chance at 120 tokens), while a bidirectional RNN "
                            "and the Transformer keep it."),
    "synthetic-negation": ("One cue word and \"not\" near the end: \"not good\" is negative, \"good not\" "
                           "leaves it positive. Same words in both classes, so a bag of words is at "
                           "chance; RNNs and the Transformer learn the order."),
    "synthetic-variable": ("Texts of 3 to N tokens labelled by the majority of good/bad: with masking "
                           "every model counts two words; without it, padding drowns the count."),
    "imdb": "Real movie reviews, positive or negative: the benchmark every architecture is measured on.",
}

# Architectures as a lesson names them.
ARCH_NAMES = {"lstm": "the LSTM", "gru": "the GRU", "bilstm": "the BiLSTM", "bigru": "the BiGRU",
              "rnn": "the simple RNN",
              "transformer": "the Transformer", "baseline": "the bag of words"}


def arch_name(arch: str, capital: bool = False) -> str:
    """"the LSTM" (or "The LSTM")."""
    name = ARCH_NAMES.get(arch, arch)
    return name[0].upper() + name[1:] if capital else name


def expectation_longrange(short: int, long: int) -> str:
    return (f"Expect: the LSTM near 1.0 at {short} tokens but near chance (0.5) at {long}, where it must "
            f"carry which of good/bad came first across the whole text; the BiLSTM and the Transformer "
            f"near 1.0 at {long}; the bag of words at chance, since both classes hold the same words.")


EXPECTATION_PRESENCE = ("Expect: every model near 1.0, because one cue word decides; so the bag of words "
                        "wins: as accurate as the others with the fewest parameters and the shortest epochs.")
EXPECTATION_ATTENTION = ("Expect: the Transformer near 1.0; the same Transformer without position "
                         "embeddings at chance (0.5), like the bag of words, since only the order of good "
                         "and bad decides. Then open its heatmap on the Attention page: rows concentrate "
                         "on good and bad.")
EXPECTATION_MASKING = ("Expect: the masked GRU near 1.0; the unmasked one far below, because it must carry "
                       "its count through the padding.")
EXPECTATION_IMDB = ("Expect: all three well above chance (0.5), at about 0.75 to 0.8 on held-out reviews "
                    "and within a few points of each other; the curves show which overfits first.")
EXPECTATION_TOY = ("Expect: all three well above chance (0.8 or more on the held-out sentences); the bag "
                   "of words trails the Transformer because it cannot read \"not\".")


def accuracy_text(value: float, seeds: int) -> str:
    """"0.96", or "0.96 (mean of 3 seeds)"."""
    return f"{value:.2f}" if seeds <= 1 else f"{value:.2f} (mean of {seeds} seeds)"


def lesson_waiting(finished: int, total: int) -> str:
    return f"waiting for its runs: {finished} of {total} finished"


def lesson_unusable(failed: int, total: int) -> str:
    return (f"{failed} of its {total} runs did not complete (failed, stopped or interrupted): queue "
            f"the preset again to check its lesson")


def lesson_held(facts: list[str]) -> str:
    """"as expected: the LSTM fell from 1.00 at length 20 to 0.51 at length 120; ..."."""
    return "as expected: " + "; ".join(facts)


def lesson_missed(facts: list[str], seeds: int) -> str:
    """"not this time: ...", with the noise caveat when runs had one seed."""
    noise = ("; with one seed this may be noise: run each again with 3 seeds (Train page, Seeds)"
             if seeds <= 1 else f" (over {seeds} seeds)")
    return "not this time: " + "; ".join(facts) + noise


def fell_fact(arch: str, short: int, short_accuracy: str, long: int, long_accuracy: str) -> str:
    return f"{arch_name(arch)} fell from {short_accuracy} at length {short} to {long_accuracy} at length {long}"


def did_not_fall_fact(arch: str, short: int, short_accuracy: str, long: int, long_accuracy: str) -> str:
    return (f"{arch_name(arch)} did not fall: {short_accuracy} at length {short}, still "
            f"{long_accuracy} at length {long}")


def held_fact(arch: str, accuracy: str, length: int | None = None) -> str:
    where = f" at length {length}" if length is not None else ""
    return f"{arch_name(arch)} held {accuracy}{where}"


def learned_fact(label: str, accuracy: str) -> str:
    return f"{label} reached {accuracy}"


def only_reached_fact(label: str, accuracy: str, wanted: float) -> str:
    return f"{label} reached only {accuracy} (expected {wanted:.2f} or more)"


def at_chance_fact(label: str, accuracy: str, chance: float) -> str:
    """"the bag of words stayed near chance (0.50)", naming chance where it is not one half."""
    where = "" if abs(chance - 0.5) < 0.005 else f", chance {chance:.2f}"
    return f"{label} stayed near chance ({accuracy}{where})"


def above_chance_fact(label: str, accuracy: str, chance: float) -> str:
    return f"{label} reached {accuracy}, well above chance ({chance:.2f}) where it was expected near it"


def level_with_best_fact(accuracy: str, best_label: str, best_accuracy: str) -> str:
    return f"the bag of words reached {accuracy}, level with the best ({best_label}, {best_accuracy})"


def behind_best_fact(accuracy: str, best_label: str, best_accuracy: str) -> str:
    return f"the bag of words reached {accuracy}, behind {best_label} ({best_accuracy})"


def cheapest_fact(params_ratio: float, seconds_ratio: float | None, other: str) -> str:
    """The bag of words' size and epoch time against the fastest other model."""
    seconds = "" if seconds_ratio is None else f" and {seconds_ratio:.1f}x shorter epochs"
    return f"with {params_ratio:.1f}x fewer parameters{seconds} than {other}"


def not_cheapest_fact(other: str) -> str:
    return f"the bag of words was not the cheapest model: {other} was as small or as fast"


def gap_fact(leader: str, leader_accuracy: str, follower: str, follower_accuracy: str, reason: str) -> str:
    return f"{follower} trailed {leader} ({follower_accuracy} vs {leader_accuracy}){reason}"


def no_gap_fact(leader: str, leader_accuracy: str, follower: str, follower_accuracy: str) -> str:
    return f"{follower} did not trail {leader} ({follower_accuracy} vs {leader_accuracy})"


def all_learned_fact(parts: list[str], chance: float) -> str:
    return f"all learned well above chance ({chance:.2f}): " + ", ".join(parts)

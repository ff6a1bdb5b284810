"""The command line: `python -m seqlab train|sweep|search|preset|runs|show|export|delete|attention|inspect|worker`.

Bad flags and values exit with status 2 and one line on standard error naming
the field, what was received and what is allowed; a damaged run store exits
with status 1 and one line naming the file and how to recover. Every command
takes `--workspace NAME` (and `--instructor-token TOKEN`): it sees and changes
only that workspace's runs, and an action on another workspace's run (or a
wrong token) is refused with status 3 and one line saying why; a run over one
of the server's limits (`seqlab.quotas`) exits 2 naming the limit. With `--json`,
the last line of standard output is one JSON object (progress goes to standard
error).

A run's JSON carries `test_accuracy` (with the kept weights: the best
validation epoch's when `train.restore_best`), `test_accuracy_last` (the last
epoch's), `best_epoch`, `seconds_per_epoch` (steady: the median of the epochs
after the first) and `compile_seconds` (the one-off cost the first epoch paid).
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any, Sequence

from seqlab.analysis import sweeps, tables
from seqlab.config import ARCHITECTURES, BUILTIN_DATASETS, FIELD_HELP, RunConfig
from seqlab.experiments import parse_archs, parse_vary, plan_sweep
from seqlab.jobs import IDLE_TIMEOUT_SECONDS, run_worker, train_foreground
from seqlab.store import DamagedStoreError, RunStore, default_home
from seqlab.training import prepare_process
from seqlab.workspaces import PermissionDenied, command_line_actor


class UsageError(Exception):
    """A bad flag or value: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of `python -m seqlab`."""
    parser = _Parser(prog="python -m seqlab", description="Train and compare sequence models.")
    parser.add_argument("--home", help="run store folder (default: $SEQLAB_HOME or ~/.seqlab)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # Every command acts for one workspace (seqlab.workspaces): its runs, its limits.
    who = _Parser(add_help=False)
    who.add_argument("--workspace", metavar="NAME",
                     help="the workspace to act for (default: $SEQLAB_WORKSPACE or 'default')")
    who.add_argument("--instructor-token", metavar="TOKEN",
                     help="act as the instructor (every workspace), if TOKEN is the server's "
                          "SEQLAB_INSTRUCTOR_TOKEN")
    commands.add_parser = functools.partial(commands.add_parser, parents=[who])

    train = commands.add_parser("train", help="train one run (or a seed group) in the foreground")
    train.add_argument("--dataset", default="toy",
                       help=f"{', '.join(BUILTIN_DATASETS)} or a path to a CSV/TSV/JSONL file")
    train.add_argument("--arch", default="lstm", choices=ARCHITECTURES)
    train.add_argument("--epochs", type=_positive_int("--epochs"), help=FIELD_HELP["train.epochs"])
    train.add_argument("--seed", type=_non_negative_int("--seed"), help=FIELD_HELP["seed"])
    train.add_argument("--seeds", type=_positive_int("--seeds"), default=1,
                       help="repeat over N seeds (seed, seed+1, ...) as one group")
    train.add_argument("--name", help=FIELD_HELP["name"])
    train.add_argument("--set", dest="assignments", action="append", default=[],
                       metavar="KEY=VALUE", help="any config field, e.g. model.units=64")
    train.add_argument("--json", action="store_true", help="end with one JSON line on stdout")

    sweep = commands.add_parser(
        "sweep", help="train each architecture over a list of values of one setting")
    sweep.add_argument("--dataset", default="toy",
                       help=f"{', '.join(BUILTIN_DATASETS)} or a path to a CSV/TSV/JSONL file")
    sweep.add_argument("--arch", default="lstm,transformer",
                       help="comma-separated architectures, e.g. lstm,transformer")
    sweep.add_argument("--vary", required=True, metavar="FIELD=V1,V2,...",
                       help="e.g. data.sequence_length=50,100,200")
    sweep.add_argument("--epochs", type=_positive_int("--epochs"), help=FIELD_HELP["train.epochs"])
    sweep.add_argument("--seed", type=_non_negative_int("--seed"), help=FIELD_HELP["seed"])
    sweep.add_argument("--seeds", type=_positive_int("--seeds"), default=1,
                       help="repeat every point over N seeds")
    sweep.add_argument("--set", dest="assignments", action="append", default=[],
                       metavar="KEY=VALUE", help="any other config field")
    sweep.add_argument("--json", action="store_true", help="end with one JSON line on stdout")

    search = commands.add_parser(
        "search", help="tune settings over ranges with Optuna (TPE, median pruning), trials trained here")
    search.add_argument("--dataset", default="toy",
                        help=f"{', '.join(BUILTIN_DATASETS)} or a path to a CSV/TSV/JSONL file")
    search.add_argument("--arch", default="lstm", choices=ARCHITECTURES)
    search.add_argument("--space", dest="space", action="append", default=[], required=True,
                        metavar="FIELD=LOW:HIGH[:log] or FIELD=A,B,C",
                        help="a setting to tune (repeat for several), e.g. model.units=16:128:log, "
                             "train.learning_rate=1e-4:1e-2:log, train.optimizer=adam,rmsprop")
    search.add_argument("--trials", type=_positive_int("--trials"), default=10, help="trials in all (default 10)")
    search.add_argument("--epochs", type=_positive_int("--epochs"),
                        help="every trial's epochs; " + FIELD_HELP["train.epochs"])
    search.add_argument("--seed", type=_non_negative_int("--seed"),
                        help="the runs' seed and the sampler's; " + FIELD_HELP["seed"])
    search.add_argument("--set", dest="assignments", action="append", default=[],
                        metavar="KEY=VALUE", help="any other config field, fixed for every trial")
    search.add_argument("--json", action="store_true", help="end with one JSON line on stdout")

    preset = commands.add_parser(
        "preset", help="list the presets, or queue one as the Home button does (a worker trains it)")
    preset.add_argument("name", nargs="?",
                        help="a preset's title or its short name (see --list), e.g. imdb")
    preset.add_argument("--list", action="store_true", help="list the presets and their short names")
    preset.add_argument("--wait", action="store_true",
                        help="follow the queued runs until every one has finished")
    preset.add_argument("--json", action="store_true", help="end with one JSON line on stdout")

    runs = commands.add_parser("runs", help="list runs")
    runs.add_argument("--json", action="store_true")
    runs.add_argument("--limit", type=_positive_int("--limit"))

    show = commands.add_parser("show", help="show one run")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true")

    export = commands.add_parser(
        "export", help="write a run's curves (csv, json), its model (keras) or a training script (script)")
    export.add_argument("run_id")
    export.add_argument("--format", choices=("csv", "json", "keras", "script"), default="csv",
                        help="csv/json: curves and config to stdout; keras: a .zip of model.keras, "
                             "vocabulary and README; script: a standalone Keras training script")
    export.add_argument("-o", "--output", help="file to write (keras: required; script: default stdout)")

    delete = commands.add_parser("delete", help="delete a finished run and its artifacts")
    delete.add_argument("run_id")

    attention = commands.add_parser(
        "attention", help="print a Transformer run's attention weights for one text")
    attention.add_argument("run_id")
    attention.add_argument("--text", required=True, help="the text to read, e.g. \"not good at all\"")
    attention.add_argument("--json", action="store_true",
                           help="one JSON object: tokens and attention (layers, heads, T, T), padding left out")

    inspect = commands.add_parser(
        "inspect", help="what a run's model does with one text: attributions, RNN states, attention")
    inspect.add_argument("run_id")
    inspect.add_argument("--text", required=True, help="the text to read, e.g. \"not good at all\"")
    inspect.add_argument("--json", action="store_true",
                         help="one JSON object: tokens, output, baseline_output, attribution, occlusion; "
                              "recurrent runs add states, gates, running_probability; transformers attention")
    worker = commands.add_parser("worker", help="train queued runs (started by the app)")
    worker.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_SECONDS,
                        help="seconds without queued runs before the worker exits")
    worker.add_argument("--ray", metavar="ADDRESS", default=None,
                        help="train the queued runs as Ray tasks on the cluster whose head is ADDRESS "
                             "(HOST:PORT; default: SEQLAB_RAY_ADDRESS, else train here)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    # Keep TF's C++ chatter off the terminal, its errors included: loading a
    # cached compiled step logs a false CPU-mismatch error (tuning hints,
    # not instructions, differ; the cache folder is per CPU). Failures still
    # reach the user as Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        args = build_parser().parse_args(argv)
        # The one place the command line resolves its store; everything below is given it.
        store = RunStore(args.home or default_home())
        if args.command != "worker":  # a worker serves every workspace's queue
            store = store.for_actor(command_line_actor(args.workspace, args.instructor_token))
        return _COMMANDS[args.command](args, store)
    except UsageError as error:
        print(f"seqlab: error: {error}", file=sys.stderr)
        return 2
    except PermissionDenied as error:  # another workspace's run, or a wrong instructor token
        print(f"seqlab: refused: {' '.join(str(error).split())}", file=sys.stderr)
        return 3
    except DamagedStoreError as error:
        print(f"seqlab: error: {error}", file=sys.stderr)
        return 1
    except KeyError as error:  # unknown run id
        print(f"seqlab: error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"seqlab: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


# ------------------------------------------------------------------ commands
def _train(args, store) -> int:
    config = build_train_config(args)
    prepare_process(store)  # the compile cache, before TensorFlow loads
    bar = ProgressBar(sys.stderr)
    seeds = [config.seed + offset for offset in range(args.seeds)]
    group_id = store.new_group_id() if len(seeds) > 1 else None
    records = []
    for seed in seeds:
        run_config = config.with_overrides({"seed": seed})
        if len(seeds) > 1:
            bar.write(f"seed {seed} ({len(records) + 1}/{len(seeds)})")
        records.append(train_foreground(run_config, store, on_progress=bar, group_id=group_id))
        bar.finish(records[-1])
    if args.json:
        payload = run_payload(store, records[0]) if len(records) == 1 else group_payload(store, records)
        print(json.dumps(payload))
    else:
        for record in records:
            print(f"{record.run_id}  {record.status}  {_outcome(record)}  {record.message}".rstrip())
    return 0 if all(r.status in ("completed", "stopped") for r in records) else 1


def _sweep(args, store) -> int:
    try:
        archs = parse_archs(args.arch)
        field, values = parse_vary(args.vary)
        args.arch, args.name = archs[0], None
        plan = plan_sweep(build_train_config(args), archs, field, values, args.seeds)
    except ValueError as error:
        raise UsageError(str(error)) from None
    prepare_process(store)
    bar = ProgressBar(sys.stderr)
    groups: dict[tuple, str | None] = {}
    run_ids = []
    for index, planned in enumerate(plan, start=1):
        key = (planned.arch, planned.value)
        if key not in groups:
            groups[key] = store.new_group_id() if args.seeds > 1 else None
        bar.write(f"[{index}/{len(plan)}] {planned.arch} {field}={planned.value} seed {planned.seed}")
        record = train_foreground(planned.config, store, on_progress=bar, group_id=groups[key])
        bar.finish(record)
        run_ids.append(record.run_id)
    summary = tables.run_summary_table(store.epochs_frame(run_ids), store.runs_frame(run_ids))
    table = sweeps.sweep_table(summary, field)
    rows = [
        {"arch": row.arch, "value": _plain(row.value), "seconds_per_epoch": _plain(row.seconds_per_epoch),
         "compile_seconds": _plain(row.compile_seconds),
         "val_accuracy": _plain(row.val_accuracy), "val_accuracy_std": _plain(row.val_accuracy_std),
         "run_ids": list(row.run_ids)}
        for row in table.itertuples(index=False)
    ]
    if args.json:
        print(json.dumps({"vary": field, "values": [_plain(v) for v in values], "archs": archs,
                          "rows": rows, "run_ids": run_ids}))
    else:
        print(f"{'arch':<12} {field:>22} {'s/epoch':>8} {'compile':>8} {'val_acc':>8}")
        for row in rows:
            print(f"{row['arch']:<12} {str(row['value']):>22} {_fmt(row['seconds_per_epoch'], 2):>8} "
                  f"{_fmt(row['compile_seconds'], 1):>8} {_fmt(row['val_accuracy']):>8}")
    statuses = [store.get_run(r).status for r in run_ids]
    return 0 if all(s in ("completed", "stopped") for s in statuses) else 1


def _search(args, store) -> int:
    from seqlab.search import check_space, parse_space, search_payload
    from seqlab.search_jobs import run_search

    args.name = None
    config = build_train_config(args)
    try:
        space = parse_space(args.space)
        check_space(config, space)
    except ValueError as error:
        raise UsageError(str(error)) from None
    prepare_process(store)
    bar = ProgressBar(sys.stderr)

    def on_trial(record, finished: bool) -> None:
        if finished:
            bar.finish(record)
            return
        settings = ", ".join(f"{item.field}={_setting_text(record.config.flat()[item.field])}" for item in space)
        bar.write(f"trial {record.trial_number} ({record.trial_number + 1}/{args.trials}): {settings}")

    study_id = run_search(store, config, space, args.trials, seed=args.seed, on_progress=bar, on_trial=on_trial)
    payload = search_payload(store, study_id)
    if args.json:
        print(json.dumps(payload))
    else:
        fields = [item.field for item in space]
        print(f"search {study_id}: {payload['objective']} per trial")
        print(f"{'trial':>5} {'state':<9} {'value':>8}  {'run_id':<22} " + "  ".join(fields))
        for trial in payload["trials"]:
            print(f"{trial['number']:>5} {trial['state']:<9} {_fmt(trial['value']):>8}  {trial['run_id'] or '-':<22} "
                  + "  ".join(_setting_text(trial["params"].get(name)) for name in fields))
        best = payload["best"]
        print(f"best: trial {best['number']} ({best['run_id']}), {_fmt(best['value'])}" if best
              else "best: none (no trial completed)")
    return 0 if payload["best"] is not None else 1


def _preset(args, store) -> int:
    from seqlab.config import find_preset, presets
    from seqlab.views.home import preset_lessons, queue_preset, run_labels

    if args.list or not args.name:
        chosen = presets()
        if args.json:
            print(json.dumps({"presets": [
                {"name": preset["lesson"], "title": title, "description": preset["description"],
                 "runs": list(run_labels(preset["runs"]))}
                for title, preset in chosen.items()]}))
        else:
            for title, preset in chosen.items():
                print(f"{preset['lesson']:<10} {title}: {len(preset['runs'])} runs "
                      f"({', '.join(run_labels(preset['runs']))})")
            print("queue one with: python -m seqlab preset NAME [--wait]")
        return 0
    try:
        title, _ = find_preset(args.name)
    except KeyError as error:
        raise UsageError(error.args[0]) from None
    run_ids = queue_preset(store, title)  # exactly what the Home button does
    print(f"queued {len(run_ids)} runs of {title!r}: {', '.join(run_ids)}", file=sys.stderr)
    if args.wait:
        records = wait_for_runs(store, run_ids, sys.stderr)
    else:
        records = [store.get_run(run_id) for run_id in run_ids]
    if args.json:
        lesson = next(found for found in preset_lessons(store) if found.title == title)
        print(json.dumps({
            "preset": title, "name": lesson.kind,
            "runs": [{"run_id": r.run_id, "label": r.label, "status": r.status, "message": r.message,
                      "test_accuracy": r.test_accuracy, "test_accuracy_last": r.test_accuracy_last,
                      "best_epoch": r.best_epoch, "seconds_per_epoch": r.seconds_per_epoch,
                      "compile_seconds": r.compile_seconds, "started_at": r.started_at,
                      "finished_at": r.finished_at, **placement_payload(r)} for r in records],
            "lesson": {"status": lesson.status, "sentence": lesson.sentence},
        }))
    elif args.wait:
        for record in records:
            print(f"{record.run_id}  {record.status}  {_outcome(record)}  {record.message}".rstrip())
    if not args.wait:
        return 0
    return 0 if all(r.status in ("completed", "stopped") for r in records) else 1


def wait_for_runs(store, run_ids: list[str], stream, poll_seconds: float = 0.5) -> list:
    """Follows queued runs until all have finished, writing one line per change to `stream`.

    Keeps a worker alive while it waits (`jobs.ensure_worker`), so a worker that
    exited or died is replaced as the app would replace it. Ctrl+C stops the
    waiting only: the runs stay queued for the worker.

    Returns:
        The finished runs' records, in the order of `run_ids`.
    """
    import time

    from seqlab.jobs import ensure_worker

    said: dict[str, str] = {}
    last_check = 0.0
    try:
        while True:
            records = [store.get_run(run_id) for run_id in run_ids]
            for record in records:
                line = _wait_line(record)
                if said.get(record.run_id) != line:
                    said[record.run_id] = line
                    stream.write(f"{record.run_id} {record.label}: {line}\n")
                    stream.flush()
            if all(record.finished for record in records):
                return records
            if time.monotonic() - last_check > 5.0:
                ensure_worker(store)
                last_check = time.monotonic()
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        stream.write("stopped waiting; the runs stay queued and the worker goes on\n")
        raise SystemExit(130) from None


def _wait_line(record) -> str:
    if record.finished:
        return f"{record.status}, {_outcome(record)}"
    if record.status == "queued":
        return "queued"
    progress = record.progress or {}
    phase = progress.get("phase") or "starting"
    epoch = progress.get("epoch")
    return f"{phase}, epoch {epoch}/{progress.get('epochs')}" if epoch else phase


def _plain(value: Any) -> Any:
    """Turns NumPy scalars and NaN into JSON-able Python values."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def build_train_config(args) -> RunConfig:
    """Turns `train` flags into a validated `RunConfig`.

    Raises:
        UsageError: naming the flag, the value received and what is allowed.
    """
    dataset = args.dataset
    if dataset not in BUILTIN_DATASETS:
        path = Path(dataset).expanduser()
        if not path.is_file():
            raise UsageError(
                f"--dataset: received {dataset!r}, expected one of "
                f"{', '.join(BUILTIN_DATASETS)} or the path of an existing CSV/TSV/JSONL file"
            )
        dataset = str(path.resolve())
    overrides: dict[str, Any] = {"data.dataset": dataset, "model.arch": args.arch}
    if args.epochs is not None:
        overrides["train.epochs"] = args.epochs
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.name:
        overrides["name"] = args.name
    try:
        config = RunConfig().with_overrides(overrides).with_overrides(args.assignments)
        return config.validate()
    except ValueError as error:
        raise UsageError(str(error)) from None


def run_payload(store, record) -> dict[str, Any]:
    """Returns the JSON description of one run (`train --json`, `show --json`)."""
    return {
        "run_id": record.run_id,
        "status": record.status,
        "message": record.message,
        "label": record.label,
        "group_id": record.group_id,
        **placement_payload(record),
        "config": record.config.to_dict(),
        "num_params": record.num_params,
        "history": [
            {key: row.get(key) for key in ("epoch", "loss", "accuracy", "val_loss",
                                           "val_accuracy", "seconds")}
            for row in store.epochs(record.run_id)
        ],
        "test_loss": record.test_loss,
        "test_accuracy": record.test_accuracy,
        "test_accuracy_last": record.test_accuracy_last,
        "best_epoch": record.best_epoch,
        "seconds_per_epoch": record.seconds_per_epoch,
        "compile_seconds": record.compile_seconds,
        "majority_fraction": record.majority_fraction,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "versions": record.versions,
        "artifacts": str(store.artifact_dir(record.run_id)),
    }


def group_payload(store, records) -> dict[str, Any]:
    """Returns the JSON description of a seed group (`train --seeds N --json`)."""
    finals = [row["val_accuracy"] for r in records
              for row in store.epochs(r.run_id)[-1:] if row.get("val_accuracy") is not None]

    def mean_std(name: str) -> tuple[float | None, float | None]:
        values = [getattr(r, name) for r in records if getattr(r, name) is not None]
        return (statistics.fmean(values) if values else None,
                statistics.stdev(values) if len(values) > 1 else None)

    tests, lasts = mean_std("test_accuracy"), mean_std("test_accuracy_last")
    return {
        "group_id": records[0].group_id,
        "runs": [r.run_id for r in records],
        "statuses": [r.status for r in records],
        "seeds": [r.config.seed for r in records],
        "val_accuracy_mean": statistics.fmean(finals) if finals else None,
        "val_accuracy_std": statistics.stdev(finals) if len(finals) > 1 else None,
        "test_accuracy_mean": tests[0],
        "test_accuracy_std": tests[1],
        "test_accuracy_last_mean": lasts[0],
        "test_accuracy_last_std": lasts[1],
        "seconds_per_epoch_mean": mean_std("seconds_per_epoch")[0],
        "compile_seconds_mean": mean_std("compile_seconds")[0],
        "best_epochs": [r.best_epoch for r in records],
        "num_params": records[0].num_params,
        "history": {r.run_id: run_payload(store, r)["history"] for r in records},
    }


def _runs(args, store) -> int:
    records = store.list_runs(limit=args.limit)
    if args.json:
        print(json.dumps([_run_row(store, r) for r in records]))
        return 0
    if not records:
        print(f"no runs yet in {store.db_path}; try: python -m seqlab train --dataset toy")
        return 0
    header = (f"{'run_id':<26} {'status':<11} {'arch':<11} {'dataset':<22} {'epochs':>6} {'best':>4} "
              f"{'val_acc':>8} {'test_acc':>8} {'test_last':>9} {'s/epoch':>8}")
    print(header)
    for record in records:
        row = _run_row(store, record)
        print(f"{row['run_id']:<26} {row['status']:<11} {row['arch']:<11} "
              f"{_short(row['dataset'], 22):<22} {row['epochs']:>6} {row['best_epoch'] or '-':>4} "
              f"{_fmt(row['val_accuracy']):>8} {_fmt(row['test_accuracy']):>8} "
              f"{_fmt(row['test_accuracy_last']):>9} {_fmt(row['seconds_per_epoch'], 2):>8}")
    return 0


def _run_row(store, record) -> dict[str, Any]:
    epochs = store.epochs(record.run_id)
    return {
        "run_id": record.run_id, "status": record.status, "arch": record.arch,
        "label": record.label, "dataset": record.config.data.dataset,
        "group_id": record.group_id, "epochs": len(epochs),
        "val_accuracy": epochs[-1].get("val_accuracy") if epochs else None,
        "test_accuracy": record.test_accuracy, "test_accuracy_last": record.test_accuracy_last,
        "best_epoch": record.best_epoch, "seconds_per_epoch": record.seconds_per_epoch,
        "compile_seconds": record.compile_seconds, "num_params": record.num_params,
        "created_at": record.created_at, **placement_payload(record),
    }


def placement_payload(record) -> dict[str, Any]:
    """Returns whose a run is and where it trained: workspace, shared, backend ("local" or "ray"), node, trial."""
    return {"workspace": record.workspace, "shared": record.shared, "backend": record.backend,
            "node": record.node, "study_id": record.study_id, "trial_number": record.trial_number}


def _show(args, store) -> int:
    record = store.get_run(args.run_id)
    payload = run_payload(store, record)
    if args.json:
        print(json.dumps(payload))
        return 0
    print(f"run {record.run_id}: {record.label} — {record.status}"
          + (f" ({record.message})" if record.message else ""))
    print(f"parameters: {record.num_params}   {_outcome(record)}")
    timing = _timing(record)
    if timing:
        print(timing)
    for section, values in record.config.to_dict().items():
        if isinstance(values, dict):
            print(f"{section}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
        else:
            print(f"{section}: {values}")
    print(f"{'epoch':>5} {'loss':>8} {'acc':>8} {'val_loss':>8} {'val_acc':>8} {'seconds':>8}")
    for row in payload["history"]:
        print(f"{row['epoch']:>5} {_fmt(row['loss']):>8} {_fmt(row['accuracy']):>8} "
              f"{_fmt(row['val_loss']):>8} {_fmt(row['val_accuracy']):>8} {_fmt(row['seconds'], 2):>8}")
    print(f"artifacts: {payload['artifacts']}")
    return 0


def _export(args, store) -> int:
    if args.format == "keras":
        from seqlab.export import export_model

        if not args.output:
            raise UsageError("export --format keras: received no -o FILE, expected a .zip file or "
                             "folder to write the model to, e.g. -o model.zip")
        print(f"wrote {export_model(store, args.run_id, args.output)}")
        return 0
    if args.format == "script":
        from seqlab.export import script_for_run

        script = script_for_run(store, args.run_id)
        if not args.output:
            sys.stdout.write(script)
            return 0
        Path(args.output).write_text(script, encoding="utf-8")
        print(f"wrote {args.output}: run it with python {args.output} --data FILE.csv [--epochs N]")
        return 0
    record = store.get_run(args.run_id)
    payload = run_payload(store, record)
    if args.format == "json":
        print(json.dumps(payload, indent=2))
        return 0
    flat = {"run_id": record.run_id, "status": record.status, "label": record.label,
            "test_accuracy": record.test_accuracy, "test_accuracy_last": record.test_accuracy_last,
            "best_epoch": record.best_epoch, "seconds_per_epoch": record.seconds_per_epoch,
            "compile_seconds": record.compile_seconds, "num_params": record.num_params,
            **record.config.flat()}
    columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns + list(flat), lineterminator="\n")
    writer.writeheader()
    for row in payload["history"]:
        writer.writerow({**{c: row.get(c) for c in columns}, **flat})
    sys.stdout.write(buffer.getvalue())
    return 0


def _delete(args, store) -> int:
    store.delete_run(args.run_id)
    print(f"deleted {args.run_id}")
    return 0


def _worker(args, store) -> int:
    from seqlab.jobs import configured_ray_address, worker_threads

    address = args.ray or configured_ray_address()
    if address:  # a dispatcher: the Ray tasks import TensorFlow, this process never does
        from seqlab.ray_backend import RayUnavailableError

        try:
            trained = run_worker(store, idle_timeout=args.idle_timeout, ray_address=address)
        except RayUnavailableError as error:
            print(f"seqlab: error: {error}", file=sys.stderr)
            return 1
        print(f"worker {os.getpid()} exiting after {trained} run(s)", file=sys.stderr)
        return 0
    # TensorFlow imported now, before any run is claimed: a warm worker.
    prepare_process(store, threads=worker_threads())
    trained = run_worker(store, idle_timeout=args.idle_timeout)
    print(f"worker {os.getpid()} exiting after {trained} run(s)", file=sys.stderr)
    return 0


def _attention(args, store) -> int:
    """Prints, per layer and head, each token's most-attended token (or everything as JSON)."""
    from seqlab.analysis import words
    from seqlab.attention import nearly_uniform, row_peaks
    from seqlab.inference import attention_map

    found = attention_map(store, args.run_id, args.text)
    if args.json:
        print(json.dumps(found.to_dict()))
        return 0
    print(f"run {found.run_id}: {found.label} — {len(found.tokens)} tokens: {' '.join(found.tokens)}")
    cut = words.attention_cut_sentence(found.text_length, found.sequence_length, found.truncation,
                                       found.first_kept)
    if cut:
        print(cut)
    peaks = row_peaks(found.table)
    for layer in sorted(peaks["layer"].unique()):
        if nearly_uniform(found.table, layer):
            print(words.nearly_uniform_sentence(layer, len(found.tokens),
                                                peaks[peaks["layer"] == layer]["peak"].max()))
        for head, rows in peaks[peaks["layer"] == layer].groupby("head", sort=False):
            print(f"layer {layer}, head {head}: query -> most-attended key (times an even share)")
            for row in rows.itertuples(index=False):
                query = found.table.loc[found.table["query_position"] == row.query_position,
                                        "query_token"].iloc[0]
                print(f"  {query:>16} -> {row.top_key:<16} {row.peak:5.1f}x")
    return 0


def _inspect(args, store) -> int:
    """Prints which words decided a run's prediction for one text (or everything as JSON)."""
    from seqlab.inspection import inspect_text

    found = inspect_text(store, args.run_id, args.text)
    if args.json:
        print(json.dumps(found))
        return 0
    print(f"run {found['run_id']}: {found['label']} says {found['class_name']} with probability "
          f"{found['output']:.3f} (all-zero embedding: {found['baseline_output']:.3f})")
    print(f"{'token':>16}  {'attribution':>11}  {'occlusion':>9}"
          + ("  running probability" if "running_probability" in found else ""))
    running = found.get("running_probability", [None] * len(found["tokens"]))
    for token, share, drop, after in zip(found["tokens"], found["attribution"], found["occlusion"], running):
        print(f"{token:>16}  {share:+11.4f}  {drop:+9.4f}" + ("" if after is None else f"  {after:.3f}"))
    return 0


_COMMANDS = {"train": _train, "sweep": _sweep, "search": _search, "preset": _preset, "runs": _runs, "show": _show, "export": _export,
             "delete": _delete, "attention": _attention, "inspect": _inspect, "worker": _worker}


# ------------------------------------------------------------------ progress
class ProgressBar:
    """A text progress bar on a stream, drawn from training progress events."""

    def __init__(self, stream, width: int = 24):
        self.stream, self.width = stream, width
        self.interactive = hasattr(stream, "isatty") and stream.isatty()
        self._said: set[str] = set()  # the phases of this run already printed

    def __call__(self, event: dict[str, Any]) -> None:
        phase = event.get("phase", "")
        if phase == "loading data":  # a new run begins
            self._said.clear()
        if phase == "epoch":
            metrics = event.get("metrics", {})
            self._line(
                f"epoch {event['epoch']}/{event['epochs']}  loss {_fmt(metrics.get('loss'))}  "
                f"acc {_fmt(metrics.get('accuracy'))}  val_loss {_fmt(metrics.get('val_loss'))}  "
                f"val_acc {_fmt(metrics.get('val_accuracy'))}  {_fmt(metrics.get('seconds'), 1)}s",
                final=True,
            )
        elif phase == "training" and event.get("batches"):
            if not self.interactive:
                return
            done = event.get("batch", 0) / event["batches"]
            filled = int(done * self.width)
            self._line(f"epoch {event.get('epoch')}/{event.get('epochs')} "
                       f"[{'#' * filled}{'.' * (self.width - filled)}] "
                       f"{event.get('batch')}/{event['batches']}  loss {_fmt(event.get('loss'))}")
        elif phase and phase not in self._said and phase not in ("training", "validating", "finished"):
            # Each phase once per run: validation and the evaluation step's compile come every epoch.
            self._said.add(phase)
            self._line(f"{phase}...", final=True)

    def write(self, text: str) -> None:
        self._line(text, final=True)

    def finish(self, record) -> None:
        if record.message and record.status != "completed":
            self._line(f"{record.status}: {record.message}", final=True)

    def _line(self, text: str, final: bool = False) -> None:
        if self.interactive:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _int_at_least(flag: str, minimum: int):
    """Returns an argparse type accepting whole numbers >= `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(
                f"received {text!r}, expected a whole number >= {minimum}")
        return value
    parse.__name__ = flag
    return parse


def _positive_int(flag: str):
    return _int_at_least(flag, 1)


def _non_negative_int(flag: str):
    return _int_at_least(flag, 0)


def _outcome(record) -> str:
    """"test accuracy 0.8740 (best epoch 2; last epoch 0.8150)"."""
    text = f"test accuracy {_fmt(record.test_accuracy)}"
    if record.best_epoch is not None and record.config.train.restore_best:
        text += f" (best epoch {record.best_epoch}; last epoch {_fmt(record.test_accuracy_last)})"
    return text


def _timing(record) -> str:
    if record.seconds_per_epoch is None:
        return ""
    return (f"seconds per epoch (steady): {record.seconds_per_epoch:.2f}   one-off compile: "
            f"{_fmt(record.compile_seconds, 1)} s")


def _setting_text(value: Any) -> str:
    """A setting's value, floats to 4 significant digits (a learning rate of 0.0113...)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _fmt(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]

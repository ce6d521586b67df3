"""``hybridnlp run``, ``report`` and ``datasets``: experiment configs and their runs."""

from __future__ import annotations

from pathlib import Path

from hybridnlp.cli._common import DATA_HOME_HELP, UsageError


def _run(args) -> int:
    from hybridnlp.experiments.config import apply_overrides, load_config, read_config_file
    from hybridnlp.experiments.runner import run, summary

    if args.resume:
        if args.set or args.output or args.data_home:
            raise UsageError("--resume continues a run with its own config and directory; "
                              "--set, --data-home and --output start a new run instead")
        from hybridnlp.experiments.run_state import resume_dir

        try:  # not a run directory, or a config other than the run's: a usage error
            resume_dir(args.config, args.resume)
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(str(err)) from None
        result = run(args.config, quiet=args.quiet, resume=args.resume,  # path: for the report
                     scheduler=args.scheduler)
        if not args.quiet:
            print(summary(result))
        return 0
    if args.config is None:
        raise UsageError("give a config file, or --resume RUN_DIR")
    values = read_config_file(args.config)
    overrides = list(args.set) + ([f"data.data_home={args.data_home}"] if args.data_home else [])
    if overrides:
        values = apply_overrides(values, overrides)
    config = load_config(values)
    from hybridnlp.experiments.report import shown_path

    source = " ".join([shown_path(args.config), *(f"--set {o}" for o in args.set)])
    result = run(config, output=args.output, quiet=args.quiet, scheduler=args.scheduler,
                 source=source)
    if not args.quiet:
        print(summary(result))
    return 0


def _report(args) -> int:
    from hybridnlp.experiments.report import compare_runs, write_report

    for d in args.run_dirs:
        if not (Path(d) / "metrics.json").is_file():
            raise UsageError(f"{d!r} is not a run directory (no metrics.json)")
    if args.results:
        from hybridnlp.experiments.report import write_results_section

        print(write_results_section(args.run_dirs, args.results, args.section))
        return 0
    if len(args.run_dirs) == 1 and not args.output:
        print(write_report(args.run_dirs[0]))
        return 0
    table = compare_runs(args.run_dirs)
    if args.output:
        Path(args.output).write_text(table, "utf-8")
    print(table, end="")
    return 0


def _datasets(args) -> int:
    from hybridnlp.datasets import list_datasets

    for row in list_datasets(args.data_home):
        status = "bundled" if row["bundled"] else ("found" if row["available"] else "missing")
        print(f"{row['name']:<16} {row['task']:<18} {status:<8} {', '.join(row['splits'])}")
    return 0


def _add_run(command) -> None:
    p = command("run", "run an experiment config (YAML)")
    p.add_argument("config", nargs="?",
                   help="path to a YAML config, e.g. experiments/quickstart.yaml")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run in RUN_DIR (its folds and models that "
                        "finished are not redone)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set models[0].params.clf__C=4")
    p.add_argument("--output", help="parent folder of the run directory (default: the "
                                    "config's output)")
    p.add_argument("--data-home", metavar="DIR", help=DATA_HOME_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bars and no summary")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="a Dask scheduler to fit on (execution.backend: dask; default "
                        "$HYBRIDNLP_DASK_SCHEDULER, else a local cluster). It runs code in "
                        "this process: give only a cluster you trust")
    p.set_defaults(func=_run)


def _add_report(command) -> None:
    p = command("report", "rewrite a run's report, or compare several runs (two: each "
                          "model's difference with its 95%% interval, and what differs in "
                          "the configs)")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--output", help="write the comparison table to this file")
    p.add_argument("--results", metavar="RESULTS_MD",
                   help="put the comparison table into a marked section of this file "
                        "(e.g. benchmarks/RESULTS.md)")
    p.add_argument("--section", default="runs", help="marker name of that section")
    p.set_defaults(func=_report)


def _add_datasets(command) -> None:
    p = command("datasets", "list the bundled and found data sets")
    p.add_argument("--data-home", default=None, metavar="DIR", help=DATA_HOME_HELP)
    p.set_defaults(func=_datasets)


def add_commands(command) -> None:
    """Register these subcommands; ``command(name, help)`` makes each one's parser."""
    _add_run(command)
    _add_report(command)
    _add_datasets(command)

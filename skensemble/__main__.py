"""Command line: ``skensemble demo``, ``skensemble compress`` and ``skensemble predict`` (also ``python -m skensemble``)."""

import argparse
import sys


def _demo(args):
    from .demo import run_demo

    run_demo(out=args.out, quick=args.quick)
    return 0


def _compress(args):
    from ._compress_cli import DataError, run_compress

    if args.time_limit < 0:
        print(f"skensemble compress: error: --time-limit must be 0 (no limit) or more seconds, got "
              f"{args.time_limit:g}", file=sys.stderr)
        return 2
    try:
        run_compress(args.data, args.target, out=args.out, max_drop=args.max_drop, objective=args.objective,
                     quick=args.quick, task=args.task, cv=args.cv, n_jobs=args.n_jobs, base=args.base,
                     teacher=args.teacher, time_limit=args.time_limit or None)
    except DataError as exc:
        print(f"skensemble compress: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skensemble compress: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - any failure: one line naming it, not a traceback
        lines = str(exc).strip().splitlines() or [""]
        print(f"skensemble compress: error: {type(exc).__name__}: {lines[0]}", file=sys.stderr)
        return 1
    return 0


def _predict(args):
    from ._predict_cli import PredictError, run_predict

    try:
        table = run_predict(args.model, args.data, out=args.out)
    except PredictError as exc:
        print(f"skensemble predict: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - any failure: one line naming it, not a traceback
        lines = str(exc).strip().splitlines() or [""]
        print(f"skensemble predict: error: {type(exc).__name__}: {lines[0]}", file=sys.stderr)
        return 1
    if args.out is None:
        try:
            table.to_csv(sys.stdout, index=False)
        except BrokenPipeError:  # the reader stopped early (| head): not an error of ours
            sys.stdout = None
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="skensemble",
        description="Neural nets as scikit-learn estimators, compressed and ensembled.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="compress and ensemble nets on sklearn's digits, with a report")
    demo.add_argument("--out", default="skensemble-demo", help="folder for report.md and report.png")
    demo.add_argument("--quick", action="store_true", help="fewer epochs (seconds, for smoke tests)")
    demo.set_defaults(func=_demo)
    comp = sub.add_parser("compress", help="search compressions of a net on your CSV (classification or "
                                           "regression) with CompressionSearchCV, save the cheapest good one")
    comp.add_argument("data", help="CSV file with a header row")
    comp.add_argument("--target", required=True, help="name of the label or target column")
    comp.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                      help="auto: regression for a numeric target with fractions or more than 20 "
                           "distinct values, else classification")
    comp.add_argument("--out", default="skensemble-compress", help="folder for model.zip and the report")
    comp.add_argument("--max-drop", "--tolerance", dest="max_drop", type=float, default=0.01,
                      help="cross-validated score (accuracy or R^2) the chosen model may lose against the "
                           "best candidate (default 0.01)")
    comp.add_argument("--objective", choices=["latency", "size", "params", "nonzero", "flops"],
                      default="size", help="the cost to minimise within the budget (default: size, the "
                                           "saved bytes; latency is at batch 4096)")
    comp.add_argument("--cv", type=int, default=None, help="cross-validation folds (default 3; 2 with --quick)")
    comp.add_argument("--n-jobs", type=int, default=None, help="candidates fitted in parallel (joblib)")
    comp.add_argument("--base", choices=["mlp", "tabm"], default="mlp",
                      help="the net the compressions start from: mlp, two layers of 128 (default), or tabm, "
                           "TabM with 32 members (member pruning and students join the search; slower)")
    comp.add_argument("--teacher", choices=["tabm", "none"], default="tabm",
                      help="tabm (default): fit a TabM once on the training rows and add MLP students "
                           "distilled from it to the candidates; none: no teacher (--quick never fits one)")
    comp.add_argument("--time-limit", type=float, default=300.0,
                      help="seconds the run may take (default 300; 0 for no limit): the teacher gets at most "
                           "35%%, the search launches no candidate that the longest so far would carry past four "
                           "fifths of the time left, and the report names the ones skipped")
    comp.add_argument("--quick", action="store_true",
                      help="5 candidates, 2 folds, fewer epochs: under 30 s on 5,000 rows with the MLP base")
    comp.set_defaults(func=_compress)
    pred = sub.add_parser("predict", help="predict the rows of a CSV with a saved model (model.zip or model.onnx)")
    pred.add_argument("model", help="model.zip (skensemble.save) or model.onnx (to_onnx, skensemble compress)")
    pred.add_argument("data", help="CSV file with a header row holding the model's columns")
    pred.add_argument("--out", default=None, help="CSV file for the predictions (default: standard output); "
                                                  "classifiers write the label and one probability per class")
    pred.set_defaults(func=_predict)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

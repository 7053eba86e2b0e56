"""Command line: ``skensemble demo`` (also ``python -m skensemble demo``)."""

import argparse
import sys


def _demo(args):
    from .demo import run_demo

    run_demo(out=args.out, quick=args.quick)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="skensemble",
        description="Neural nets as scikit-learn estimators, compressed and ensembled.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train and compare models on sklearn's digits")
    demo.add_argument("--out", default="skensemble-demo", help="folder for the outputs")
    demo.add_argument("--quick", action="store_true", help="fewer epochs (seconds)")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

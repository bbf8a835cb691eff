"""The `pycnn` command: `pycnn train` (a model of the zoo on the bundled digits or a dataset's files;
see pycnn/_train_cli.py), `pycnn info`, `pycnn summary` and `pycnn experiment` (pycnn/experiments)."""
from __future__ import annotations

import argparse
import functools
import json
import sys

from . import _train_cli


def _train(args, parser=None) -> int:
    return _train_cli.run(args, parser if parser is not None else argparse.ArgumentParser(prog="pycnn train"))


def _info(args) -> int:
    import pycnn

    print(json.dumps(pycnn.build_info(), indent=2))
    return 0


def _summary(args) -> int:
    import inspect

    from pycnn import models, summary

    try:
        builder = models.builder(args.model)
    except ValueError:
        print(f"pycnn summary: --model {args.model!r}: unknown; available: {', '.join(models.list_models())}",
              file=sys.stderr)
        return 2
    kwargs, accepted = {}, inspect.signature(builder).parameters
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    for name in ("in_channels", "num_inputs"):  # the input's channels, for the builders that take them
        if name in accepted:
            kwargs[name] = args.input_size[0]
    summary(models.get(args.model, **kwargs), args.input_size, device=args.device, batch_size=args.batch_size)
    return 0


def _experiment(args) -> int:
    from . import experiments

    if args.list or not args.name:
        for name, question in experiments.list_experiments():
            print(f"{name:20s} {question}")
        return 0
    if args.name not in experiments.EXPERIMENTS:
        print(f"pycnn experiment: unknown experiment {args.name!r}; available: {', '.join(experiments.EXPERIMENTS)}",
              file=sys.stderr)
        return 2
    experiments.run(args.name, quick=args.quick, out=args.out, device=args.device, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pycnn", description="pycnn: small CNNs on a native C++/OpenMP core.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    t = sub.add_parser("train", help="train a model of the zoo (default LeNet-5 on the bundled digits)",
                       description="Train a model of pycnn.models on the bundled digits, MNIST, "
                       "Fashion-MNIST or CIFAR-10 (read from --data-dir).")
    _train_cli.add_arguments(t)
    t.add_argument("--distributed", action="store_true", help="data-parallel over MPI: run under "
                   "mpiexec -n N (pip install \"pycnn[mpi]\"); the global batch is N x --batch-size")
    t.set_defaults(func=functools.partial(_train, parser=t))
    i = sub.add_parser("info", help="print build facts: compiler, OpenMP threads, SIMD level, CUDA")
    i.set_defaults(func=_info)
    s = sub.add_parser("summary", help="print a model's layers, output shapes, parameters, mult-adds and "
                       "receptive field", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--model", required=True, help="a name of pycnn.models.list_models()")
    s.add_argument("--input-size", type=int, nargs="+", required=True, metavar="N",
                   help="one sample's shape, e.g. 3 32 32 (its first entry is the input channels)")
    s.add_argument("--num-classes", type=int, default=None, help="the model's default when not given")
    s.add_argument("--batch-size", type=int, default=1)
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=_summary)
    e = sub.add_parser("experiment", help="run one of the lecture notes' experiments (--list lists them)",
                       description="Run an experiment of pycnn.experiments: prints a summary, writes OUT/NAME.json "
                       "and, with matplotlib (pip install \"pycnn[plot]\"), OUT/NAME*.png.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("name", nargs="?", help="the experiment, e.g. gradient-flow")
    e.add_argument("--list", action="store_true", help="list the experiments and exit")
    e.add_argument("--quick", action="store_true", help="a few seconds: fewer steps and smaller nets (the tests' mode)")
    e.add_argument("--out", default="experiments_out", help="directory for NAME.json and the figures")
    e.add_argument("--device", default="cpu", help="cpu or cuda")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=_experiment)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

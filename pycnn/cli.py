"""The `pycnn` command: `pycnn train` (LeNet-5 on the bundled digits) and `pycnn info`."""
from __future__ import annotations

import argparse
import json
import sys
import time


def _train(args) -> int:
    import pycnn

    if args.device.split(":")[0] == "cuda" and not pycnn.cuda.is_available():
        print(f"pycnn train: --device {args.device}: {pycnn.cuda.unavailable_reason()}", file=sys.stderr)
        return 2
    from pycnn import nn, optim
    from pycnn.data import DataLoader
    from pycnn.models import LeNet5
    from pycnn.train import Trainer

    if args.threads:
        pycnn.set_num_threads(args.threads)
    pycnn.manual_seed(args.seed)
    split = pycnn.datasets.digits(image_size=32)
    train = DataLoader(split.train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test = DataLoader(split.test, batch_size=256)
    model = LeNet5().to(args.device)
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    info = pycnn.build_info()
    where = (f"{info['num_threads']} threads, simd {info['simd']}" if args.device == "cpu"
             else f"device {args.device} ({info['cuda_device']})")
    print(f"pycnn {info['version']}: LeNet-5 on digits ({len(split.train)} train / {len(split.test)} test, "
          f"32x32), {model.num_parameters()} parameters, {where}", flush=True)
    start = time.perf_counter()
    history = Trainer(model, opt, nn.functional.cross_entropy, sched, stream=sys.stdout, device=args.device).fit(
        train, args.epochs, test)
    elapsed = time.perf_counter() - start
    final = history[-1]["test_acc"]
    print(f"final test accuracy: {100 * final:.2f}% in {elapsed:.1f}s ({args.epochs} epochs)")
    if args.save:
        pycnn.save(model.state_dict(), args.save)
        print(f"saved state_dict to {args.save}")
    return 0


def _info(args) -> int:
    import pycnn

    print(json.dumps(pycnn.build_info(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pycnn", description="pycnn: small CNNs on a native C++/OpenMP core.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    t = sub.add_parser("train", help="train LeNet-5 on the bundled handwritten digits",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--momentum", type=float, default=0.9)
    t.add_argument("--weight-decay", type=float, default=5e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=0, help="OpenMP threads (0: OMP_NUM_THREADS or all cores)")
    t.add_argument("--device", default="cpu", help="cpu, or cuda (a GPU, or the emulated device with "
                   "PYCNN_CUDA_EMULATOR=1)")
    t.add_argument("--save", metavar="PATH", help="write the trained state_dict (.npz)")
    t.set_defaults(func=_train)
    i = sub.add_parser("info", help="print build facts: compiler, OpenMP threads, SIMD level, CUDA")
    i.set_defaults(func=_info)
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

"""One library's training step in its own process (the A/B runs of bench/README.md's "Training
steps and the malloc tuning"): a model of bench/models.py, batch 64, 2 threads, the median of 20
steps after 2 warm-ups.  One library per process, so pycnn's import-time malloc tuning does not
reach torch:

    python bench/bench_step_ab.py pycnn resnet8
    PYCNN_MALLOC_TUNING=0 python bench/bench_step_ab.py pycnn mobile
    python bench/bench_step_ab.py torch resnet8
    python bench/bench_step_ab.py pycnn resnet8 1     (a thread count other than 2)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build, train_step  # noqa: E402  (imports neither library)

lib_name, kind = sys.argv[1], sys.argv[2]
if lib_name == "torch":
    import torch as lib
else:
    import pycnn as lib
lib.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
lib.manual_seed(0)
step = train_step(lib, build(lib, kind), 64, kind)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import median_ms  # noqa: E402  (numpy only)
print(round(median_ms(step, repeat=20), 1))

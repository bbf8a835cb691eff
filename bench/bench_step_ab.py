"""One library's training step in its own process (the A/B runs of bench/README.md's "Training
steps and the malloc tuning"): the ResNet-8 / MobileNet-style models of bench_relu_steps.py,
batch 64, 2 threads, the median of 20 steps.  One library per process, so pycnn's import-time
malloc tuning does not reach torch:

    python bench/bench_step_ab.py pycnn resnet8
    PYCNN_MALLOC_TUNING=0 python bench/bench_step_ab.py pycnn mobile
    python bench/bench_step_ab.py torch resnet8
"""
import os
import sys

lib_name, kind = sys.argv[1], sys.argv[2]
if lib_name == "torch":
    import torch as lib
else:
    import pycnn as lib
lib.set_num_threads(2)
# build() and timer() of bench_relu_steps.py (which imports both libraries at its top: not here)
src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_relu_steps.py")).read()
namespace = {}
exec(compile("import time\nimport numpy as np\n" + src[src.index("def build"):src.index("glue_fwd")],
             "bench_relu_steps.py", "exec"), namespace)
print(round(namespace["timer"](lib, kind, reps=20), 1))

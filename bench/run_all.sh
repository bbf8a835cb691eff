#!/usr/bin/env bash
# Runs every benchmark one after another (never in parallel: they would share the cores) and
# prints their markdown tables.  numpy's BLAS runs at full speed (the environment's OpenBLAS
# overrides are unset for these commands only).  Usage: bash bench/run_all.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")"
echo "# $(date -u +%F) $(python -c 'import platform; print(platform.processor() or platform.machine())'), $(nproc) cores"
for name in gemm conv depthwise pool upsample norm train; do
  echo
  echo "## bench_$name.py"
  echo
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python "bench_$name.py" "$@"
done

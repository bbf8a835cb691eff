#!/usr/bin/env bash
# The one-command GPU check (issue 10, section 3).  On a machine with an NVIDIA GPU, PyTorch,
# CuPy, nvcc and no network (the H200 device machine: python3 holds torch and CuPy), in one run
# of about 8 minutes at most, everything it prints also going to a log file:
#   1. build   pycnn for this GPU's architecture only (nvidia-smi's compute_cap, e.g. 9.0 -> sm_90
#              SASS), PYCNN_CUDA=ON so a missing nvcc fails loudly, pip install --no-build-isolation
#              --no-deps --no-index into a fresh venv that sees the system torch/CuPy, a fresh build
#              directory, all cores; then checks that pycnn._cuda is built, sees the GPU and holds
#              that architecture's machine code only (cuobjdump --list-elf);
#   2. tests   PYCNN_REQUIRE_GPU=1 pytest tests -k cuda: every test of test_cuda.py, the cuda
#              tests of test_train.py, and every backend-fixture test (test_conv, test_conv_extra,
#              test_norm, test_pool, test_upsample, ...) whose id names the cuda backend: each op on
#              'cuda' against the float64 reference on the shared case tables (pytest-xdist when
#              importable);
#   3. sanitize compute-sanitizer --tool memcheck, then --tool racecheck, on
#              bench/bench_cuda.py --smoke --no-pool: one of each kernel family (conv: im2col/GEMM,
#              1x1, grouped+dilated, depthwise, transposed, 1-D; pools incl. adaptive and unpool;
#              upsampling modes and bed of nails; the three pads; every norm; the loss glue; a LeNet-5
#              step) at small shapes, forward and backward, each checked against the CPU backend,
#              with CuPy's memory pool off (cupy.cuda.set_allocator(None)) so that an out-of-bounds
#              access lands outside any allocation;
#   4. bench   bench/bench_cuda.py, and prints its tables.
# and a summary: each step's result and time.  Exit status 0 when no step failed.
#
# Without a GPU (or with --dry-run) it does what it can on the emulated CUDA device instead:
#   1. configures (cmake, no build) with PYCNN_CUDA=ON and the architecture list the real run would
#      pass, and checks the installed pycnn and its emulated device (it never builds or installs);
#   2. a subset of the same tests on the emulated device (DRY_TESTS), and checks that
#      PYCNN_REQUIRE_GPU=1 refuses to run without a GPU;
#   3. skips compute-sanitizer (it needs a GPU) and runs its script on the emulated device;
#   4. bench_cuda.py --emulated (tiny shapes, no timings) and checks that the plain run says
#      "no GPU" and exits 0.
#
# Usage: bash bench/gpu_check.sh [--dry-run] [--log FILE]
# Environment: PYTHON (default python3: the interpreter that holds torch and CuPy), VENV
# (/tmp/pycnn-gpu-venv), BUILD_DIR (/tmp/pycnn-gpu-build), BUDGET (seconds for the whole run:
# 470, or 3000 for a dry run), BENCH_ARGS (extra bench_cuda.py arguments), DRY_TESTS.
set -u -o pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"

# ----------------------------------------------------------------------------- the steps
# Each runs in its own bash (re-invoked as `gpu_check.sh --step NAME`) under `timeout`, and ends
# with one line "SUMMARY: ..." that the summary table quotes.

say() { echo "[gpu_check $(date -u +%H:%M:%S)] $*"; }
# cap CMD...: runs CMD with its output also kept in $WORK/$CURRENT.cmd (for the step's SUMMARY line)
cap() { "$@" 2>&1 | tee -a "$WORK/$CURRENT.cmd"; return "${PIPESTATUS[0]}"; }

make_venv() {
  # A venv that sees the system packages: --system-site-packages covers a system python; when
  # python3 is itself a venv (/opt/torch/.venv on the H200 image) the new venv would see only the
  # base interpreter's packages, so a .pth file adds the outer interpreter's site-packages too.
  # No pip in the venv: the outer pip (seen through the .pth) installs into it.
  "$PY" -m venv --without-pip --system-site-packages "$VENV" || return 1
  local site
  site="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" || return 1
  "$PY" -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' \
    > "$site/_gpu_check_outer_site.pth"
  "$VPY" -c 'import numpy, torch, cupy, pybind11, scikit_build_core, pip
print("the venv sees numpy", numpy.__version__, "torch", torch.__version__, "cupy", cupy.__version__,
      "pybind11", pybind11.__version__, "scikit-build-core", scikit_build_core.__version__, "pip", pip.__version__)'
}

step_build() {
  rm -rf "$BUILD_DIR" "$VENV" "$SITE_DIR"
  local target=()
  if ! make_venv; then  # then into a --target folder on PYTHONPATH, for the later steps too
    say "no usable venv: pip install --target $SITE_DIR with $PY instead"
    export VPY="$PY" PYTHONPATH="$SITE_DIR${PYTHONPATH:+:$PYTHONPATH}"
    target=(--target "$SITE_DIR")
    echo "export VPY='$VPY' PYTHONPATH='$PYTHONPATH'" > "$WORK/build.env"
    "$VPY" -c 'import numpy, torch, cupy, pybind11, scikit_build_core' \
      || { echo "SUMMARY: $PY lacks numpy/torch/cupy/pybind11/scikit-build-core"; return 1; }
  fi
  say "building pycnn for sm_${ARCH} only with $(nproc) jobs (PYCNN_CUDA=ON, build dir $BUILD_DIR)"
  local t0=$SECONDS
  ( cd "$ROOT" && PYCNN_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$VPY" -m pip install -v \
      --no-build-isolation --no-deps --no-index "${target[@]}" \
      -Cbuild-dir="$BUILD_DIR" -Ccmake.define.CMAKE_CUDA_ARCHITECTURES="${ARCH}-real" . ) \
    || { echo "SUMMARY: pip install failed after $((SECONDS - t0)) s"; return 1; }
  local build_s=$((SECONDS - t0))
  # the installed pycnn, not the source tree's pycnn/ (no compiled modules there): run from /tmp
  local info
  info="$(cd /tmp && "$VPY" -c 'import pycnn
i = pycnn.build_info()
assert i["cuda_built"], "pycnn._cuda was not built"
assert pycnn.cuda.is_available() and not pycnn.cuda.is_emulated(), pycnn.cuda.unavailable_reason()
print(pycnn.__file__, "|", pycnn.cuda.get_device_name(0), "|", i)')" \
    || { echo "SUMMARY: built in ${build_s} s, but the installed pycnn cannot use the GPU"; return 1; }
  echo "$info"
  local so elves
  so="$(cd /tmp && "$VPY" -c 'import pycnn._cuda as m; print(m.__file__)')"
  if command -v cuobjdump >/dev/null; then
    elves="$(cuobjdump --list-elf "$so" | grep -o 'sm_[0-9a-z]*' | sort -u | tr '\n' ' ')"
    echo "machine code in $so: $elves"
    if [ "$(echo $elves)" != "sm_${ARCH}" ]; then
      echo "SUMMARY: built in ${build_s} s, but $so holds [$elves], not only sm_${ARCH}"; return 1
    fi
  else
    elves="(cuobjdump not found: not checked)"
  fi
  echo "SUMMARY: built in ${build_s} s for sm_${ARCH} only: ${elves}; $(echo "$info" | cut -d'|' -f2)"
}

step_configure_dry() {
  # What the real step 1 runs, for reference; here only cmake's configure runs.
  echo "the GPU run's build: PYCNN_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL=\$(nproc) \$VENV/bin/python -m pip install -v" \
       "--no-build-isolation --no-deps --no-index -Cbuild-dir=$BUILD_DIR" \
       "-Ccmake.define.CMAKE_CUDA_ARCHITECTURES=${ARCH}-real ."
  command -v nvcc >/dev/null || { echo "SUMMARY: nvcc not on PATH: PYCNN_CUDA=ON would fail"; return 1; }
  nvcc --version | tail -2
  local dir cmake
  dir="$(mktemp -d /tmp/pycnn-gpu-check-configure.XXXXXX)"
  cmake="$(command -v cmake || "$PY" -c 'import cmake, os; print(os.path.join(cmake.CMAKE_BIN_DIR, "cmake"))')"
  say "cmake configure only (no build) in $dir: PYCNN_CUDA=ON, CMAKE_CUDA_ARCHITECTURES=${ARCH}-real"
  if ! "$cmake" -S "$ROOT" -B "$dir" -DPYCNN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${ARCH}-real" \
      -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$PY" -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" \
      > "$dir/configure.log" 2>&1; then
    tail -30 "$dir/configure.log"; echo "SUMMARY: cmake configure with PYCNN_CUDA=ON failed"; return 1
  fi
  grep -E "pycnn: PYCNN_CUDA|The CUDA compiler" "$dir/configure.log"
  local archs
  archs="$(grep -E '^CMAKE_CUDA_ARCHITECTURES' "$dir/CMakeCache.txt" | cut -d= -f2)"
  grep -q "CUDA module built: ON" "$dir/configure.log" \
    || { echo "SUMMARY: configured, but the CUDA module would not be built"; return 1; }
  rm -rf "$dir"
  local info
  info="$(cd /tmp && "$PY" -c 'import pycnn; i = pycnn.build_info(); assert i["cuda_emulator_built"]; print(pycnn.__file__, "cuda_built", i["cuda_built"], "emulator_built", i["cuda_emulator_built"])')" \
    || { echo "SUMMARY: configure ok, but the installed pycnn has no emulated device"; return 1; }
  echo "installed pycnn (not rebuilt): $info"
  echo "SUMMARY: dry run: configure with PYCNN_CUDA=ON, CMAKE_CUDA_ARCHITECTURES=${archs} ok (nvcc found); not built"
}

step_tests() {
  cd "$ROOT" || return 1
  local xdist="" timeout_opt="" out
  if "$VPY" -c 'import xdist' 2>/dev/null && [ "$(nproc)" -ge 4 ]; then
    xdist="-n $(( $(nproc) < 8 ? $(nproc) : 8 ))"
  fi
  "$VPY" -c 'import pytest_timeout' 2>/dev/null && timeout_opt="--timeout=300"
  say "PYCNN_REQUIRE_GPU=1 pytest tests -k cuda $xdist $timeout_opt"
  PYCNN_REQUIRE_GPU=1 PYTHONSAFEPATH=1 cap "$VPY" -m pytest tests -k cuda -q -rfE -p no:cacheprovider $xdist \
    $timeout_opt
  local rc=$?
  echo "SUMMARY: $(tail_result)"
  return $rc
}

step_tests_dry() {
  cd "$ROOT" || return 1
  say "PYCNN_REQUIRE_GPU=1 must refuse to run without a GPU"
  local out
  out="$(PYCNN_REQUIRE_GPU=1 "$PY" -m pytest tests/test_cuda.py --collect-only -q -p no:cacheprovider 2>&1)"
  if [ $? -eq 0 ] || ! echo "$out" | grep -q "PYCNN_REQUIRE_GPU=1 but no GPU"; then
    echo "$out" | tail -5; echo "SUMMARY: PYCNN_REQUIRE_GPU=1 did not refuse to run without a GPU"; return 1
  fi
  echo "$out" | grep "no GPU can run" | tail -1
  say "the emulated device: PYCNN_CUDA_EMULATOR=1 pytest $DRY_TESTS -k cuda"
  PYCNN_CUDA_EMULATOR=1 cap "$PY" -m pytest $DRY_TESTS -k cuda -q -rfE -p no:cacheprovider
  local rc=$?
  echo "SUMMARY: emulated device, $DRY_TESTS -k cuda: $(tail_result); PYCNN_REQUIRE_GPU=1 refuses without a GPU"
  return $rc
}

tail_result() {  # pytest's last line, from the step's own output file
  grep -E "[0-9]+ (passed|failed|error)|no tests ran" "$WORK/$CURRENT.cmd" | tail -1 | sed 's/=//g; s/^ *//'
}

step_sanitize() {  # step_sanitize memcheck|racecheck
  local tool=$1 cs
  cs="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
  [ -n "$cs" ] || { echo "SUMMARY: compute-sanitizer not found"; return 1; }
  say "$cs --tool $tool on bench_cuda.py --smoke --no-pool (CuPy's pool off)"
  PYTHONSAFEPATH=1 cap "$cs" --tool "$tool" --error-exitcode 3 --print-limit 30 \
    "$VPY" "$ROOT/bench/bench_cuda.py" --smoke --no-pool
  local rc=$?
  local line
  line="$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY|smoke: " "$WORK/$CURRENT.cmd" | tr '\n' ';' | sed 's/========= //g')"
  echo "SUMMARY: $tool: ${line:-no sanitizer summary line}"
  return $rc
}

step_sanitize_dry() {
  echo "compute-sanitizer needs a GPU: memcheck and racecheck are SKIPPED in this dry run."
  echo "Their script (bench/bench_cuda.py --smoke --no-pool) runs on the emulated device instead:"
  cap "$PY" "$ROOT/bench/bench_cuda.py" --smoke --emulated
  local rc=$?
  echo "SUMMARY: sanitizer skipped (no GPU); its script on the emulated device: $(grep 'smoke: ' "$WORK/$CURRENT.cmd" | tail -1)"
  return $rc
}

step_bench() {
  local extra=""
  if [ "${STEP_LIMIT:-999}" -lt 150 ] && [[ " ${BENCH_ARGS:-} " != *" --quick "* ]]; then
    extra="--quick"; say "only ${STEP_LIMIT} s left: bench_cuda.py --quick (20 repeats, no [N x16] rows)"
  fi
  PYTHONSAFEPATH=1 cap "$VPY" "$ROOT/bench/bench_cuda.py" ${BENCH_ARGS:-} $extra
  local rc=$?
  echo "SUMMARY: $(grep -E 'largest err|^# ' "$WORK/$CURRENT.cmd" | head -2 | tr '\n' ';')"
  return $rc
}

step_bench_dry() {
  say "without a GPU the plain run must say so and exit 0"
  local out
  out="$(env -u PYCNN_CUDA_EMULATOR "$PY" "$ROOT/bench/bench_cuda.py" 2>&1)" \
    || { echo "$out"; echo "SUMMARY: bench_cuda.py without a GPU exited non-zero"; return 1; }
  echo "$out" | head -2
  echo "$out" | grep -q "no GPU" || { echo "SUMMARY: bench_cuda.py without a GPU did not say 'no GPU'"; return 1; }
  say "bench_cuda.py --emulated ${BENCH_ARGS:-} (tiny shapes on the emulated device: the code path, no timings)"
  cap "$PY" "$ROOT/bench/bench_cuda.py" --emulated ${BENCH_ARGS:-}
  local rc=$?
  echo "SUMMARY: emulated, tiny shapes: $(grep -E 'largest err' "$WORK/$CURRENT.cmd" | tail -1); no-GPU message ok"
  return $rc
}

if [ "${1:-}" = "--step" ]; then  # internal: one step, in its own process
  CURRENT="$2"; shift 2
  : > "$WORK/$CURRENT.cmd"
  [ -f "$WORK/build.env" ] && . "$WORK/build.env"  # the build step's fallback interpreter, if it used one
  "step_$CURRENT" "$@"
  exit $?
fi

# ----------------------------------------------------------------------------- setup
DRY=0
LOG="$ROOT/build/gpu_check.log"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --log) LOG="$2"; shift ;;
    -h|--help) sed -n '2,40p' "$SELF"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (see --help)"; exit 2 ;;
  esac
  shift
done
if [ $DRY -eq 0 ] && ! (nvidia-smi -L 2>/dev/null | grep -q "^GPU "); then
  DRY=1
  NO_GPU_REASON="no NVIDIA GPU (nvidia-smi -L lists none)"
fi
mkdir -p "$(dirname "$LOG")"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1
TEE_PID=$!

export ROOT SELF
export PY="${PYTHON:-$(command -v python3)}"
export VENV="${VENV:-/tmp/pycnn-gpu-venv}"
export BUILD_DIR="${BUILD_DIR:-/tmp/pycnn-gpu-build}"
export SITE_DIR="${SITE_DIR:-/tmp/pycnn-gpu-site}"
export WORK
WORK="$(mktemp -d /tmp/pycnn-gpu-check.XXXXXX)"
export DRY_TESTS="${DRY_TESTS:-tests/test_cuda.py tests/test_train.py tests/test_pool.py}"
export BENCH_ARGS="${BENCH_ARGS:-}"
if [ $DRY -eq 1 ]; then
  BUDGET="${BUDGET:-3000}"
  export VPY="$PY"
  # the configure check's architecture: the GPU's when --dry-run is forced on one, else the H200's
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
  [[ "$cap" =~ ^[0-9]+$ ]] || cap=90
  export ARCH="$cap"
  unset PYCNN_REQUIRE_GPU
else
  BUDGET="${BUDGET:-470}"
  export VPY="$VENV/bin/python"
  command -v nvcc >/dev/null || export PATH="$PATH:/usr/local/cuda/bin"
  export PATH="$VENV/bin:$PATH:$(dirname "$PY")"  # the outer bin: cmake and ninja of its pip packages
  unset PYCNN_CUDA_EMULATOR
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
  if ! [[ "$cap" =~ ^[0-9]+$ ]]; then  # an older driver: ask torch
    cap="$("$PY" -c 'import torch; print("%d%d" % torch.cuda.get_device_capability(0))' 2>/dev/null)"
  fi
  export ARCH="$cap"
fi
START=$SECONDS
DEADLINE=$((START + BUDGET))

say "pycnn GPU check, $( [ $DRY -eq 1 ] && echo "DRY RUN on the emulated device${NO_GPU_REASON:+: $NO_GPU_REASON}" || echo "on the GPU" ), log $LOG"
say "repo $ROOT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git')$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo ', with local changes')), $(nproc) cores, budget ${BUDGET} s"
say "python $PY: $("$PY" -c 'import sys; print(sys.version.split()[0])'); nvcc: $(command -v nvcc >/dev/null && nvcc --version | grep -o 'release [0-9.]*' || echo 'not found')"
if [ $DRY -eq 0 ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
  [ -n "$ARCH" ] || { say "could not read the GPU's compute capability"; exit 1; }
fi

NAMES=(); RESULTS=(); TIMES=(); DETAILS=()
FAILED=0
run_step() {  # run_step NAME "title" MAX_SECONDS RESERVE [args]: the step under timeout, within the
  # budget less RESERVE seconds kept for the steps after it
  local name=$1 title=$2 max=$3 reserve=$4; shift 4
  local left=$((DEADLINE - SECONDS - reserve))
  local limit=$(( max < left ? max : left ))
  export STEP_LIMIT=$limit
  NAMES+=("$title")
  if [ "$limit" -lt 15 ]; then
    RESULTS+=("SKIP"); TIMES+=(0); DETAILS+=("no time left in the ${BUDGET} s budget"); FAILED=1; return 1
  fi
  echo
  say "==================== $title (at most ${limit} s)"
  local t0=$SECONDS
  CURRENT="$name" timeout --kill-after=15 "$limit" bash "$SELF" --step "$name" "$@" 2>&1 | tee "$WORK/$name.out"
  local rc=${PIPESTATUS[0]}
  local dt=$((SECONDS - t0))
  local detail
  detail="$(grep '^SUMMARY: ' "$WORK/$name.out" | tail -1 | sed 's/^SUMMARY: //')"
  TIMES+=("$dt")
  if [ "$rc" -eq 0 ]; then
    RESULTS+=("PASS")
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    RESULTS+=("FAIL"); detail="timed out after ${limit} s${detail:+; $detail}"; FAILED=1
  else
    RESULTS+=("FAIL"); detail="exit status $rc${detail:+; $detail}"; FAILED=1
  fi
  DETAILS+=("$detail")
  say "$title: ${RESULTS[-1]} in ${dt} s"
  [ "$rc" -eq 0 ]
}

# ----------------------------------------------------------------------------- the run
if [ $DRY -eq 0 ]; then
  if run_step build "1. build (sm_${ARCH} only)" 300 210; then
    run_step tests "2. GPU tests" 240 180
    run_step sanitize "3a. compute-sanitizer memcheck" 120 120 memcheck
    run_step sanitize "3b. compute-sanitizer racecheck" 120 75 racecheck
    run_step bench "4. bench_cuda.py" 240 0
  else
    for t in "2. GPU tests" "3. compute-sanitizer" "4. bench_cuda.py"; do
      NAMES+=("$t"); RESULTS+=("SKIP"); TIMES+=(0); DETAILS+=("the build failed")
    done
  fi
else
  run_step configure_dry "1. build: configure only (dry run)" 300 0
  run_step tests_dry "2. tests on the emulated device" 1500 0
  run_step sanitize_dry "3. sanitizer: skipped, its script on the emulator" 300 0
  run_step bench_dry "4. bench_cuda.py --emulated" 900 0
fi

# ----------------------------------------------------------------------------- summary
echo
say "==================== summary ($( [ $DRY -eq 1 ] && echo "DRY RUN, emulated device: no GPU was used" || echo "GPU" ))"
printf '| step | result | seconds | detail |\n|---|---|---|---|\n'
for i in "${!NAMES[@]}"; do
  printf '| %s | %s | %s | %s |\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}" "${DETAILS[$i]}"
done
say "total $((SECONDS - START)) s; overall: $( [ $FAILED -eq 0 ] && echo PASS || echo FAIL ); log $LOG"
rm -rf "$WORK"
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit $FAILED

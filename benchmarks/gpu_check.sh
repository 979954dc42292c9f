#!/usr/bin/env bash
# The GPU checks of the inference runtimes (issue 13, item 5), prepared to run as ONE call of the device tool when
# a session is lent a GPU (about 5 minutes on an H100; the device time of a session is 15 minutes in all).
#
#   here, once per session:  bash benchmarks/gpu_check.sh prepare
#       (wheels the device image lacks, for its Python 3.12, into .whl/ -- git-ignored through .git/info/exclude)
#   there:                   run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=540)
#
# What it runs, each output also written under $OUT (it comes back):
#   1. the GPU runtime's tests (CUDA graphs replayed for the streaming step and the clip, fp32 / fp16 / bf16
#      against eager within their tolerances) and the runtime tests that need no video (no PyAV there);
#   2. benchmarks/multistream.py: MoViNet-A0-stream @172^2 stepped for 1, 8 and 32 streams on onnxruntime and on
#      cuda, cuda-fp16 and cuda-bf16 (CUDA graphs), interleaved in one process;
#   3. vidnas profile --latency --device cuda for X3D-S and MoViNet-A0 clips: every runtime, the GPU ones included,
#      checked against eager and timed interleaved (select_runtime), as JSON;
#   4. benchmarks/zoo_latency.py's CUDA rows (eager fp32 against channels-last fp16) for the same models;
#   5. benchmarks/train_speed.py on CUDA (issue 41, item 5): training steps of X3D-XS, the 3D CNN and three samples
#      each of the Auto-X3D and MoViNet spaces, plain PyTorch fp32 (NCDHW, channels-last) against vidnas's Trainer
#      (channels-last, bf16 autocast), interleaved.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "prepare" ]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
        pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0
    exit $?
fi

OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$PWD/src"
else
    export PYTHONPATH="$PWD/src"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
python3 -c "import torch, onnxruntime; print('torch', torch.__version__, 'onnxruntime', onnxruntime.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/device.txt"

timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_runtime_cuda.py tests/test_runtime.py -k "not test_cli_ and not int8 and not test_evaluate_" 2>&1 | tee "$OUT/tests.log"
timeout 150 python3 benchmarks/multistream.py --threads 8 --streams 1,8,32 --forms onnxruntime,cuda,cuda-fp16,cuda-bf16 --rounds 3 --steps 20 2>&1 | tee "$OUT/multistream.log"
for model in x3d_s movinet_a0; do
    timeout 60 python3 -c 'import sys; from vidnas.cli import main; sys.argv[0] = "vidnas"; main()' profile "$model" --latency --device cuda --runs 20 --json > "$OUT/profile_$model.json" 2> "$OUT/profile_$model.err"
    echo "$model: rc=$? $(head -c 600 "$OUT/profile_$model.json")"
done
timeout 60 python3 benchmarks/zoo_latency.py --only x3d_s movinet_a0 --threads 8 2>&1 | tee "$OUT/zoo_latency.log"
timeout 150 python3 benchmarks/train_speed.py --device cuda --threads 8 --spaces autox3d movinet --samples 3 --rounds 3 --steps 5 \
    --out "$OUT/train_speed_cuda.md" 2>&1 | tail -25 | tee "$OUT/train_speed_cuda.log"

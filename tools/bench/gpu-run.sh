#!/usr/bin/env bash
# The GPU run docs/bench/webgpu.md asks for, as one script for a GPU machine without Node.js (the `device` tool).
# Here first:   bash ../shared/device/pack-webgpu.sh src/cli/main.ts src/cli/bench/trainBench.ts
# There (repository root, `.device` carried):   bash tools/bench/gpu-run.sh [OUT_DIR]
# Writes to OUT_DIR (default $OUT, else /tmp/gpu-run): gpu.txt (device, driver), bench.txt (bench:train --backend
# webgpu at batch 64 and 256 with PyTorch CUDA in the same run), purify.txt (`mcldef purify` at the paper's settings
# on models/badnets on WebGPU, each stage's time). Each part is bounded by a timeout so a slow one leaves the others.
set -uo pipefail
out=${1:-${OUT:-/tmp/gpu-run}}
mkdir -p "$out"
source .device/env.sh
{ date -u; nvidia-smi --query-gpu=name,driver_version --format=csv; node --version; } > "$out/gpu.txt" 2>&1
timeout 240 node .device/trainBench.mjs --backend webgpu --batches 64,256 > "$out/bench.txt" 2>&1
echo "exit $?" >> "$out/bench.txt"
timeout 300 env MCLDEF_BACKEND=webgpu node .device/main.mjs purify --model models/badnets \
  --clean public/data/clean-5pct.mcld --test public/data/test-1k.mcld --out "$out/badnets-mcldef" > "$out/purify.txt" 2>&1
echo "exit $?" >> "$out/purify.txt"
tail -n 40 "$out"/*.txt

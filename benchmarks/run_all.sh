#!/usr/bin/env bash
# Run every benchmark in turn (about an hour on 2 cores; needs the bench extra); tables go to results/.
set -euo pipefail
cd "$(dirname "$0")"
for b in bench_nets bench_pruning bench_quantization bench_ensembles bench_distillation bench_regression bench_transfer bench_search bench_busy bench_amp bench_defaults bench_cli bench_tabular bench_tabular_defaults bench_tabular_scaling bench_serving bench_resnet_defaults; do
  echo "== $b"
  python "$b.py" "$@"
done

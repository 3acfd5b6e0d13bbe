#!/usr/bin/env bash
# Five-minute check that training works on this machine's GPU before a long run:
#   bash training/kaggle/cuda_check.sh CORPUS [OUTDIR]
# CORPUS: a folder of .ts/.tsx (a few MB is enough). Runs the CUDA tests, measures the kaggle_t4
# preset's step (tokens/s, CUDA memory with and without gradient checkpointing), trains phase 1 for
# two minutes on CORPUS and resumes it. Works from a source tree without `pip install` (no entry points);
# PYTHON names the interpreter (default python3).
set -uo pipefail
corpus=${1:?usage: cuda_check.sh CORPUS [OUTDIR]}
out=${2:-cuda_check}
py=${PYTHON:-python3}
mkdir -p "$out"
train() { "$py" -c 'import sys; from training.cli import group; sys.exit(group(prog_name="shutka train"))' "$@"; }
"$py" -c "import torch, sys; ok = torch.cuda.is_available(); print('torch', torch.__version__, torch.cuda.get_device_name() if ok else 'NO CUDA'); sys.exit(0 if ok else 1)" || exit 1
status=0
echo "== CUDA tests"
"$py" -m pytest -q -p no:cacheprovider -m gpu tests/training/test_gpu.py || status=1
echo "== kaggle_t4 step (synthetic batches)"
train profile --config kaggle_t4 --steps 20 > "$out/profile.json" || status=1
train profile --config kaggle_t4 --steps 10 --compare-checkpointing > "$out/profile_checkpointing.json" || status=1
echo "== phase 1 for two minutes on $corpus, then resumed"
train phase1 --config kaggle_t4 --source "$corpus" --checkpoint_dir "$out/checkpoints" --max_minutes 2 --no-progress \
    > "$out/phase1.log" 2>&1 || status=1
tail -5 "$out/phase1.log"
train phase1 --config kaggle_t4 --source "$corpus" --checkpoint_dir "$out/checkpoints" --resume --max_minutes 0.5 \
    --no-progress > "$out/resume.log" 2>&1 || status=1
tail -3 "$out/resume.log"
"$py" - "$out" <<'PY'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
step = json.loads((out / "profile.json").read_text())
rows = [json.loads(l) for l in (out / "checkpoints" / "metrics.jsonl").read_text().splitlines() if '"train"' in l]
print(f"kaggle_t4 step: {step['tokens_per_s']:.0f} tokens/s, {step['step_peak_memory_mb']:.0f} MB (CUDA max allocated)")
if rows:
    print(f"phase 1: {len(rows)} logged steps, median {statistics.median(r['throughput_tokens_per_s'] for r in rows):.0f} tokens/s")
PY
echo "results in $out; $( ((status)) && echo 'SOMETHING FAILED: see above' || echo 'all checks passed')"
exit $status

"""Phase 1 of the Kaggle workflow: train on TypeScript (next line, signature → body, declaration → use,
fill-in-the-middle). The same command as `shutka train phase1`.

Usage (flags with underscores as in the Kaggle guide; dashes work too):

    # the Kaggle guide's command: no --source = the default hub dataset (DEFAULT_SOURCES in config.py)
    python training/train_typescript.py --max_samples 50000 --batch_size 16 --epochs 10 \\
        --checkpoint_dir /kaggle/working/checkpoints_syntax

    python training/train_typescript.py --source /work/corpus/train --max_samples 50000 \\
        --batch_size 16 --epochs 2 --checkpoint_dir checkpoints --config default_cpu

    # two T4s: one process per GPU
    torchrun --nproc_per_node=2 training/train_typescript.py --config kaggle_t4x2 \\
        --source /kaggle/input/ts-corpus --checkpoint_dir /kaggle/working/checkpoints

    # interrupted? the same command with --resume continues from last_phase1.safetensors
    python training/train_typescript.py ... --resume

Writes best_model.pt (+ best_model_titans.pt), last_phase1.safetensors (+ checkpoint_titans.pt),
metrics.jsonl and data_phase1.json into --checkpoint_dir. `--check` prints the settings report and exits;
`--help` lists every flag.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    from training.cli import phase1, run_standalone

    run_standalone(phase1, "train_typescript.py")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent  # run as a script: import the package, not its modules by name
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    main()

"""Phase 2 of the Kaggle workflow: instruction → code pairs (hub or table instruction sets, and JSDoc /
comment → implementation pairs mined from the code sources) mixed with code, starting from the phase-1
model. The same command as `shutka train phase2`.

Usage (flags with underscores as in the Kaggle guide; dashes work too):

    # the Kaggle guide's command: no --source = the default hub code and instruction sets
    # (DEFAULT_SOURCES, DEFAULT_INSTRUCTION_SOURCES in config.py)
    python training/train_real_data.py --resume /kaggle/working/checkpoints_syntax/best_model.pt \\
        --code_samples 10000 --instruction_samples 10000 --batch_size 8 --epochs 20 \\
        --checkpoint_dir /kaggle/working/checkpoints_agent

    # continue from phase 1: --resume finds best_model.pt in --checkpoint_dir
    python training/train_real_data.py --resume --source /work/corpus/train \\
        --code_samples 20000 --instruction_samples 20000 --batch_size 16 --epochs 1 \\
        --checkpoint_dir checkpoints --config default_cpu

    # with a hub instruction set (Kaggle has internet), on two T4s
    torchrun --nproc_per_node=2 training/train_real_data.py --resume --config kaggle_t4x2 \\
        --source /kaggle/input/ts-corpus --instruction-source hf:OWNER/NAME \\
        --checkpoint_dir /kaggle/working/checkpoints

`--resume` alone prefers last_phase2.safetensors (an interrupted phase 2) over the phase-1 best_model.pt;
`--resume PATH` takes either kind of file. Writes best_model.pt (+ best_model_titans.pt),
last_phase2.safetensors (+ checkpoint_titans.pt), metrics.jsonl, data_phase2.json and memory_bank/ into
--checkpoint_dir, and shutka_v2_bundle.zip (model, Titans memory, memory bank) into its parent folder.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    from training.cli import phase2, run_standalone

    run_standalone(phase2, "train_real_data.py")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent  # run as a script: import the package, not its modules by name
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    main()

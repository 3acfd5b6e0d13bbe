"""`shutka bundle pack | unpack`: move a trained model (checkpoint + Titans memory + bank) from Kaggle
to the laptop as one verified zip."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("bundle")
def group() -> None:
    """Pack or unpack a checkpoint + Titans + bank bundle (shutka_v2_bundle.zip)."""


@group.command("pack")
@click.option("--checkpoint", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The trained model (best_model.pt).")
@click.option("--titans", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Its Titans memory (best_model_titans.pt).")
@click.option("--bank", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A memory bank folder to ship with it (optional).")
@click.option("-o", "--output", "output", default="shutka_v2_bundle.zip", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path))
def pack_command(checkpoint: Path, titans: Path | None, bank: Path | None, output: Path) -> None:
    """Write the bundle: a manifest with the sha256 of every member, then the members."""
    from training.bundle import pack

    out = pack(checkpoint, output, titans=titans, bank=bank)
    click.echo(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")


@group.command("unpack")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--into", type=click.Path(file_okay=False, path_type=Path),
              help="Destination folder (default: SHUTKA_HOME/bundles/<bundle name>).")
def unpack_command(bundle: Path, into: Path | None) -> None:
    """Verify every member against the manifest, refuse paths outside the destination, then extract:
    model/ (checkpoint, Titans memory) and bank/ (a MemoryBank folder)."""
    from assistant.home import shutka_home
    from training.bundle import unpack

    target = into or shutka_home() / "bundles" / bundle.stem
    done = unpack(bundle, target)
    click.echo(f"unpacked into {done.root}")
    click.echo(f"  checkpoint {done.checkpoint}")
    if done.titans:
        click.echo(f"  titans     {done.titans}")
    if done.bank:
        dim = done.manifest.get("model", {}).get("latent_dim")
        click.echo(f"  bank       {done.bank}  (the guide's memory_bank/: FAISS index + metadata; "
                   f"assistant.memory.bank.MemoryBank.open(PATH, {dim or 'latent_dim'}) — a workspace builds its own "
                   "bank in .shutka/ when indexed)")
    click.echo(f"use it with --checkpoint {done.checkpoint} (or export SHUTKA_CHECKPOINT={done.checkpoint})")

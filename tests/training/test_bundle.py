"""shutka_v2_bundle.zip: pack/unpack round trip, and refusal of traversal, links and tampering."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.checkpoints import load_checkpoint, save_checkpoint
from assistant.cli import cli
from assistant.model.jepa import UltraEfficientTextJEPA
from assistant.tokenizer import TypeScriptTokenizer
from training.bundle import MANIFEST, pack, sha256_file, unpack
from training.errors import BundleError


@pytest.fixture
def trained(tmp_path: Path, tiny_model: UltraEfficientTextJEPA, tiny_tokenizer: TypeScriptTokenizer
            ) -> tuple[Path, Path, Path]:
    ckpt = save_checkpoint(tmp_path / "out" / "best_model.pt", tiny_model, tiny_tokenizer)
    titans = tiny_model.save_titans_memory(tmp_path / "out" / "best_model_titans.pt")
    bank = tmp_path / "bank"
    (bank / "gen-1").mkdir(parents=True)
    (bank / "gen-1" / "index.faiss").write_bytes(b"\x01\x02" * 100)
    (bank / "CURRENT").write_text("gen-1\n")
    return ckpt, titans, bank


def test_round_trip_through_the_cli(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    ckpt, titans, bank = trained
    zipped = tmp_path / "shutka_v2_bundle.zip"
    runner = CliRunner()
    packed = runner.invoke(cli, ["bundle", "pack", "--checkpoint", str(ckpt), "--titans", str(titans),
                                 "--bank", str(bank), "-o", str(zipped)])
    assert packed.exit_code == 0, packed.output
    home = tmp_path / "home"
    unpacked = runner.invoke(cli, ["bundle", "unpack", str(zipped)], env={"SHUTKA_HOME": str(home)})
    assert unpacked.exit_code == 0, unpacked.output
    root = home / "bundles" / "shutka_v2_bundle"
    assert sha256_file(root / "model" / "best_model.pt") == sha256_file(ckpt)
    assert (root / "bank" / "gen-1" / "index.faiss").read_bytes() == (bank / "gen-1" / "index.faiss").read_bytes()
    model = load_checkpoint(root / "model" / "best_model.pt").model
    model.load_titans_memory(root / "model" / "best_model_titans.pt")
    manifest = json.loads((root / MANIFEST).read_text())
    assert {m["role"] for m in manifest["members"]} == {"checkpoint", "titans", "bank"}


def _forge(path: Path, members: dict[str, bytes], manifest_paths: list[str] | None = None,
           link: str | None = None) -> Path:
    listed = manifest_paths if manifest_paths is not None else list(members)
    manifest = {"format": "shutka-bundle", "version": 1, "members": [
        {"path": p, "role": "checkpoint" if i == 0 else "bank", "size": 1,
         "sha256": hashlib.sha256(members.get(p, b"")).hexdigest()} for i, p in enumerate(listed)]}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MANIFEST, json.dumps(manifest))
        for name, data in members.items():
            if name == link:
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, data)
            else:
                zf.writestr(name, data)
    return path


@pytest.mark.parametrize("evil", ["../escape.txt", "model/../../escape.txt", "/tmp/escape.txt", "C:/escape.txt",
                                  "model\\..\\..\\escape.txt"])
def test_traversal_is_refused_and_nothing_is_written(tmp_path: Path, evil: str) -> None:
    bundle = _forge(tmp_path / "evil.zip", {"model/best_model.pt": b"x", evil: b"pwned"})
    dest = tmp_path / "dest" / "inner"
    with pytest.raises(BundleError, match="outside the destination"):
        unpack(bundle, dest)
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "dest" / "escape.txt").exists()
    assert not dest.exists() or not any(dest.iterdir())


def test_links_unlisted_members_and_tampering_are_refused(tmp_path: Path, trained: tuple[Path, Path, Path]) -> None:
    link = _forge(tmp_path / "link.zip", {"model/best_model.pt": b"x", "bank/l": b"/etc/passwd"}, link="bank/l")
    with pytest.raises(BundleError, match="symbolic link"):
        unpack(link, tmp_path / "d1")
    extra = _forge(tmp_path / "extra.zip", {"model/best_model.pt": b"x", "bank/extra": b"y"},
                   manifest_paths=["model/best_model.pt"])
    with pytest.raises(BundleError, match="unlisted"):
        unpack(extra, tmp_path / "d2")
    good = pack(trained[0], tmp_path / "good.zip", titans=trained[1])
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tmp_path / "bad.zip", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[:-1] + bytes([data[-1] ^ 1]) if info.filename.endswith("titans.pt") else data)
    with pytest.raises(BundleError, match="damaged or was altered"):
        unpack(tmp_path / "bad.zip", tmp_path / "d3")
    assert not (tmp_path / "d3" / "model").exists()

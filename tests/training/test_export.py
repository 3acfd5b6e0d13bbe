"""`shutka train export`: an int8 inference file with a calibrated block-skipping threshold."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from assistant.checkpoints import load_checkpoint
from tests.conftest import TINY_TS
from training.export import export_command


def test_export_int8_with_skip_calibration(tiny_checkpoint: Path, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    for i in range(12):
        (code / f"f{i}.ts").write_text((TINY_TS[i % 2] + "\n") * 3)
    out = tmp_path / "small.safetensors"
    result = CliRunner().invoke(export_command, ["--checkpoint", str(tiny_checkpoint), "--out", str(out),
                                                 "--calibrate-on", str(code), "--skip-rate", "0.5",
                                                 "--contexts", "10"])
    assert result.exit_code == 0, result.output
    loaded = load_checkpoint(out)
    assert loaded.weight_format == "int8" and loaded.model.quantized
    calibration = loaded.extra["skip_calibration"]
    assert 0.0 < calibration["skip_rate"] <= 0.6
    assert loaded.config.skip_threshold == calibration["skip_threshold"]
    assert out.stat().st_size < tiny_checkpoint.stat().st_size

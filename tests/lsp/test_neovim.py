"""A second real client: Neovim (headless) starts `python -m lsp`, opens a buffer, gets a completion
and runs a command (skipped where `nvim` is not installed; 0.7+ has what this uses)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("nvim") is None, reason="nvim not installed")]

SCRIPT = """
local root, python, checkpoint = vim.env.WS, vim.env.PY, vim.env.CKPT
local id = vim.lsp.start_client({ name = "shutka", root_dir = root, init_options = { threshold = 0.0 },
  cmd = { python, "-m", "lsp", "--checkpoint", checkpoint } })
vim.cmd("edit " .. root .. "/src/probe.ts")
vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'import { add, origin } from "./point";', "const p = add(" })
vim.lsp.buf_attach_client(0, id)
assert(vim.wait(60000, function() local c = vim.lsp.get_client_by_id(id); return c and c.initialized end, 50))
local items
vim.wait(60000, function()
  local res = vim.lsp.buf_request_sync(0, "textDocument/completion",
    { textDocument = { uri = vim.uri_from_bufnr(0) }, position = { line = 1, character = 14 } }, 10000)
  for _, r in pairs(res or {}) do
    if r.result and r.result.items and #r.result.items > 0 then items = r.result.items end
  end
  return items ~= nil
end, 100)
assert(items, "no completion")
local entries = 0
vim.wait(60000, function()  -- the first index runs in the background
  local stats = vim.lsp.buf_request_sync(0, "workspace/executeCommand", { command = "shutka.bank.stats" }, 10000)
  for _, r in pairs(stats or {}) do entries = r.result and r.result.entries or 0 end
  return entries > 0
end, 100)
io.stdout:write("LABEL " .. items[1].label .. "\\nENTRIES " .. entries .. "\\n")
vim.lsp.stop_client(id)
vim.wait(10000, function() return vim.lsp.get_client_by_id(id) == nil end, 50)
vim.cmd("qa!")
"""


def test_neovim_gets_completions_and_runs_commands(basic_workspace: Path, tiny_checkpoint: Path,
                                                   tmp_path: Path) -> None:
    script = tmp_path / "check.lua"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {"WS": str(basic_workspace), "PY": sys.executable, "CKPT": str(tiny_checkpoint),
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["nvim", "--headless", "-n", "-u", "NONE", "-c", f"luafile {script}"],
                          capture_output=True, text=True, timeout=120, env=env)
    output = done.stdout + done.stderr
    assert "LABEL const p = add(" in output, output
    entries = int(output.split("ENTRIES ")[1].split()[0])
    assert entries > 0

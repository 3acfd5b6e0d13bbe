"""Who can reach `shutka serve`: a workspace's own shutka.toml cannot open it to the network (address,
key and allowed names come from the command line, the environment or the user's own config), and a
request whose Host header does not name the server (DNS rebinding) is refused on every route."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.api.middleware import HostPolicy, host_name
from assistant.cli import cli
from assistant.config import ServerConfig, load_server_config
from assistant.runtime import Runtime
from indexer.errors import ConfigError
from indexer.workspace import Workspace
from tests.assistant.api.helpers import LiveServer

HOSTILE = '[server]\nhost = "0.0.0.0"\napi_key = "the-repo-author-knows-it"\nport = 0\n'
"""What a repository's author could commit to put the cloner's machine on the network."""


def hostile_workspace(root: Path, toml: str = HOSTILE) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.ts").write_text("export const x = 1;\n")
    (root / "shutka.toml").write_text(toml)
    return root


# -- a workspace's shutka.toml ------------------------------------------------------------------------------


def test_serve_refuses_a_workspace_that_opens_the_server(tmp_path: Path, no_user_config: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHUTKA_API_KEY", raising=False)
    workspace = hostile_workspace(tmp_path / "cloned")
    result = CliRunner().invoke(cli, ["serve", "--workspace", str(workspace)])
    assert result.exit_code == 2, result.output
    assert "shutka serve: http" not in result.output  # nothing was served, not even on loopback
    message = " ".join(result.output.split())
    assert f"{workspace / 'shutka.toml'} [server] host, api_key: refused" in message
    assert "a cloned repository could open this machine to the network" in message
    assert "--host / --api-key" in message and str(no_user_config) in message  # what to do instead


@pytest.mark.parametrize(("toml", "key"), [
    ('[server]\nhost = "0.0.0.0"\n', "host"),
    ('[server]\nhost = "127.0.0.1"\n', "host"),  # refused whatever the value: the key is not the file's to set
    ('[server]\napi_key = "k"\n', "api_key"),
    ('[server]\nallowed_hosts = ["*"]\n', "allowed_hosts"),
])
def test_every_access_key_is_refused_in_a_workspace_config(tmp_path: Path, toml: str, key: str) -> None:
    workspace = Workspace(hostile_workspace(tmp_path / "ws", toml))
    with pytest.raises(ConfigError, match=rf"\[server\] {key}: refused"):
        load_server_config(workspace)
    result = CliRunner().invoke(cli, ["config", "check", str(workspace.root)])  # the check says so too
    assert result.exit_code == 2 and f"[server] {key}: refused" in result.output


def test_a_workspace_may_still_set_what_does_not_widen_access(tmp_path: Path) -> None:
    workspace = Workspace(hostile_workspace(tmp_path / "ws", '[server]\nport = 9123\nmodel_id = "mine"\n'))
    config = load_server_config(workspace)
    assert (config.host, config.port, config.model_id, config.api_key) == ("127.0.0.1", 9123, "mine", None)


def test_the_user_config_and_the_command_line_set_access(tmp_path: Path, no_user_config: Path) -> None:
    no_user_config.write_text('[server]\nhost = "0.0.0.0"\napi_key = "users-own"\nallowed_hosts = ["box.lan"]\n'
                              "port = 8100\n")
    workspace = Workspace(hostile_workspace(tmp_path / "ws", "[server]\nport = 8200\n"))
    config = load_server_config(workspace)
    assert (config.host, config.api_key, config.allowed_hosts) == ("0.0.0.0", "users-own", ("box.lan",))
    assert config.port == 8200  # the workspace is more specific than the user's defaults
    flags = load_server_config(workspace, {"host": "127.0.0.1", "api_key": None, "port": 8300})
    assert (flags.host, flags.api_key, flags.port) == ("127.0.0.1", "users-own", 8300)  # flags win; None: unset


def test_a_bad_user_config_names_its_file(no_user_config: Path, tmp_path: Path) -> None:
    no_user_config.write_text("[server]\nhots = 1\n")
    with pytest.raises(ConfigError, match=rf"{no_user_config} \[server\] hots"):
        load_server_config(Workspace(hostile_workspace(tmp_path / "ws", "")))


def test_locate_user_config(no_user_config: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["locate", "user-config", str(tmp_path)])
    assert result.exit_code == 0 and result.output.strip() == str(no_user_config)


# -- the Host header ------------------------------------------------------------------------------------------

ROUTES = [("GET", "/v1/titans/stats"), ("GET", "/health"), ("GET", "/v1/models"), ("GET", "/openapi.json"),
          ("GET", "/docs"), ("GET", "/no/such/route"), ("POST", "/v1/completions"), ("POST", "/v1/titans/forget")]


@pytest.mark.parametrize(("method", "route"), ROUTES)
@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}", "localhost.attacker.example",
                                  "127.0.0.1.nip.io:{port}", "192.0.2.1", "", "::1", "localhost:http"])
def test_a_foreign_host_is_refused_on_every_route(http: httpx.Client, live_server: LiveServer, method: str,
                                                  route: str, host: str) -> None:
    port = live_server.url.rsplit(":", 1)[1]
    response = http.request(method, route, headers={"Host": host.format(port=port)}, json={"prompt": "x"})
    assert response.status_code == 421, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_host" and error["type"] == "invalid_request_error"
    assert "DNS rebinding" in error["message"] and "--allowed-host" in error["message"]
    assert "episodes" not in response.text


@pytest.mark.parametrize("host", ["localhost", "localhost:{port}", "127.0.0.1", "127.0.0.1:{port}", "[::1]",
                                  "[::1]:{port}", "LocalHost:{port}"])
def test_loopback_names_pass(http: httpx.Client, live_server: LiveServer, host: str) -> None:
    port = live_server.url.rsplit(":", 1)[1]
    response = http.get("/v1/titans/stats", headers={"Host": host.format(port=port)})
    assert response.status_code == 200 and "episodes" in response.json()


def test_allowed_names_pass(runtime: Runtime) -> None:
    app = create_app(runtime, ServerConfig(allowed_hosts=("box.lan",)))
    with TestClient(app, base_url="http://box.lan:8000") as client:
        assert client.get("/v1/models").status_code == 200
        assert client.get("/v1/models", headers={"Host": "other.lan"}).status_code == 421


@pytest.mark.parametrize(("bound", "allowed", "header", "passes"), [
    ("127.0.0.1", (), "localhost:8000", True),
    ("127.0.0.1", (), "[0:0::1]:8000", True),
    ("127.0.0.1", (), "evil.example", False),
    ("localhost", (), "127.0.0.1", True),
    ("192.0.2.1", (), "192.0.2.1:8000", True),  # a specific address: that address only
    ("192.0.2.1", (), "localhost", False),
    ("192.0.2.1", (), "198.51.100.7", False),
    ("192.0.2.1", ("box.lan",), "box.lan:8000", True),
    ("0.0.0.0", (), "198.51.100.7:8000", True),  # every interface: any address typed as one
    ("0.0.0.0", (), "[2001:db8::1]:8000", True),
    ("0.0.0.0", (), "localhost", True),
    ("0.0.0.0", (), "evil.example", False),  # but no name that DNS could point here
    ("::", ("box.lan",), "box.lan", True),
    ("127.0.0.1", ("*",), "anything.example", True),
    ("127.0.0.1", (), None, False),
    ("127.0.0.1", (), "[::1", False),
    ("127.0.0.1", (), "localhost:80:80", False),
])
def test_host_policy(bound: str, allowed: tuple[str, ...], header: str | None, passes: bool) -> None:
    assert HostPolicy.for_address(bound, allowed).allows(header) is passes


@pytest.mark.parametrize(("header", "name"), [("LOCALHOST:8000", "localhost"), ("[::1]:1", "::1"),
                                              ("127.0.0.1", "127.0.0.1"), (":8000", None), ("a:b", None),
                                              ("::1", None), ("[::1]x", None), ("a:１２", None)])
def test_host_name(header: str, name: str | None) -> None:
    assert host_name(header) == name

"""The environment an open-runtimes build or server is started with, and the port it listens on.

One place for the `OPEN_RUNTIMES_*` / `INTERNAL_RUNTIME_*` variables, shared by the local executor,
the docker executor and the contract harness's `DirectDriver` (docs/runtime-contract.md lists what
each variable means). The layering follows Appwrite's executor: the image defaults
(`OPEN_RUNTIMES_ENV`, `OPEN_RUNTIMES_HEADERS`) sit under the function's variables, and what the
executor itself decides (secret, entrypoint, limits, where to listen) sits over them, so a variable
can never change the secret or the port.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

# Host environment a function started on the host sees besides its own variables: enough for
# toolchains to work.
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "JAVA_HOME", "DENO_DIR", "DENO_INSTALL",
                   "PYENV_ROOT", "SYSTEMROOT")


def host_env() -> dict[str, str]:
    """The PASSTHROUGH_ENV variables this process has."""
    return {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}


# What an openruntimes image declares itself; a function's variables may override these.
IMAGE_DEFAULTS = {"OPEN_RUNTIMES_ENV": "production", "OPEN_RUNTIMES_HEADERS": "{}"}


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now, for a runtime server started on the host."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _number(value: float) -> str:
    # 1.0 CPUs is "1", as Appwrite writes it; 0.5 stays "0.5".
    return str(int(value)) if float(value).is_integer() else str(value)


def _executor_block(version: str, entrypoint: str, secret: str, hostname: str | None, cpus: float | None,
                    memory: int | None) -> dict[str, str]:
    env = {"OPEN_RUNTIMES_SECRET": secret}
    if hostname:
        env["OPEN_RUNTIMES_HOSTNAME"] = hostname
    if cpus is not None:
        env["OPEN_RUNTIMES_CPUS"] = _number(cpus)
    if memory is not None:
        env["OPEN_RUNTIMES_MEMORY"] = str(memory)
    env["CI"] = "true"
    if entrypoint:
        env["OPEN_RUNTIMES_ENTRYPOINT"] = entrypoint
        if version == "v2":
            env["INTERNAL_RUNTIME_ENTRYPOINT"] = entrypoint
    return env


def build_env(variables: dict[str, str], *, version: str, entrypoint: str, hostname: str | None = None,
              cpus: float | None = None, memory: int | None = None) -> dict[str, str]:
    """Environment of a build container: the function's variables, then the executor's block (an
    empty secret: nothing is served during a build)."""
    return {**variables, **_executor_block(version, entrypoint, "", hostname, cpus, memory)}


def server_env(variables: dict[str, str], *, version: str, entrypoint: str, secret: str,
               hostname: str | None = None, cpus: float | None = None, memory: int | None = None,
               host: str | None = None, port: int | None = None, code_dir: str | Path | None = None,
               logs_dir: str | Path | None = None) -> dict[str, str]:
    """Environment of a runtime server. `host`, `port`, `code_dir` and `logs_dir` are for a server
    started on the host (in a container the image's defaults apply: 0.0.0.0:3000, /mnt/logs).
    `version` "v2" also sets the variables that switch an adapter to the v2 wire."""
    env = {**IMAGE_DEFAULTS, **variables, **_executor_block(version, entrypoint, secret, hostname, cpus, memory)}
    for name, value in (("OPEN_RUNTIMES_HOST", host), ("OPEN_RUNTIMES_PORT", port),
                        ("OPEN_RUNTIMES_CODE_DIR", code_dir), ("OPEN_RUNTIMES_LOGS_DIR", logs_dir)):
        if value is not None:
            env[name] = str(value)
    if version == "v2":
        env["INTERNAL_RUNTIME_KEY"] = secret
        if hostname:
            env["INERNAL_EXECUTOR_HOSTNAME"] = hostname  # sic: the v2 images read this spelling
    return env

"""The runtime's log files are read from a folder the runtime writes (a container's /mnt/logs is a
folder of the host): what a function leaves there must not make the server read any other file of
the user's, nor block it. A stand-in runtime answers each call after putting a link to a secret, a
FIFO or a directory where its log files go, and the emulator's own runtime client reads them."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from emulator.executors.base import ExecutionRequest, Instance, RuntimeSpec
from emulator.executors.runtime_client import RuntimeClient, read_log_files, remove_log_files

pytestmark = pytest.mark.timeout(60)
SECRET = "the user's private key\n"


def plant(logs: Path, log_id: str, secret: Path) -> None:
    """What a hostile function can leave under the names the server reads."""
    os.symlink(secret, logs / f"{log_id}_logs.log")  # a link to a file of the user's
    os.mkfifo(logs / f"{log_id}_errors.log")  # opening it for reading would wait for a writer


async def stand_in_runtime(logs: Path, secret: Path, planted: list[str]):
    """A runtime on 127.0.0.1 that plants its log files, then answers with their id."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            log_id = f"call{len(planted)}"
            plant(logs, log_id, secret)
            planted.append(log_id)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n"
                         b"x-open-runtimes-log-id: " + log_id.encode() + b"\r\n\r\nok")
            await writer.drain()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def test_a_link_or_fifo_in_place_of_a_log_file_is_neither_followed_nor_opened(tmp_path):
    secret = tmp_path / "home" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    logs = tmp_path / "logs"
    logs.mkdir()
    planted: list[str] = []
    server = await stand_in_runtime(logs, secret, planted)
    client = RuntimeClient()
    spec = RuntimeSpec("d", "python-3.11", "v5", "main.py", tmp_path, tmp_path / "out.tar.gz", {})
    instance = Instance(spec=spec, port=server.sockets[0].getsockname()[1], secret="s", logs_dir=logs)
    try:
        for _ in range(3):
            result = await asyncio.wait_for(
                client.execute(instance, ExecutionRequest("POST", "/", {}, b"x", 15)), 10)
            assert result.body == b"ok"
            assert result.logs == "" and result.errors == "", "nothing read through the link or the FIFO"
        await asyncio.sleep(0)  # the removals follow the answer in the same loop step
        assert os.listdir(logs) == [], "the planted names are removed"
        assert secret.read_text() == SECRET, "the link's target is left alone"
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
    assert len(planted) == 3


def test_a_directory_in_place_of_a_log_file_reads_as_nothing(tmp_path):
    (tmp_path / "x_logs.log").mkdir()
    (tmp_path / "x_errors.log").write_text("an error line\n")
    assert read_log_files(tmp_path, "x") == ("", "an error line\n")
    remove_log_files(tmp_path, "x")
    assert (tmp_path / "x_logs.log").is_dir() and not (tmp_path / "x_errors.log").exists()


def test_a_build_artifact_left_as_a_link_is_not_copied(tmp_path):
    """The docker executor keeps /mnt/code/code.tar.gz as the deployment's output: a build that leaves
    a link there (to a file of the user's on the host) gets no output, and the file is not copied."""
    from emulator.executors.docker import DockerExecutor

    secret = tmp_path / "id_rsa"
    secret.write_text(SECRET)
    for plant_artifact in (lambda a: os.symlink(secret, a), os.mkfifo, os.mkdir):
        work = tmp_path / "work"
        src, code = work / "src", work / "code"
        src.mkdir(parents=True)
        code.mkdir()
        plant_artifact(code / "code.tar.gz")
        output = tmp_path / "output.tar.gz"
        assert DockerExecutor._finish_build(code / "code.tar.gz", output, src, code) is False
        assert not output.exists() and not output.with_name("output.tar.gz.partial").exists()
        assert not work.joinpath("src").exists() and not code.exists(), "the scratch folders go all the same"
        assert secret.read_text() == SECRET
    # A regular artifact is kept.
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "code").mkdir()
    (work / "code" / "code.tar.gz").write_bytes(b"archive bytes")
    assert DockerExecutor._finish_build(work / "code" / "code.tar.gz", tmp_path / "output.tar.gz",
                                        work / "src", work / "code") is True
    assert (tmp_path / "output.tar.gz").read_bytes() == b"archive bytes"

"""A contract driver (emulator/contract/) whose runtime is a container of the DockerExecutor.

Same wire-level access as `DirectDriver` (secret, log ids, log files, server output), but the
canonical function is built by `helpers/build.sh` in the image and served by a warm container
with its port published on 127.0.0.1 — what `--executor docker` runs in production.
"""
from __future__ import annotations

import asyncio
import shutil
import tarfile
import tempfile
from pathlib import Path

from emulator.contract import CUSTOM_ENV, ENFORCED_HEADERS, DirectDriver
from emulator.executors.base import BuildJob, RuntimeSpec
from emulator.executors.docker import DockerExecutor


class DockerDriver(DirectDriver):
    def __init__(self, runtime_id: str, api: str = "context", *, image_prefix: str, **kwargs):
        super().__init__(runtime_id, api, **kwargs)
        self.image_prefix = image_prefix
        self.executor: DockerExecutor | None = None
        self.instance = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> "DockerDriver":
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"docker-contract-{self.runtime}-{self.api}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        source = self.workdir / "source.tar.gz"
        with tarfile.open(source, "w:gz") as tar:
            for item in sorted(self.source_dir.iterdir()):
                tar.add(item, item.name)
        self._loop = asyncio.new_event_loop()
        self.executor = DockerExecutor(self.workdir / "run", image_prefix=self.image_prefix, startup_timeout=self.start_timeout)
        env = {**CUSTOM_ENV, **self.extra_env}
        job = BuildJob(deployment_key=f"contract-{self.api}", runtime=self.runtime, version=self.wire,
                       source_archive=source, build_dir=self.workdir / "build",
                       output_archive=self.workdir / "output.tar.gz", entrypoint=self.entrypoint,
                       commands=self.commands, env=env, timeout=self.build_timeout)
        chunks: list[str] = []
        try:
            self._run(self.executor.build(job, chunks.append))
        finally:
            self.build_log = "".join(chunks)
        spec = RuntimeSpec(deployment_key=job.deployment_key, runtime=self.runtime, version=self.wire,
                           entrypoint=self.entrypoint, build_dir=job.build_dir, output_archive=job.output_archive,
                           env={"OPEN_RUNTIMES_HEADERS": ENFORCED_HEADERS, **env})
        self.instance = self._run(self.executor.pool.acquire(spec))
        self.executor.pool.release(self.instance)
        self.port, self.secret, self.logs_dir = self.instance.port, self.instance.secret, self.instance.logs_dir
        return self

    def _run(self, coro):
        return self._loop.run_until_complete(coro)

    def stop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        if self.executor is not None:
            self._run(self.executor.close())
            self.executor = None
        if self._loop is not None:
            self._loop.close()
            self._loop = None
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def server_output(self) -> str:
        if self.executor is None or self.instance is None:
            return ""
        return self.executor.container_output(self.instance.handle)

"""DockerExecutor: builds and runs functions in the official `openruntimes/<language>:<tag>` images.

The same lifecycle as Appwrite's executor (docs/runtime-contract.md, "Builds and images"): a throw-away build container runs
`helpers/build.sh` on the extracted source and leaves `code.tar.gz`; each active deployment gets a
warm container running `helpers/start.sh "bash helpers/server.sh"` with port 3000 published on
127.0.0.1 only. Requests go through the shared `RuntimeClient` exactly as for host processes, so
the emulator never needs to reach a container's bridge address (which does not work on Docker
Desktop or rootless Docker).

Every container is labelled `appwrite-emulator=<instance id>` plus the owning pid and host, so a
crashed emulator's leftovers are removed on the next start (`cleanup_stale`).
"""
from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import contextlib
import hashlib
import os
import re
import secrets
import shlex
import shutil
import socket
import threading
import time
from pathlib import Path

from ..archives import extract_archive
from ..languages.base import BuildError
from ..runtime_env import build_env, server_env
from .base import BuildJob, Capabilities, ExecutorError, Instance, RuntimeSpec
from .pool import InstancePool, PooledExecutor
from .runtime_client import RuntimeClient
from .runtime_files import open_regular_file

LABEL = "appwrite-emulator"  # value: the emulator instance id
LABEL_PID = "appwrite-emulator.pid"
LABEL_HOST = "appwrite-emulator.host"
LABEL_SESSION = "appwrite-emulator.session"  # one executor object; never cleaned up by itself
LABEL_ROLE = "appwrite-emulator.role"  # build | runtime
LABEL_DEPLOYMENT = "appwrite-emulator.deployment"

CONTAINER_PORT = "3000/tcp"
OUTPUT_TAIL_LINES = 200  # container output shown when a runtime dies


class _Container:
    """A runtime container and what the event watcher learned about it."""

    def __init__(self, container):
        self.container = container
        self.id = container.id
        self.name = container.name
        self.exited = threading.Event()
        self.exit_code: int | None = None


class DockerExecutor(PooledExecutor):
    name = "docker"
    # Containers start from output.tar.gz: the build directory is scratch.
    capabilities = Capabilities(runs_from_archive=True, warm_instances=True)
    instance_label = "Runtime container"

    def __init__(self, run_dir: Path, pool_size: int = 1, startup_timeout: float = 60.0,
                 client: RuntimeClient | None = None, image_prefix: str = "openruntimes",
                 image_overrides: dict[str, str] | None = None, instance_id: str | None = None,
                 docker_client=None, hostname: str = "appwrite-emulator", idle_timeout: float = 0):
        self.run_dir = Path(run_dir)
        self.startup_timeout = startup_timeout
        self.client = client or RuntimeClient()
        self.pool = InstancePool(self._start, self._stop, self._alive, size=pool_size, idle_timeout=idle_timeout)
        self.image_prefix = image_prefix.rstrip("/")
        self.image_overrides = dict(image_overrides or {})
        # Stable across restarts of the same emulator (same state dir), so a restart finds what a
        # crash left behind.
        self.instance_id = instance_id or hashlib.sha256(str(self.run_dir.resolve()).encode()).hexdigest()[:12]
        self.session = secrets.token_hex(6)
        self.hostname = hostname
        self._docker = docker_client
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="docker-executor")
        self._ready_lock: asyncio.Lock | None = None
        self._ready = False
        self._pull_locks: dict[str, threading.Lock] = {}
        self._pull_guard = threading.Lock()
        self._watched: dict[str, _Container] = {}
        self._events = None
        self._events_thread: threading.Thread | None = None
        self._closed = False

    # -- docker plumbing ------------------------------------------------------------------------
    @property
    def docker(self):
        if self._docker is None:
            import docker
            self._docker = docker.from_env(timeout=120)
        return self._docker

    async def _call(self, fn, *args, **kwargs):
        """Blocking Docker SDK calls run on our own threads (the default pool is tiny)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, lambda: fn(*args, **kwargs))

    def _labels(self, role: str, deployment_key: str) -> dict[str, str]:
        return {LABEL: self.instance_id, LABEL_PID: str(os.getpid()), LABEL_HOST: socket.gethostname(),
                LABEL_SESSION: self.session, LABEL_ROLE: role, LABEL_DEPLOYMENT: deployment_key}

    def _name(self, role: str, deployment_key: str) -> str:
        safe = re.sub(r"[^a-zA-Z0-9_.-]", "-", deployment_key)[:80]
        return f"appwrite-emulator-{self.instance_id}-{safe}-{role}-{secrets.token_hex(3)}"

    async def prepare(self) -> None:
        """Connect, remove a crashed run's leftovers and watch container events. Runs by itself
        on first use; call it at server start to clean up at once (raises ExecutorError)."""
        await self._ensure_ready()

    async def _ensure_ready(self) -> None:
        if self._ready:
            return
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if self._ready:
                return
            await self._call(self._connect)
            self._ready = True

    def _connect(self) -> None:
        try:
            self.docker.ping()
        except Exception as exc:
            raise ExecutorError(f"Docker is not available ({exc}). Start the Docker daemon, or use the local "
                                f"executor (--executor local).", 500)
        self.cleanup_stale()
        self._start_event_watcher()

    def _start_event_watcher(self) -> None:
        # One stream of 'die' events tells us a container stopped without polling per request.
        self._events = self.docker.events(decode=True, filters={
            "type": "container", "event": "die", "label": f"{LABEL_SESSION}={self.session}"})
        events = self._events

        def watch():
            try:
                for event in events:
                    cid = event.get("id") or event.get("Actor", {}).get("ID", "")
                    handle = self._watched.get(cid)
                    if handle is not None:
                        code = event.get("Actor", {}).get("Attributes", {}).get("exitCode")
                        handle.exit_code = int(code) if code not in (None, "") else None
                        handle.exited.set()
            except Exception:  # the stream is closed on close(); a broken stream just stops watching
                pass

        self._events_thread = threading.Thread(target=watch, name="docker-executor-events", daemon=True)
        self._events_thread.start()

    def cleanup_stale(self) -> int:
        """Remove containers, volumes and networks labelled by a previous run of this emulator
        (same instance id) or by any emulator on this host whose process is gone. Returns how many
        objects were removed."""
        host = socket.gethostname()

        def stale(labels: dict) -> bool:
            labels = labels or {}
            if labels.get(LABEL_SESSION) == self.session:
                return False
            if labels.get(LABEL) == self.instance_id:
                return True
            if labels.get(LABEL_HOST) != host:
                return False
            try:
                os.kill(int(labels.get(LABEL_PID, "")), 0)
                return False
            except ProcessLookupError:
                return True
            except (ValueError, PermissionError):
                return False

        removed = 0
        # sparse: one listing call, no per-container inspect that races with other emulators
        # removing their own containers at the same moment.
        for container in self.docker.containers.list(all=True, filters={"label": LABEL}, sparse=True):
            if stale(container.attrs.get("Labels")):
                with contextlib.suppress(Exception):
                    container.remove(force=True, v=True)
                    removed += 1
        for volume in self.docker.volumes.list(filters={"label": LABEL}):
            if stale(volume.attrs.get("Labels")):
                with contextlib.suppress(Exception):
                    volume.remove(force=True)
                    removed += 1
        for network in self.docker.networks.list(filters={"label": LABEL}):
            if stale(network.attrs.get("Labels")):
                with contextlib.suppress(Exception):
                    network.remove()
                    removed += 1
        return removed

    # -- images ---------------------------------------------------------------------------------
    def image_for(self, runtime: str, version: str = "v5") -> str:
        """`python-3.11` -> `openruntimes/python:v5-3.11` (v2 contract: `...:v2-3.11`)."""
        tag_version = "v2" if version == "v2" else "v5"
        for key in (f"{tag_version}:{runtime}", runtime):
            if key in self.image_overrides:
                return self.image_overrides[key]
        lang, _, ver = runtime.rpartition("-")
        if not lang or not ver:
            raise ExecutorError(f'Runtime "{runtime}" is not a valid runtime id (expected <language>-<version>).', 400)
        return f"{self.image_prefix}/{lang}:{tag_version}-{ver}"

    def _ensure_image(self, image: str, log) -> None:
        import docker.errors
        with self._pull_guard:
            lock = self._pull_locks.setdefault(image, threading.Lock())
        with lock:
            try:
                self.docker.images.get(image)
                return
            except docker.errors.ImageNotFound:
                pass
            repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
            log(f"Image {image} is not available locally; pulling it.\n")
            last: dict[str, str] = {}
            try:
                for event in self.docker.api.pull(repo, tag=tag, stream=True, decode=True):
                    if "error" in event:
                        raise docker.errors.APIError(event["error"])
                    status, layer = event.get("status", ""), event.get("id", "")
                    # Progress bars repeat per chunk; one line per layer and status is enough.
                    if status and last.get(layer) != status:
                        last[layer] = status
                        log(f"{layer + ': ' if layer else ''}{status}\n")
            except Exception as exc:
                raise ExecutorError(f'Docker image "{image}" is not available locally and could not be pulled: '
                                    f'{exc}. Pull or build it, e.g. `docker pull {image}`.', 500)
            log(f"Pulled {image}.\n")

    # -- builds ---------------------------------------------------------------------------------
    async def build(self, job: BuildJob, log) -> None:
        try:
            await self._ensure_ready()
            image = self.image_for(job.runtime, job.version)
            await self._call(self._ensure_image, image, log)
        except ExecutorError as exc:
            raise BuildError(exc.message) from exc
        work = Path(job.build_dir)
        src, code = work / "src", work / "code"
        await self._call(self._prepare_build_dirs, job, src, code)
        v2 = job.version == "v2"
        code_mount = "/usr/code" if v2 else "/mnt/code"
        env = build_env(job.env, version=job.version, entrypoint=job.entrypoint, hostname=self.hostname,
                        cpus=job.cpus, memory=job.memory)
        # The source is already unpacked into the code mount, on the host, by the one extractor
        # that refuses archives escaping their directory (Appwrite runs `tar -zxf` here instead).
        if v2:
            script = "cd /usr/local/src/ && ./build.sh"
        else:
            script = f"bash helpers/build.sh {shlex.quote(job.commands)}"
        # Files written to the mounts belong to root in the container; hand them back to us.
        uid, gid = os.getuid(), os.getgid()
        wrapped = (f"({script}) 2>&1; status=$?; "
                   f"if [ $status -ne 0 ]; then echo \"Build command exited with code $status.\"; fi; "
                   f"chown -R {uid}:{gid} /tmp {code_mount} 2>/dev/null; exit $status")
        kwargs = dict(
            # v2 images are Alpine-based and may have no bash.
            image=image, command=["sh" if v2 else "bash", "-c", wrapped], name=self._name("build", job.deployment_key),
            labels=self._labels("build", job.deployment_key), environment=env,
            volumes={str(src): {"bind": "/tmp", "mode": "rw"}, str(code): {"bind": code_mount, "mode": "rw"}},
            nano_cpus=int(job.cpus * 1e9) if job.cpus else None, mem_limit=f"{int(job.memory)}m" if job.memory else None,
            detach=True)
        if v2:
            kwargs["working_dir"] = "/usr/code"
        try:
            container = await self._call(self.docker.containers.create, **kwargs)
        except Exception as exc:
            raise BuildError(f"Could not create the build container from {image}: {exc}")
        try:
            await self._call(container.start)
            stream = asyncio.ensure_future(self._call(self._stream_output, container, log))
            try:
                await asyncio.wait_for(asyncio.shield(stream), job.timeout)
            except asyncio.TimeoutError:
                with contextlib.suppress(Exception):
                    await self._call(container.kill)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(stream, 10)
                raise BuildError(f"Build timed out after {job.timeout:.0f} seconds.")
            status = (await self._call(container.wait, timeout=30)).get("StatusCode", -1)
        except BuildError:
            raise
        except Exception as exc:
            raise BuildError(f"Build container failed: {exc}")
        finally:
            with contextlib.suppress(Exception):
                await self._call(container.remove, force=True, v=True)
        if status != 0:
            raise BuildError(f"Build command exited with code {status}.")
        artifact = code / "code.tar.gz"
        if not await self._call(self._finish_build, artifact, Path(job.output_archive), src, code):
            raise BuildError(f"The build finished but left no code.tar.gz file in {code_mount}.")

    @staticmethod
    def _prepare_build_dirs(job: BuildJob, src: Path, code: Path) -> None:
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        shutil.copyfile(job.source_archive, src / "code.tar.gz")
        extract_archive(job.source_archive, code)  # replaces whatever `code` held

    @staticmethod
    def _finish_build(artifact: Path, output: Path, src: Path, code: Path) -> bool:
        """Keep the build's artifact as the deployment's output; False if it left none. The build
        container wrote the artifact: a link there is not followed (runtime_files.py)."""
        try:
            fd = open_regular_file(artifact)
            if fd is None:
                return False
            partial = output.with_name(output.name + ".partial")
            with os.fdopen(fd, "rb") as source:
                output.parent.mkdir(parents=True, exist_ok=True)
                with open(partial, "wb") as target:
                    shutil.copyfileobj(source, target, 1024 * 1024)
            os.replace(partial, output)
            return True
        finally:
            shutil.rmtree(src, ignore_errors=True)
            shutil.rmtree(code, ignore_errors=True)

    @staticmethod
    def _stream_output(container, log) -> None:
        # Chunk by chunk: the build queue's log (services/builds.py BuildLog) writes them to disk
        # and keeps the last 1,000,000 characters, as Appwrite does; nothing piles up here.
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            text = decoder.decode(chunk)
            if text:
                log(text)
        tail = decoder.decode(b"", final=True)
        if tail:
            log(tail)

    # -- instances ------------------------------------------------------------------------------
    async def _start(self, spec: RuntimeSpec) -> Instance:
        await self._ensure_ready()
        image = self.image_for(spec.runtime, spec.version)
        await self._call(self._ensure_image, image, lambda _text: None)
        archive = Path(spec.output_archive)
        if not archive.is_file():
            raise ExecutorError(f"The deployment has no built code ({archive.name} is missing); build it first.", 500)
        secret = secrets.token_hex(16)
        inst_dir = self.run_dir / f"{re.sub(r'[^a-zA-Z0-9_.-]', '-', spec.deployment_key)}-{secrets.token_hex(4)}"
        logs_dir, src = inst_dir / "logs", inst_dir / "src"
        await self._call(self._prepare_instance_dirs, archive, logs_dir, src)
        v2 = spec.version == "v2"
        env = server_env(spec.env, version=spec.version, entrypoint=spec.entrypoint, secret=secret,
                         hostname=self.hostname, cpus=spec.cpus, memory=spec.memory)
        kwargs = dict(
            image=image, name=self._name("runtime", spec.deployment_key), hostname=secrets.token_hex(16)[:12],
            labels=self._labels("runtime", spec.deployment_key), environment=env,
            volumes={str(src): {"bind": "/tmp", "mode": "rw"}, str(logs_dir): {"bind": "/mnt/logs", "mode": "rw"}},
            ports={CONTAINER_PORT: ("127.0.0.1", None)},
            nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
            mem_limit=f"{int(spec.memory)}m" if spec.memory else None, detach=True)
        if v2:
            kwargs["working_dir"] = "/usr/code"  # no command: the image's start.sh reads /tmp/code.tar.gz
        else:
            kwargs["command"] = ["bash", "-c",
                                 'cp /tmp/code.tar.gz /mnt/code/code.tar.gz && exec bash helpers/start.sh "bash helpers/server.sh"']
        try:
            container = await self._call(self.docker.containers.create, **kwargs)
        except Exception as exc:
            shutil.rmtree(inst_dir, ignore_errors=True)
            raise ExecutorError(f"Could not create a runtime container from {image}: {exc}", 500)
        handle = _Container(container)
        self._watched[handle.id] = handle
        inst = Instance(spec=spec, port=0, secret=secret, logs_dir=logs_dir, handle=handle)
        try:
            await self._call(container.start)
            await self._call(container.reload)
            bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(CONTAINER_PORT) or []
            if not bindings:
                # A container that exits at once has no port bindings left: report why it exited.
                if await self._died(handle, grace=1.0):
                    output = await self._call(self.container_output, handle)
                    raise ExecutorError(f"Runtime container exited with code {handle.exit_code} before it started "
                                        f"listening. Output:\n{output}", 500)
                raise ExecutorError("Docker did not publish the runtime's port 3000 on 127.0.0.1.", 500)
            inst.port = int(bindings[0]["HostPort"])
            await self._wait_listening(inst)
        except BaseException:
            await self._stop(inst)
            raise
        return inst

    @staticmethod
    def _prepare_instance_dirs(archive: Path, logs_dir: Path, src: Path) -> None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        src.mkdir(parents=True, exist_ok=True)
        # A copy: a rebuild may replace the artifact while this container still runs.
        shutil.copyfile(archive, src / "code.tar.gz")

    async def _wait_listening(self, inst: Instance) -> None:
        # A TCP connect alone proves nothing: docker-proxy accepts on the published port before
        # the server listens. An HTTP status line (any status) means the server itself answered.
        handle: _Container = inst.handle
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.02
        next_state_check = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if handle.exited.is_set() or (time.monotonic() > next_state_check and not await self._running(handle)):
                output = await self._call(self.container_output, handle)
                raise ExecutorError(f"Runtime container exited with code {handle.exit_code} before it started "
                                    f"listening. Output:\n{output}", 500)
            if time.monotonic() > next_state_check:
                next_state_check = time.monotonic() + 1.0
            if await _http_answers(inst.port):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        output = await self._call(self.container_output, handle)
        raise ExecutorError(f"Runtime did not start listening within {self.startup_timeout:.0f}s. Output:\n{output}", 500)

    async def _running(self, handle: _Container) -> bool:
        import docker.errors
        try:
            await self._call(handle.container.reload)
        except docker.errors.NotFound:
            handle.exited.set()
            return False
        except Exception:  # the daemon did not answer: say nothing about the container
            return True
        state = handle.container.attrs.get("State", {})
        if state.get("Running"):
            return True
        handle.exit_code = state.get("ExitCode", handle.exit_code)
        handle.exited.set()
        return False

    def container_output(self, handle: _Container) -> str:
        try:
            return handle.container.logs(tail=OUTPUT_TAIL_LINES).decode("utf-8", "replace")
        except Exception as exc:
            return f"(container output unavailable: {exc})"

    def _alive(self, inst: Instance) -> bool:
        return not inst.handle.exited.is_set()

    async def _stop(self, inst: Instance) -> None:
        handle: _Container = inst.handle
        self.client.forget(inst)
        with contextlib.suppress(Exception):
            await self._call(handle.container.remove, force=True, v=True)
        self._watched.pop(handle.id, None)
        shutil.rmtree(inst.logs_dir.parent, ignore_errors=True)

    # -- executions (PooledExecutor.execute) ---------------------------------------------------
    async def _instance_died(self, inst: Instance) -> bool:
        return await self._died(inst.handle)

    async def _death_report(self, inst: Instance) -> tuple[int | None, str]:
        return inst.handle.exit_code, await self._call(self.container_output, inst.handle)

    async def _died(self, handle: _Container, grace: float = 2.0) -> bool:
        """After a failed request: did the container die? Docker needs a moment to notice."""
        deadline = time.monotonic() + grace
        while True:
            if handle.exited.is_set() or not await self._running(handle):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)

    async def stop_deployment(self, deployment_key: str) -> None:
        """Stop the deployment's instances and remove its build container, if one is running."""
        await self.pool.stop_deployment(deployment_key)
        if self._docker is None or not self._ready:
            return

        def remove_builds():
            labels = [f"{LABEL_SESSION}={self.session}", f"{LABEL_ROLE}=build", f"{LABEL_DEPLOYMENT}={deployment_key}"]
            for c in self.docker.containers.list(all=True, filters={"label": labels}, sparse=True):
                with contextlib.suppress(Exception):
                    c.remove(force=True, v=True)
        with contextlib.suppress(Exception):
            await self._call(remove_builds)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.pool.close()
        await self.client.close()
        if self._docker is not None and self._ready:
            # Builds still running, or anything else this executor object created.
            def remove_rest():
                for c in self.docker.containers.list(all=True, filters={"label": f"{LABEL_SESSION}={self.session}"}):
                    with contextlib.suppress(Exception):
                        c.remove(force=True, v=True)
            with contextlib.suppress(Exception):
                await self._call(remove_rest)
        if self._events is not None:
            with contextlib.suppress(Exception):
                self._events.close()
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._docker is not None:
            with contextlib.suppress(Exception):
                self._docker.close()


async def _http_answers(port: int, timeout: float = 1.0) -> bool:
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(b"GET /__opr/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        return line.startswith(b"HTTP/")
    except (OSError, asyncio.TimeoutError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

"""The data dir holds secret variable values and user code: it is the owner's only (0700), the
database and its WAL/shared-memory files are 0600, and what the server writes under its umask
(0o077) is never group or world accessible."""
from __future__ import annotations

import os
import stat
import sqlite3

from security_helpers import call, deploy_marker, marks


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_data_dir_and_database_are_owner_only(server_factory, tmp_path):
    data = tmp_path / "fresh-data"
    srv = server_factory(data_dir=data)
    mark_file = tmp_path / "marks.txt"
    deploy_marker(srv.endpoint, "fm", None, "marker", mark_file, tmp_path)
    r = call(srv.endpoint, "POST", "/functions/marker/variables", "fm",
             json={"variableId": "secret", "key": "TOKEN", "value": "s3cr3t-value", "secret": True})
    assert r.status_code == 201
    assert call(srv.endpoint, "POST", "/functions/marker/executions", "fm", json={"body": "x"}).status_code == 201
    assert marks(mark_file) == ["x"]

    assert mode(data) == 0o700
    for name in ("emulator.db", "emulator.db-wal", "emulator.db-shm"):
        assert (data / name).exists(), name
        assert mode(data / name) == 0o600, name
    # The secret is in the database; nobody but the owner can open it.
    assert b"s3cr3t-value" in (data / "emulator.db").read_bytes() + (data / "emulator.db-wal").read_bytes()
    # Everything the server made below: directories owner-only; no file writable by others, and
    # the ones it writes itself (not code extracted with its archive's modes) owner-only.
    seen = 0
    for root, dirs, files in os.walk(data):
        for name in dirs:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                assert mode(path) & 0o077 == 0, (path, oct(mode(path)))
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            seen += 1
            assert mode(path) & 0o022 == 0, (path, oct(mode(path)))
            if name.endswith((".tar.gz", ".log", ".db", "-wal", "-shm")):
                assert mode(path) & 0o077 == 0, (path, oct(mode(path)))
    assert seen > 3


def test_existing_lax_data_dir_is_tightened(server_factory, tmp_path):
    data = tmp_path / "old-data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    sqlite3.connect(data / "emulator.db").close()  # left by an older version, world-readable
    os.chmod(data / "emulator.db", 0o644)
    srv = server_factory(data_dir=data)
    assert call(srv.endpoint, "GET", "/functions", "fm").status_code == 200
    assert mode(data) == 0o700
    assert mode(data / "emulator.db") == 0o600


def test_foreign_existing_directory_is_not_chmodded(server_factory, tmp_path):
    # A directory the emulator did not make and that holds no emulator.db (say a shared one) keeps
    # its mode; what the server puts into it is still owner-only.
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    srv = server_factory(data_dir=shared)
    assert call(srv.endpoint, "GET", "/functions", "fm").status_code == 200
    assert mode(shared) == 0o1777
    assert mode(shared / "emulator.db") == 0o600

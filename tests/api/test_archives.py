"""Hostile and broken deployment archives are rejected with a clear error and write nothing outside."""
from __future__ import annotations

import gzip
import io
import tarfile
import uuid
from pathlib import Path

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions


def tar_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link_member(name: str, target: str, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


@pytest.fixture(scope="module")
def fx(server):
    functions = Functions(Client().set_endpoint(server.endpoint).set_project("archives").set_key("k"))
    functions.create("target", "Target", "python-3.11", entrypoint="main.py")
    return functions


def outside_marker() -> Path:
    return Path("/tmp") / f"emulator-escape-{uuid.uuid4().hex}"


def cases(tmp: Path, marker: Path):
    device = tarfile.TarInfo("dev")
    device.type = tarfile.CHRTYPE
    return {
        "traversal": tar_with(tmp / "t.tar.gz", [file_member("main.py"), file_member(f"../../../../../..{marker}")]),
        "dotdot": tar_with(tmp / "d.tar.gz", [file_member("src/../../escape.txt")]),
        "absolute": tar_with(tmp / "a.tar.gz", [file_member(str(marker))]),
        "symlink_out": tar_with(tmp / "s.tar.gz", [link_member("link", str(marker.parent)),
                                                   file_member(f"link/{marker.name}")]),
        "symlink_relative_out": tar_with(tmp / "r.tar.gz", [link_member("up", "../../../../..")]),
        "hardlink_out": tar_with(tmp / "h.tar.gz", [link_member("passwd", "/etc/passwd", hard=True)]),
        "device": tar_with(tmp / "dev.tar.gz", [(device, None)]),
    }


def test_hostile_archives_are_rejected(fx, server, tmp_path):
    marker = outside_marker()
    for name, archive in cases(tmp_path, marker).items():
        with pytest.raises(AppwriteException) as err:
            fx.create_deployment("target", InputFile.from_path(str(archive)), activate=True)
        assert err.value.code == 400 and err.value.type == "storage_invalid_file", name
        assert "Invalid deployment archive" in err.value.message, name
        assert not marker.exists(), name
    assert fx.list_deployments("target").total == 0
    # Nothing was left behind inside the data dir either, and the server still serves.
    assert not list(server.data_dir.rglob("escape.txt"))
    assert fx.get("target").name == "Target"


def test_not_gzip_and_not_tar(fx, tmp_path):
    plain = tmp_path / "plain.tar.gz"
    plain.write_text("this is not an archive")
    gz_not_tar = tmp_path / "gz.tar.gz"
    gz_not_tar.write_bytes(gzip.compress(b"not a tar file at all" * 100))
    truncated = tmp_path / "trunc.tar.gz"
    tar_with(truncated, [file_member("main.py", b"y" * 10000)])
    truncated.write_bytes(truncated.read_bytes()[:60])
    for archive, words in ((plain, "not a gzip"), (gz_not_tar, "not a valid tar.gz"), (truncated, "not a valid tar.gz")):
        with pytest.raises(AppwriteException) as err:
            fx.create_deployment("target", InputFile.from_path(str(archive)), activate=True)
        assert (err.value.code, err.value.type) == (400, "storage_invalid_file")
        assert words in err.value.message


def test_wrong_extension_and_empty(fx, tmp_path):
    zipfile = tmp_path / "code.zip"
    zipfile.write_bytes(b"PK\x03\x04")
    with pytest.raises(AppwriteException) as err:
        fx.create_deployment("target", InputFile.from_path(str(zipfile)), activate=True)
    assert (err.value.code, err.value.type) == (400, "storage_file_type_unsupported")


def test_archive_expanding_too_far_is_rejected(fx, tmp_path):
    # 510 MB of zeros compresses to about half a megabyte: a classic decompression bomb.
    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 510 * 1024 * 1024

        class Zeros(io.RawIOBase):
            remaining = info.size

            def readable(self):
                return True

            def readinto(self, b):
                n = min(len(b), self.remaining)
                b[:n] = bytes(n)
                self.remaining -= n
                return n

        tar.addfile(info, io.BufferedReader(Zeros(), 1 << 20))
    assert bomb.stat().st_size < 5 * 1024 * 1024
    with pytest.raises(AppwriteException) as err:
        fx.create_deployment("target", InputFile.from_path(str(bomb)), activate=True)
    assert err.value.type == "storage_invalid_file" and "500 MB" in err.value.message


def test_links_inside_the_deployment_are_fine(fx, tmp_path):
    archive = tar_with(tmp_path / "ok.tar.gz", [
        file_member("lib/real.py", b"VALUE = 'linked'\n"),
        link_member("helper.py", "lib/real.py"),
        file_member("main.py", b"import helper\ndef main(context):\n    return context.res.text(helper.VALUE)\n"),
    ])
    dep = fx.create_deployment("target", InputFile.from_path(str(archive)), activate=True)
    from test_python_sdk import wait_build
    assert wait_build(fx, "target", dep.id).status.value == "ready"
    assert fx.create_execution("target").responsebody == "linked"

"""What a contract run produces: one execution's `Result` and one check's `CheckResult`, and the
`expect` assertion the checks fail with."""
from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Result:
    status: int
    headers: dict[str, str]  # lower-cased keys; repeated headers joined with ", "
    body: bytes
    logs: str = ""
    errors: str = ""
    header_list: list[tuple[str, str]] = field(default_factory=list)  # as received, lower-cased keys
    log_id: str = ""  # x-open-runtimes-log-id (DirectDriver only)
    log_files: bool = False  # whether <id>_logs.log / <id>_errors.log existed (DirectDriver only)

    @classmethod
    def received(cls, status: int, header_list: list[tuple[str, str]], body: bytes, **fields) -> "Result":
        """A result from headers as received: repeated ones joined into `headers` with ", "."""
        merged: dict[str, str] = {}
        for k, v in header_list:
            merged[k] = f"{merged[k]}, {v}" if k in merged else v
        return cls(status, merged, body, header_list=header_list, **fields)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.header_list if k == name.lower()]

    def short(self) -> str:
        body = self.text
        if len(body) > 200:
            body = body[:200] + f"...({len(self.body)} bytes)"
        return (f"status={self.status} body={body!r} content-type={self.headers.get('content-type')!r} "
                f"logs={self.logs[:300]!r} errors={self.errors[:300]!r}")


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    skipped: bool = False


class CheckFailed(AssertionError):
    pass


class ToolchainMissing(RuntimeError):
    """The runtime's toolchain is not installed; the message is the install hint."""


def expect(condition, message: str, result: Result | None = None) -> None:
    if not condition:
        raise CheckFailed(message + (f"\n  got: {result.short()}" if result is not None else ""))


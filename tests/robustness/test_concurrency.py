"""1,000 requests at once, reads and writes mixed: every one answered, nothing lost.

Creates variables, queues async executions, runs sync executions and reads the function and the
lists all at the same time from 1,000 concurrent connections; then the stored counts must equal
the number of creates that were acknowledged, and every queued execution must complete (the
bounded queue applies backpressure, it never drops).
"""
from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from support import make_archive

pytestmark = pytest.mark.timeout(240)
HEADERS = {"X-Appwrite-Project": "crowd", "X-Appwrite-Key": "k"}
CODE = "def main(context):\n    return context.res.text(context.req.body_text.upper())\n"


async def setup(s: aiohttp.ClientSession, base: str, tmp_path) -> None:
    async with s.post(f"{base}/functions", json={"functionId": "crowd", "name": "crowd", "runtime": "python-3.11",
                                                 "entrypoint": "main.py", "timeout": 30}, headers=HEADERS) as r:
        assert r.status == 201, await r.text()
    form = aiohttp.FormData()
    form.add_field("activate", "true")
    form.add_field("code", make_archive({"main.py": CODE}, tmp_path / "code.tar.gz").read_bytes(),
                   filename="code.tar.gz", content_type="application/gzip")
    async with s.post(f"{base}/functions/crowd/deployments", data=form, headers=HEADERS) as r:
        assert r.status == 202, await r.text()
        deployment = (await r.json())["$id"]
    deadline = time.monotonic() + 120
    while True:
        async with s.get(f"{base}/functions/crowd", headers=HEADERS) as r:
            if (await r.json())["deploymentId"] == deployment:
                return
        assert time.monotonic() < deadline, "deployment not active"
        await asyncio.sleep(0.1)


async def crowd(base: str, tmp_path) -> None:
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=180)) as s:
        await setup(s, base, tmp_path)
        fn = f"{base}/functions/crowd"

        async def send(kind: str, i: int):
            if kind == "variable":
                req = s.post(f"{fn}/variables", json={"variableId": f"v{i}", "key": f"KEY_{i}", "value": str(i)},
                             headers=HEADERS)
            elif kind == "async":
                req = s.post(f"{fn}/executions", json={"body": f"a{i}", "async": True}, headers=HEADERS)
            elif kind == "sync":
                req = s.post(f"{fn}/executions", json={"body": f"s{i}"}, headers=HEADERS)
            elif kind == "list":
                req = s.get(f"{fn}/variables", headers=HEADERS)
            else:
                req = s.get(fn, headers=HEADERS)
            async with req as r:
                return kind, i, r.status, await r.json()

        kinds = ["variable"] * 300 + ["async"] * 250 + ["sync"] * 50 + ["list"] * 200 + ["get"] * 200
        results = await asyncio.gather(*(send(kind, i) for i, kind in enumerate(kinds)), return_exceptions=True)

        errors = [(kinds[i], r) for i, r in enumerate(results) if isinstance(r, BaseException)]
        assert not errors, f"{len(errors)} requests were not answered: {errors[:5]!r}"
        expected = {"variable": 201, "async": 202, "sync": 201, "list": 200, "get": 200}
        wrong = [(k, i, st, doc) for k, i, st, doc in results if st != expected[k]]
        assert not wrong, wrong[:5]
        for kind, i, _, doc in results:
            if kind == "sync":
                assert doc["status"] == "completed" and doc["responseBody"] == f"S{i}", (doc["status"], doc["errors"], doc["logs"])

        async with s.get(f"{fn}/variables", headers=HEADERS) as r:
            assert (await r.json())["total"] == 300
        queued = {doc["$id"] for kind, _, _, doc in results if kind == "async"}
        assert len(queued) == 250
        deadline = time.monotonic() + 120
        while True:
            async with s.get(f"{fn}/executions", params={"queries[0]": json.dumps({"method": "limit", "values": [1000]})},
                             headers=HEADERS) as r:
                docs = (await r.json())["executions"]
            done = {d["$id"]: d for d in docs if d["$id"] in queued and d["status"] in ("completed", "failed")}
            if len(done) == len(queued):
                break
            assert time.monotonic() < deadline, f"only {len(done)} of {len(queued)} async executions finished"
            await asyncio.sleep(0.2)
        failed = [d for d in done.values() if d["status"] != "completed"]
        assert not failed, failed[:2]
        assert len(docs) == 300  # 250 async + 50 sync, nothing else, nothing missing


def test_thousand_concurrent_requests(server_factory, tmp_path):
    srv = server_factory()
    asyncio.run(crowd(srv.endpoint, tmp_path))
    assert srv.proc.poll() is None
    assert "Traceback" not in srv.logs(), srv.logs()[-3000:]

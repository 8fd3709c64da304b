"""chronos-python 1.2.1, unmodified, drives wasmesos's Chronos through jobs' lives.

Usage: chronos_flow.py HOST:PORT DIGEST. Exits 0 when every step held."""
import os
import sys
import time

import chronos
from chronos import ChronosAPIError

SERVER, DIGEST = sys.argv[1], sys.argv[2]
PATIENCE = float(os.environ.get("WASMESOS_TEST_PATIENCE", "1") or 1)
client = chronos.connect([SERVER])


def eventually(what, probe, seconds=60):
    deadline = time.monotonic() + seconds * PATIENCE
    pause = 0.01
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for " + what)
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def job(name):
    found = [j for j in client.list() if j["name"] == name]
    return found[0] if found else None


def definition(name, **extra):
    base = {
        "name": name,
        "command": "hello.wasm",
        "owner": "ops@example.com",
        "disabled": False,
        "mem": 32,
        "cpus": 0.1,
        "fetch": [{"uri": "wasmesos://sha256:" + DIGEST, "output_file": "hello.wasm"}],
    }
    base.update(extra)
    return base


assert client.add(definition("py-nightly", schedule="R/2100-01-01T00:00:00Z/P1D")) is None
listed = job("py-nightly")
assert listed["successCount"] == 0 and listed["lastSuccess"] == "" and listed["lastError"] == "", listed
assert listed["schedule"] == "R/2100-01-01T00:00:00Z/P1D", listed
assert [j["name"] for j in client.search(name="nightly")] == ["py-nightly"]
assert client.search(command="no-such-command") == []

assert client.add(definition("py-report", parents=["py-nightly"])) is None
assert job("py-report")["parents"] == ["py-nightly"]

assert client.run("py-nightly") is None
eventually("the manual run", lambda: job("py-nightly")["successCount"] == 1)
eventually("the dependent run", lambda: job("py-report")["successCount"] == 1)
graph = client.scheduler_graph()
assert "link,py-nightly,py-report" in graph, graph

assert client.update(definition("py-nightly", schedule="R/2100-01-01T00:00:00Z/PT12H", description="twice a day")) is None
updated = job("py-nightly")
assert updated["description"] == "twice a day" and updated["successCount"] == 0, updated

assert client.delete_tasks("py-nightly") is None
try:
    client.run("py-nobody")
    raise SystemExit("an unknown job was run")
except ChronosAPIError:
    pass

assert client.delete("py-report") is None
assert client.delete("py-nightly") is None
assert client.list() == []
print("chronos-python flow passed")

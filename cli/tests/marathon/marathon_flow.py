"""marathon-python 0.13.0, unmodified, drives wasmesos's Marathon through an app's life.

Usage: marathon_flow.py MARATHON_URL DIGEST. Exits 0 when every step held."""
import collections
import collections.abc
import os
import sys
import time

# marathon-python 0.13.0 encodes nested objects with `collections.Iterable`, which Python
# 3.10 moved to `collections.abc`; restore the old name (the library itself is unchanged).
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable

from marathon import MarathonClient
from marathon.exceptions import NotFoundError
from marathon.models import MarathonApp, MarathonHealthCheck

URL, DIGEST = sys.argv[1], sys.argv[2]
PATIENCE = float(os.environ.get("WASMESOS_TEST_PATIENCE", "1") or 1)
APP = "/py/hello"
client = MarathonClient(URL)


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


def healthy(n):
    def probe():
        app = client.get_app(APP)
        ok = (app.tasks_running == n and app.tasks_healthy == n
              and len(app.tasks) == n and not app.deployments)
        return app if ok else None
    return probe


app = MarathonApp(
    cmd="http-hello.wasm", cpus=0.1, mem=64, instances=1,
    fetch=[{"uri": "wasmesos://sha256:" + DIGEST, "outputFile": "http-hello.wasm"}],
    health_checks=[MarathonHealthCheck(protocol="HTTP", path="/", port_index=0,
                                       grace_period_seconds=30, interval_seconds=1,
                                       timeout_seconds=1, delay_seconds=0)],
    backoff_seconds=0.2,
)
created = client.create_app(APP, app)
assert created.id == APP, created
assert created.instances == 1 and created.mem == 64, created
assert APP in [a.id for a in client.list_apps()]

one = eventually("one healthy task", healthy(1))
tasks = client.list_tasks(APP)
assert [t.id for t in tasks] == [one.tasks[0].id], tasks
assert tasks[0].state == "TASK_RUNNING" and tasks[0].ports, tasks

client.scale_app(APP, instances=2)
two = eventually("two healthy tasks", healthy(2))
victim = two.tasks[0].id
killed = client.kill_task(APP, victim)
assert killed.id == victim, killed
eventually("the killed task replaced",
           lambda: (lambda a: a and victim not in [t.id for t in a.tasks] and a)(healthy(2)()))
after = client.get_app(APP)
answer = client.kill_task(APP, after.tasks[0].id, scale=True)
assert "deploymentId" in answer, answer
eventually("one task after a kill with scale", healthy(1))
assert client.get_app(APP).instances == 1
assert [t.app_id for t in client.list_tasks()] == [APP]

client.delete_app(APP)


def gone():
    try:
        client.get_app(APP)
        return False
    except NotFoundError:
        return True


eventually("the app deleted", gone)
eventually("its tasks gone", lambda: not client.list_tasks())
print("marathon-python flow passed")

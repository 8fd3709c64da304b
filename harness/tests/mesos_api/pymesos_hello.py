"""A pymesos scheduler, written as for Apache Mesos: it launches one task whose command names
an uploaded Wasm component and exits 0 once the task is TASK_FINISHED (1 on any other
terminal state, 2 after its deadline).

Usage: pymesos_hello.py HOST:PORT DIGEST
"""

import logging
import os
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
            "TASK_DROPPED", "TASK_GONE"}


class HelloScheduler(Scheduler):
    def __init__(self, digest):
        self.digest = digest
        self.launched = False
        self.outcome = None

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id, Dict(refuse_seconds=60))
                continue
            task = Dict()
            task.task_id.value = "pymesos-hello"
            task.agent_id.value = offer.agent_id.value
            task.name = "hello from pymesos"
            task.command.uris = [Dict(value="wasmesos://sha256:" + self.digest,
                                      output_file="hello.wasm")]
            task.command.value = "hello.wasm --from pymesos"
            task.resources = [
                Dict(name="cpus", type="SCALAR", scalar=Dict(value=0.1)),
                Dict(name="mem", type="SCALAR", scalar=Dict(value=64)),
            ]
            driver.launchTasks(offer.id, [task], Dict(refuse_seconds=1))
            self.launched = True

    def statusUpdate(self, driver, update):
        print("status", update.task_id.value, update.state, update.get("message", ""),
              flush=True)
        if update.state in TERMINAL:
            self.outcome = update.state
            driver.stop()

    def error(self, driver, message):
        print("error", message, flush=True)
        self.outcome = "ERROR"
        driver.stop()


def main():
    master, digest = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.INFO)
    scheduler = HelloScheduler(digest)
    framework = Dict(user="nobody", name="pymesos-hello", hostname="localhost")
    driver = MesosSchedulerDriver(scheduler, framework, master, use_addict=True)
    deadline = threading.Timer(120, lambda: os._exit(2))
    deadline.daemon = True
    deadline.start()
    driver.run()
    sys.exit(0 if scheduler.outcome == "TASK_FINISHED" else 1)


if __name__ == "__main__":
    main()

"""Drive a monitor with the qemu.qmp library; print one JSON line of facts.

Usage: python3 qemu_qmp_session.py SOCKET_PATH

Every step has a timeout, so a silent server makes this exit non-zero
instead of hanging. The Rust test (examples/tests/python_client.rs)
asserts on the printed facts.
"""

import asyncio
import json
import sys

from qemu.qmp import EventListener, ExecuteError, QMPClient

STEP = 10.0


async def session(path):
    qmp = QMPClient("python-client-test")
    await asyncio.wait_for(qmp.connect(path), STEP)
    facts = {"greeting": qmp.greeting._asdict()}
    try:
        facts["version"] = await asyncio.wait_for(qmp.execute("query-version"), STEP)
        commands = await asyncio.wait_for(qmp.execute("query-commands"), STEP)
        facts["commands"] = [c["name"] for c in commands]
        facts["status"] = await asyncio.wait_for(qmp.execute("query-status"), STEP)
        # exec-oob is only accepted as a request form once the session has
        # negotiated oob; query-status is then refused for not allowing it.
        try:
            await asyncio.wait_for(qmp.execute("query-status", oob=True), STEP)
            facts["exec_oob"] = "accepted"
        except ExecuteError as err:
            facts["exec_oob"] = f"{err.error_class}: {err}"
        # Several commands in flight at once: an in-band x-sleep, an
        # out-of-band x-ping that overtakes it, and a query queued behind it.
        finished = []

        async def run(name, args=None, oob=False):
            result = await asyncio.wait_for(qmp.execute(name, args, oob=oob), STEP)
            finished.append(name)
            return result

        results = await asyncio.gather(
            run("x-sleep", {"ms": 200}),
            run("x-ping", oob=True),
            run("query-version"),
        )
        facts["concurrent"] = {"results": results, "finished": finished}
        facts["hmp_version"] = await asyncio.wait_for(
            qmp.execute("human-monitor-command", {"command-line": "info version"}), STEP
        )
        listener = EventListener("HEARTBEAT")
        with qmp.listen(listener):
            event = await asyncio.wait_for(listener.get(), STEP)
        facts["event"] = dict(event)
    finally:
        await asyncio.wait_for(qmp.disconnect(), STEP)
    return facts


def main():
    facts = asyncio.run(session(sys.argv[1]))
    print(json.dumps(facts))


if __name__ == "__main__":
    main()

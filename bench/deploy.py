"""Benchmark: deploying large models (`workflow-app deploy`'s path) on SQLite while others write.

Usage: python bench/deploy.py [--tasks 1000 5000]
Builds a model of N user tasks in two lanes, an exclusive gateway after every tenth task that sends the
work back ten steps when it was not approved, and a boundary timer on every fiftieth; deploys it into a
fresh SQLite database (parse, validate, serialise outside the transaction, then store) while another
thread writes a row every 20 ms. Prints `deploy N tasks: X s (CPU Y s)` and the longest wait of that
other writer: the database must stay writable while a large model is read.
Targets (issue #21): 1,000 tasks < 2 s, 5,000 tasks < 10 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from workflow_app.services.model_registry import prepare, store
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def model(tasks: int) -> bytes:
    """The benchmark's model: a long loop-backed chain across two lanes, with timers."""
    nodes, flows, lanes = ['<bpmn:startEvent id="StartEvent_1" />'], [], {"企业": ["StartEvent_1"], "监管部门": []}
    previous = "StartEvent_1"
    for i in range(tasks):
        lane = "监管部门" if i % 10 == 9 else "企业"
        nodes.append(f'<bpmn:userTask id="Task_{i}" name="第 {i + 1} 步" />')
        lanes[lane].append(f"Task_{i}")
        flows.append((previous, f"Task_{i}", ""))
        previous = f"Task_{i}"
        if i % 50 == 49:
            nodes.append(f'<bpmn:boundaryEvent id="Timer_{i}" attachedToRef="Task_{i}" cancelActivity="false">'
                         '<bpmn:timerEventDefinition><bpmn:timeDuration>"P5D"</bpmn:timeDuration>'
                         '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
                         f'<bpmn:endEvent id="TimerEnd_{i}" />')
            lanes[lane] += [f"Timer_{i}", f"TimerEnd_{i}"]
            flows.append((f"Timer_{i}", f"TimerEnd_{i}", ""))
        if i % 10 == 9:
            gateway = f"Gateway_{i}"
            nodes.append(f'<bpmn:exclusiveGateway id="{gateway}" default="Flow_{gateway}_on" />')
            lanes[lane].append(gateway)
            flows.append((previous, gateway, ""))
            flows.append((gateway, f"Task_{i - 9}", "approved == False"))
            previous = gateway
    nodes.append('<bpmn:endEvent id="EndEvent_1" />')
    lanes["企业"].append("EndEvent_1")
    flows.append((previous, "EndEvent_1", ""))
    flow_xml = []
    for k, (source, target, condition) in enumerate(flows):
        flow_id = f"Flow_{source}_on" if source.startswith("Gateway") and not condition else f"Flow_{k}"
        body = (f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
                "</bpmn:conditionExpression>") if condition else ""
        flow_xml.append(f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{body}'
                        "</bpmn:sequenceFlow>")
    lane_xml = "".join(f'<bpmn:lane id="Lane_{n}" name="{name}">'
                       + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs) + "</bpmn:lane>"
                       for n, (name, refs) in enumerate(lanes.items()))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" targetNamespace="bench">'
            f'<bpmn:process id="bench_{tasks}" name="基准 {tasks}" isExecutable="true">'
            f'<bpmn:laneSet id="Lanes">{lane_xml}</bpmn:laneSet>{"".join(nodes)}{"".join(flow_xml)}'
            "</bpmn:process></bpmn:definitions>").encode()


class Writer(threading.Thread):
    """Another user: one small write transaction every 20 ms; records the longest one."""

    def __init__(self, factory) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.factory, self.longest, self.stop = factory, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            with transaction(self.factory) as session:
                session.execute(text("UPDATE bench_writes SET n = n + 1"))
            self.longest = max(self.longest, time.perf_counter() - started)
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        factory = make_session_factory(engine)
        print("setting up the database…", file=sys.stderr, flush=True)
        init_db(engine, factory, ROOT / "bpmn", NOW)
        with transaction(factory) as session:
            session.execute(text("CREATE TABLE bench_writes (n INTEGER)"))
            session.execute(text("INSERT INTO bench_writes VALUES (0)"))
        for tasks in args.tasks:
            xml = model(tasks)
            print(f"deploying {tasks:,} tasks ({len(xml) / 1024:,.0f} KB)…", file=sys.stderr, flush=True)
            writer = Writer(factory)
            writer.start()
            wall, cpu = time.perf_counter(), time.process_time()
            prepared = prepare(xml, f"bench_{tasks}.bpmn")
            with transaction(factory) as session:
                version = store(session, prepared, NOW)
                process_id = version.process_id
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            writer.stop.set()
            writer.join()
            print(f"deploy {tasks} tasks ({process_id}): {wall:.2f} s (CPU {cpu:.2f} s); "
                  f"longest write by another user meanwhile: {writer.longest * 1000:.0f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()

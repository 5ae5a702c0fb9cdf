"""Benchmark: two dispatchers draining 10,000 pending webhook notices through a 50 ms webhook, then 2,000 SMS
notices through a local SMS provider server (tests/sms_providers_support.py: it checks every request's
signature as Alibaba Cloud / Tencent Cloud do) answering in 50 ms.

Usage: python bench/dispatch.py [--notices N] [--sms N] [--sms-provider aliyun|tencent] [--delay S]
                               [--dispatchers D] [--database-url URL]
Seeds N pending webhook notices, starts a local webhook receiver (threaded HTTP server) that
answers each request after S seconds and counts every idempotency key it receives, then runs
D dispatcher processes (each its own engine, WORKFLOW_APP_DISPATCH_WEBHOOK_WORKERS workers,
run after run as the scheduler would) until every notice is sent. Prints `notices/s`,
`duplicates` (keys received more than once) and the total time. Target (issue #18): ≥ 100
notices/s with 0 duplicates. The SMS run (WORKFLOW_APP_DISPATCH_SMS_WORKERS workers per process) prints the
same figures (`sms notices/s`, target ≥ 50; `sms duplicates`: an OutId / SessionContext received twice, target
0) and the signatures the server refused. Default database: a temporary SQLite file; a PostgreSQL URL is used
in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from lifecycle import progress
from sqlalchemy import func, insert, select, text

from workflow_app.config import Settings, SmsSettings, SmsTemplate
from workflow_app.services.dispatch import dispatch
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import Notice, Organisation, User

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from sms_providers_support import KEY_ID, SDK_APP_ID, SECRET, SIGN_NAME, serve  # noqa: E402  (the test server)

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
SCHEMA = "bench_dispatch"


class Receiver(ThreadingHTTPServer):
    """The webhook: answers after `delay` seconds and counts every idempotency key."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, delay: float) -> None:
        self.delay, self.keys, self.lock = delay, Counter[str](), threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.keys[body["idempotency_key"]] += 1
        time.sleep(self.server.delay)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"errcode":0,"errmsg":"ok"}')

    def log_message(self, *args: object) -> None:
        pass


def seed(url: str, count: int, webhook: str, sms: int) -> None:
    """A migrated database with one organisation, `count` pending webhook notices to it and `sms` pending SMS
    notices to a person of it."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    init_db(engine, factory, ROOT / "bpmn", NOW)
    with transaction(factory) as s:
        org = Organisation(code="E1", name="企业一", kind="enterprise", webhook_url=webhook)
        s.add(org)
        s.flush()
        s.execute(insert(Notice), [
            {"idempotency_key": f"bench:{n}:webhook", "channel": "webhook", "kind": "overdue",
             "recipient_org_id": org.id, "subject": f"隐患整改已逾期 {n}", "body": "逾期", "created_at": NOW,
             "status": "pending", "attempts": 0} for n in range(count)])
        person = User(username="safety", display_name="安全员", role="enterprise", organisation_id=org.id,
                      password_hash="-", phone="13800138000")
        s.add(person)
        s.flush()
        s.execute(insert(Notice), [
            {"idempotency_key": f"bench:{n}:sms", "channel": "sms", "kind": "overdue", "recipient_org_id": org.id,
             "recipient_user_id": person.id, "subject": f"隐患整改已逾期：YH-{n} 配电箱门未关闭（整改时限 2026-11-20）",
             "body": "逾期", "created_at": NOW, "status": "pending", "attempts": 0} for n in range(sms)])
    engine.dispose()


def sms_settings(provider: str, endpoint: str) -> SmsSettings:
    """The SMS settings of the bench: the local provider server, its approved template for overdue."""
    return SmsSettings(provider=provider, access_key_id=KEY_ID, access_key_secret=SECRET, sign_name=SIGN_NAME,
                       sdk_app_id=SDK_APP_ID, region="cn-hangzhou", endpoint=endpoint,
                       templates={"overdue": SmsTemplate("SMS_100" if provider == "aliyun" else "1001",
                                                         ("code", "title", "due"))},
                       workers=Settings.from_env().sms.workers)


def dispatcher(url: str, channel: str, sms: SmsSettings | None) -> None:
    """One scheduler process: dispatch runs of `channel` back to back until nothing is left to send."""
    from workflow_app.scheduling import channels_from
    from workflow_app.services.sms import SmsChannel

    engine = make_engine(url)
    factory = make_session_factory(engine)
    channels = {"webhook": channels_from(Settings.from_env())["webhook"]} if sms is None else \
        {"sms": SmsChannel(sms)}
    while dispatch(factory, channels, datetime.now(UTC)).sent or _pending(factory, channel):
        pass
    engine.dispose()


def _pending(factory, channel: str) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return s.scalar(select(func.count(Notice.id)).where(Notice.status == "pending",
                                                            Notice.channel == channel)) or 0


def _in_own_schema(url: str) -> str:
    """A PostgreSQL URL whose connections work in SCHEMA (created empty), so the bench touches nothing else."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    return url + ("&" if "?" in url else "?") + "options=" + quote(f"-csearch_path={SCHEMA}")


def drain(url: str, args: argparse.Namespace, channel: str, total: int, sms: SmsSettings | None) -> tuple[float, int]:
    """Run the dispatcher processes until every notice of `channel` is sent; the seconds it took and how many
    are left pending."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    processes = [multiprocessing.Process(target=dispatcher, args=(url, channel, sms)) for _ in range(args.dispatchers)]
    for process in processes:
        process.start()
    while any(p.is_alive() for p in processes):
        progress(f"{channel} sent", total - _pending(factory, channel), total)
        time.sleep(1)
    elapsed, left = time.perf_counter() - started, _pending(factory, channel)
    engine.dispose()
    return elapsed, left


def run(url: str, args: argparse.Namespace) -> None:
    receiver = Receiver(args.delay)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    provider = serve(args.sms_provider)
    provider.delay = args.delay
    seed(url, args.notices, f"http://127.0.0.1:{receiver.server_port}/robot", args.sms)
    elapsed, left = drain(url, args, "webhook", args.notices, None)
    receiver.shutdown()
    duplicates = sum(1 for times in receiver.keys.values() if times > 1)
    print(f"{make_engine(url).dialect.name}: {args.notices} webhook notices, {args.delay * 1000:.0f} ms webhook, "
          f"{args.dispatchers} dispatchers, left pending: {left}, keys received: {len(receiver.keys)}")
    print(f"notices/s: {(args.notices - left) / elapsed:.0f} (target >= 100)")
    print(f"duplicates: {duplicates} (target 0)")
    print(f"total: {elapsed:.1f} s")
    if not args.sms:
        return
    elapsed, left = drain(url, args, "sms", args.sms, sms_settings(args.sms_provider, provider.url))
    provider.shutdown()
    references = Counter(message["reference"] for message in provider.sent)
    print(f"{args.sms} SMS notices, {args.sms_provider} provider server answering in {args.delay * 1000:.0f} ms, "
          f"left pending: {left}, refused signatures: {provider.refused_signatures}")
    print(f"sms notices/s: {(args.sms - left) / elapsed:.0f} (target >= 50)")
    print(f"sms duplicates: {sum(1 for times in references.values() if times > 1)} (target 0)")
    print(f"sms total: {elapsed:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notices", type=int, default=10_000)
    parser.add_argument("--sms", type=int, default=2_000, help="SMS notices (0: no SMS run)")
    parser.add_argument("--sms-provider", choices=("aliyun", "tencent"), default="aliyun")
    parser.add_argument("--delay", type=float, default=0.05,
                        help="seconds the webhook and the SMS provider take to answer")
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    if args.database_url:
        url = _in_own_schema(args.database_url)
        try:
            run(url, args)
        finally:
            engine = make_engine(args.database_url)
            with engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            engine.dispose()
        return
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{Path(folder) / 'dispatch.db'}", args)


if __name__ == "__main__":
    main()

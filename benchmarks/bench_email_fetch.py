"""Benchmark: fetch and label 1,000 messages from a local Dovecot through the email connector.

    .venv/bin/python benchmarks/bench_email_fetch.py [--count 1000]

Starts a private Dovecot (tests/servers/mail.py), delivers ``count`` messages cycled from the seed
set (a realistic mix: HTML, calendars, odd charsets, broken MIME), then measures two paths:

* list:  the path of email.list / email.search / the watcher: one FETCH of summary headers per 250
         messages, summarised and labelled;
* read:  the path of email.read for every message: structure, text part, safe text, label.

Prints messages per second and memory: tracemalloc peak (Python allocations during the pass) and
the process's resident set size (current and peak).
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from meshclaw.connectors.email.client import MailClient  # noqa: E402
from meshclaw.connectors.email.labels import message_label  # noqa: E402
from meshclaw.connectors.email.reading import read_message, summarize  # noqa: E402
from meshclaw.connectors.email.seed import seed_messages  # noqa: E402
from meshclaw.connectors.email.settings import EmailSettings  # noqa: E402
from tests.servers.mail import MailServers  # noqa: E402

ALICE = "alice@example.com"


def rss_mb() -> tuple[float, float]:
    """Current and peak resident set size in MB (from /proc, falling back to getrusage)."""
    current = peak = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current, peak


def corpus(count: int) -> list[bytes]:
    seeds = seed_messages()
    out = []
    for i in range(count):
        raw = seeds[i % len(seeds)]
        out.append(raw.replace(b"Message-ID: <seed-", f"Message-ID: <bench{i}-seed-".encode(), 1))
    return out


def measure(label: str, count: int, work) -> dict[str, float]:
    """Time one pass, then repeat it under tracemalloc for its allocation peak (tracemalloc slows
    Python several times over, so the two are measured apart)."""
    gc.collect()
    t = time.perf_counter()
    items = work()
    elapsed = time.perf_counter() - t
    gc.collect()
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    current_rss, peak_rss = rss_mb()
    print(f"{label:<6} {count} messages in {elapsed:6.2f} s = {count / elapsed:7.0f} msg/s | "
          f"tracemalloc peak {peak / 2**20:6.1f} MB | RSS {current_rss:6.1f} MB (peak {peak_rss:6.1f} MB)")
    return {"seconds": elapsed, "per_second": count / elapsed, "tracemalloc_peak_mb": peak / 2**20,
            "rss_mb": current_rss, "rss_peak_mb": peak_rss, "items": items}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()

    t = time.perf_counter()
    servers = MailServers.start(smtp=False)
    print(f"dovecot started in {time.perf_counter() - t:.2f} s on 127.0.0.1:{servers.imap_port}")
    try:
        messages = corpus(args.count)
        t = time.perf_counter()
        servers.deliver_many(messages, ALICE)
        size = sum(map(len, messages))
        print(f"seeded {len(messages)} messages ({size / 2**20:.1f} MB) over LMTP in {time.perf_counter() - t:.2f} s")
        settings = EmailSettings(imap_host="127.0.0.1", imap_port=servers.imap_port, username=ALICE,
                                 password="env:UNUSED", security="plain", address=ALICE)
        password = servers.password(ALICE)
        rss_before, _ = rss_mb()
        print(f"RSS before fetching: {rss_before:.1f} MB")

        def list_pass() -> int:
            with MailClient(settings, password) as client:
                client.select("INBOX")
                summaries = [summarize(i) for i in client.headers(client.search("ALL"))]
                labels = [message_label(settings, "INBOX", s.sender) for s in summaries]
            assert all(label.trust.value == "untrusted" for label in labels)
            return len(labels)

        def read_pass() -> int:
            n = 0
            with MailClient(settings, password) as client:
                client.select("INBOX")
                for uid in client.search("ALL"):
                    summary, view = read_message(client, uid, 4000)
                    message_label(settings, "INBOX", summary.sender)
                    n += bool(view["text"])
            return n

        listed = measure("list", args.count, list_pass)
        read = measure("read", args.count, read_pass)
        assert listed["items"] == args.count, listed
        assert read["items"] == args.count, read
        unread = sum(b"\\Seen" not in flags for flags, _ in servers.messages(ALICE))
        print(f"messages still unread after both passes: {unread} of {args.count}")
    finally:
        servers.stop()


if __name__ == "__main__":
    main()

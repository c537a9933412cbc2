#!/usr/bin/env python3
"""Replay the requests a target logged, as fast as it answers, to measure the target's own limit.

    python3 bench/replay.py LOG --port N [--concurrency 8]

LOG is a target's request log written with MB_REQUEST_LOG and MB_REQUEST_LOG_REPLAY=1
(targets/common/request_log.py): one JSON line per request the target answered, with its raw
request target, headers and body. The requests are sent again, in the log's order, by
`--concurrency` workers that each keep one connection alive and take the next request as soon as
their previous one is answered (no pacing at all), so the time taken is what this target needs to
serve this mix at that concurrency. Prints `requests seconds errors` on one line.

Standard library only. The replay reaches the target after the scan, so sessions the scan closed
and objects it deleted answer faster (401, 404) than they did: the limit measured is, if anything,
lower than the real one, which makes the scan's ratio to it look worse, never better.
"""

import argparse
import base64
import http.client
import json
import queue
import threading
import time

# Framing headers are recomputed by http.client; the rest are sent as logged.
SKIP = {"content-length", "transfer-encoding", "connection", "keep-alive", "expect", "upgrade"}


def load(path):
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass  # a line the target was still writing when the log was copied
    missing = [e for e in lines if "target" not in e]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} lines without replay fields (set MB_REQUEST_LOG_REPLAY=1)")
    return lines


def send(conn, entry):
    conn.putrequest(entry["method"], entry["target"], skip_host=True, skip_accept_encoding=True)
    body = base64.b64decode(entry.get("body_b64", ""))
    for name, value in entry["headers"]:
        if name not in SKIP:
            conn.putheader(name, value.encode("latin-1", "replace"))
    if body or entry["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE"):
        conn.putheader("content-length", str(len(body)))
    conn.endheaders(body or None)
    resp = conn.getresponse()
    resp.read()
    return resp


def worker(port, todo, errors, lock):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    while True:
        try:
            entry = todo.get_nowait()
        except queue.Empty:
            break
        try:
            resp = send(conn, entry)
            if resp.will_close:
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
            with lock:
                errors[0] += 1
    conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    entries = load(args.log)
    todo = queue.Queue()
    for entry in entries:
        todo.put(entry)
    errors, lock = [0], threading.Lock()
    started = time.monotonic()
    threads = [
        threading.Thread(target=worker, args=(args.port, todo, errors, lock)) for _ in range(args.concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{len(entries)} {time.monotonic() - started:.3f} {errors[0]}")


if __name__ == "__main__":
    main()

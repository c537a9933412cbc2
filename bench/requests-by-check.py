#!/usr/bin/env python3
"""Requests per check, from a scan run with MIDDLEBRICK_LOG=middlebrick_engine::wire=debug.

    MIDDLEBRICK_LOG=middlebrick_engine::wire=debug middlebrick scan URL ... 2> scan.stderr
    bench/requests-by-check.py scan.stderr

Per check: `sent`, the requests it put on the wire (answers shared by the malformed-input pass
are not sent again and not counted); `rep_own` and `rep_other`, reads byte-identical to one the
same identity already sent in the same round with nothing but known reads in between, repeated
by the same check (deliberate: a control sent twice for stability, a timing re-measured) or by
another check. A known read is a GET the spec documents as a read: it may still change state,
so repeats are counted, never answered from a cache.
"""
import collections
import re
import sys

LINE = re.compile(
    r'check="?([^" ]+)"? round=(\S+) operation="?([^"]*?)"? method=(\S+) '
    r'identity=(\S+) digest="?([0-9a-f]+)"? read=(\w+)'
)


def main(path: str) -> None:
    sent = collections.Counter()
    rep_own = collections.Counter()
    rep_other = collections.Counter()
    seen: dict[tuple[str, str], set[str]] = {}
    last_round = None
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.search(line)
            if not m:
                continue
            check, rnd, _op, _method, ident, digest, read = m.groups()
            sent[check] += 1
            if rnd != last_round:
                seen.clear()
                last_round = rnd
            if read == "false":
                seen.clear()
                continue
            checks = seen.setdefault((ident, digest), set())
            if checks:
                (rep_own if check in checks else rep_other)[check] += 1
            checks.add(check)
    print(f"{'check':34} {'sent':>6} {'rep_own':>7} {'rep_other':>9}")
    for check, n in sent.most_common():
        print(f"{check:34} {n:6d} {rep_own[check]:7d} {rep_other[check]:9d}")
    print(
        f"{'TOTAL':34} {sum(sent.values()):6d} "
        f"{sum(rep_own.values()):7d} {sum(rep_other.values()):9d}"
    )


if __name__ == "__main__":
    main(sys.argv[1])

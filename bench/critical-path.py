#!/usr/bin/env python3
"""Where a scan's wall time goes, from a scan run with MIDDLEBRICK_LOG=middlebrick_engine::timing=debug.

    MIDDLEBRICK_LOG=middlebrick_engine::timing=debug middlebrick scan URL ... 2> scan.stderr
    bench/critical-path.py scan.stderr

Prints each phase's wall time (from its start to the next phase's), then, per check round, the
longest per-operation check runs and every scan-wide run (`-`), longest first. Per-operation runs
overlap (operations run concurrently, checks on one operation one after another); the
operation whose checks add up to the most is the round's floor. Scan-wide runs that only read
run together; the others run one by one, so their sum is on the critical path.
"""
import collections
import datetime
import re
import sys

STAMP = re.compile(r"^(\S+Z)\s")
PHASE = re.compile(r'phase=(\S+)')
RUN = re.compile(r'check="?([^" ]+)"? operation="?([^"]*?)"? ms=(\d+)')
SHOWN = 8


def stamp(line: str):
    m = STAMP.match(line)
    if not m:
        return None
    return datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))


def main(path: str) -> None:
    phases: list[tuple[str, datetime.datetime]] = []
    runs: dict[str, list[tuple[str, str, int]]] = collections.defaultdict(list)
    last = None
    with open(path, errors="replace") as f:
        for line in f:
            t = stamp(line)
            if t:
                last = t
            if "middlebrick_engine::timing" not in line:
                continue
            p = PHASE.search(line)
            if p and t:
                phases.append((p.group(1), t))
                continue
            r = RUN.search(line)
            if r and phases:
                runs[phases[-1][0]].append((r.group(1), r.group(2), int(r.group(3))))
    if not phases:
        sys.exit("no timing lines: run the scan with MIDDLEBRICK_LOG=middlebrick_engine::timing=debug")
    print("phase                          wall s")
    for i, (name, t) in enumerate(phases):
        end = phases[i + 1][1] if i + 1 < len(phases) else last
        print(f"{name:<30} {(end - t).total_seconds():7.2f}")
    for name, _ in phases:
        if not runs.get(name):
            continue
        per_op = [r for r in runs[name] if r[1] != "-"]
        wide = sorted((r for r in runs[name] if r[1] == "-"), key=lambda r: -r[2])
        print(f"\n{name}")
        if per_op:
            sums = collections.Counter()
            for check, op, ms in per_op:
                sums[op] += ms
            print(f"  per-operation runs: {len(per_op)}, summed {sum(r[2] for r in per_op) / 1000:.1f} s")
            for op, ms in sums.most_common(3):
                print(f"    operation {op}: its checks {ms / 1000:.2f} s in all")
            for check, op, ms in sorted(per_op, key=lambda r: -r[2])[:SHOWN]:
                print(f"    {ms / 1000:6.2f} s  {check}  {op}")
        for check, _, ms in wide:
            print(f"  {ms / 1000:6.2f} s  {check}  (scan-wide)")


if __name__ == "__main__":
    main(sys.argv[1])

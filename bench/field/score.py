#!/usr/bin/env python3
"""Scores middlebrick reports against a field-corpus ground truth (bench/field/README.md).

    score.py run --truth NAME/ground_truth.json --run zero --report a.json [--report b.json …]
                 [--wall S] [--rss-kb N] [--identities N]      -> one JSON result on stdout
    score.py table RESULT.json …                               -> the text table
    score.py markdown RESULT.json …                            -> the table, Markdown
    score.py details --field DIR RESULT.json …                 -> documented flaws found and missed

A finding matches a flaw when the operation matches (method and path; `{…}` in the ground truth
matches any one segment; a "*" flaw matches any finding; a flaw that names a GraphQL operation,
`"graphql": "query pastes"`, only a finding with that `graphql_operation`) and the two share a
CWE. Standard
library only, so it runs wherever the benchmark runs.
"""

import argparse
import json
import os
import sys
from urllib.parse import urlparse

MEDIUM_OR_HIGHER = {"medium", "high", "critical"}


def segments(path):
    return [s for s in path.split("/") if s]


def path_fits(template, path):
    """True when a concrete or templated `path` fits `template` segment by segment."""
    want, got = segments(template), segments(path)
    if len(want) != len(got):
        return False
    for w, g in zip(want, got):
        if w.startswith("{") and w.endswith("}"):
            continue
        if g.startswith("{") and g.endswith("}"):
            # A templated finding path only fits a template slot, never a literal segment.
            return False
        if w != g:
            return False
    return True


def full_paths(report, finding):
    """The finding's path as seen from the origin. Reports since schema 1.1 record the base
    path the operations were joined to (`coverage.base_path`, the target's path included);
    older ones only the target, whose path then stands for the base."""
    path = finding.get("path")
    if path is None:
        return []
    coverage = report.get("coverage") or {}
    if "base_path" in coverage or report.get("schema_version", "1.0") != "1.0":
        return [coverage.get("base_path", "").rstrip("/") + path]
    return [urlparse(report.get("target", "")).path.rstrip("/") + path]


def scope_fits(item, report):
    """An item with a `scope` (a path prefix such as /jwt1, for targets scanned as several
    APIs) belongs to the reports of that scope only."""
    scope = (item.get("scope") or "").rstrip("/")
    if not scope:
        return True
    target = urlparse(report.get("target", "")).path.rstrip("/")
    return target == scope or target.startswith(scope + "/")


def operation_fits(item, report, finding):
    if not scope_fits(item, report):
        return False
    if item.get("path") == "*":
        return True
    if finding.get("method") is None or finding.get("path") is None:
        return False
    if finding["method"].upper() != item.get("method", "").upper():
        return False
    return any(path_fits(item["path"], p) for p in full_paths(report, finding))


def graphql_fits(item, finding):
    """An item naming a GraphQL operation (`"graphql": "query pastes"`) is matched only by a
    finding on that operation (the report's `graphql_operation`, schema 1.3)."""
    return "graphql" not in item or finding.get("graphql_operation") == item["graphql"]


def matches_flaw(flaw, report, finding):
    if not set(flaw.get("cwe", [])) & set(finding.get("cwe", [])):
        return False
    # Several flaws of one GraphQL endpoint share its operation and a CWE (a batch, an alias
    # and a depth attack are all CWE-770 on POST /graphql): such a flaw names the checks that
    # test it (none, when the catalogue has no such test) or the parameter the finding names.
    if "checks" in flaw and finding.get("check") not in flaw["checks"]:
        return False
    if "parameter" in flaw and finding.get("parameter") != flaw["parameter"]:
        return False
    return graphql_fits(flaw, finding) and operation_fits(flaw, report, finding)


def matches_unscored(item, report, finding):
    if "cwe" in item and not set(item["cwe"]) & set(finding.get("cwe", [])):
        return False
    # An API-wide item about one route or parameter (`/console`) names it.
    if "parameter" in item and finding.get("parameter") != item["parameter"]:
        return False
    if "method" not in item and item.get("path") != "*":
        return False
    return graphql_fits(item, finding) and operation_fits(item, report, finding)


def identities_signed_in(report):
    """(signed in, tried): the report lists only identities that signed in (anonymous aside);
    each identity that could not sign in, or registration that failed, leaves a diagnostic."""
    signed = len([n for n in report.get("identities", []) if n != "anonymous"])
    failed = sum(
        1
        for d in report.get("diagnostics", [])
        if d.get("code", "").startswith("identity.")
        and any(word in d.get("code", "") for word in ("failed", "not-found", "no-login"))
    )
    return signed, signed + failed


def score(truth, reports):
    flaws = truth.get("flaws", [])
    found = {}
    false_positives = []
    for report in reports:
        for finding in report.get("findings", []):
            hit = [f["id"] for f in flaws if matches_flaw(f, report, finding)]
            for fid in hit:
                found.setdefault(fid, finding.get("check"))
            if hit:
                continue
            on_decoy = any(operation_fits(d, report, finding) for d in truth.get("decoys", []))
            if on_decoy:
                if finding.get("severity") in MEDIUM_OR_HIGHER:
                    false_positives.append(describe(finding, "decoy"))
                continue
            if any(matches_unscored(u, report, finding) for u in truth.get("unscored", [])):
                continue
            false_positives.append(describe(finding, "matches nothing"))
    documented = [f for f in flaws if f.get("documented")]
    signed = [identities_signed_in(r) for r in reports]
    return {
        "flaws": len(flaws),
        "found": sorted(found),
        "documented": len(documented),
        "documented_found": sum(1 for f in documented if f["id"] in found),
        "missed_documented": [f["id"] for f in documented if f["id"] not in found],
        "false_positives": false_positives,
        "identities_signed_in": min((s[0] for s in signed), default=0),
        "identities_configured": max((s[1] for s in signed), default=0),
        "operations": sum((r.get("coverage") or {}).get("operations", 0) for r in reports),
        "operations_reached": sum((r.get("coverage") or {}).get("operations_reached", 0) for r in reports),
        "requests": sum(r.get("requests_sent", 0) for r in reports),
        "incomplete": any(r.get("incomplete") for r in reports),
    }


def describe(finding, why):
    where = f"{finding.get('method') or '*'} {finding.get('path') or '*'}"
    return f"{finding.get('severity')} {finding.get('check')} {where} ({why})"


def ratio(part, whole):
    return f"{part}/{whole}" + (f" ({100 * part // whole}%)" if whole else "")


COLUMNS = ["target", "run", "signed in", "reached", "documented recall", "overall recall", "FP", "wall s", "requests", "RSS MB"]


def row(result):
    if result.get("status") == "not set up":
        return [result["target"], "-", "not set up", "", "", "", "", "", "", result.get("setup", "")]
    return [
        result["target"],
        result["run"],
        f"{result['identities_signed_in']}/{result['identities_configured']}",
        f"{result['operations_reached']}/{result['operations']}",
        ratio(result["documented_found"], result["documented"]),
        ratio(len(result["found"]), result["flaws"]),
        str(len(result["false_positives"])),
        f"{result.get('wall', 0):.1f}",
        str(result["requests"]),
        f"{result.get('rss_kb', 0) / 1024:.0f}",
    ]


def table(results):
    rows = [COLUMNS] + [row(r) for r in results]
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def markdown(results):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row(r)) + " |" for r in results]
    return "\n".join(lines)


def details(results, truths, reasons):
    """Per target, every documented flaw: found by which run, or missed and why (`reasons`:
    target -> flaw id -> one line, our diagnosis in NAME/misses.json)."""
    out = []
    for target, truth in truths.items():
        runs = [r for r in results if r.get("target") == target and "found" in r]
        if not runs:
            continue
        documented = [f for f in truth.get("flaws", []) if f.get("documented")]
        found = [f for f in documented if any(f["id"] in r["found"] for r in runs)]
        out.append(f"### {target}: {len(found)} of {len(documented)} documented flaws found\n")
        out.append("| flaw | class | operation | found by | why missed |")
        out.append("| --- | --- | --- | --- | --- |")
        for f in documented:
            by = ", ".join(r["run"] for r in runs if f["id"] in r["found"])
            why = "" if by else reasons.get(target, {}).get(f["id"], "not diagnosed yet")
            op = f"{f.get('method', '*')} {f.get('path', '*')}".replace("|", "\\|")
            out.append(f"| `{f['id']}` | {f.get('class', '')} | `{op}` | {by or '—'} | {why} |")
        out.append("")
    return "\n".join(out)


def classes(results, truths):
    """Recall per flaw class over the whole corpus: a flaw counts as found when any run of its
    target found it. Columns: documented found/total, all found/total."""
    tally = {}
    for target, truth in truths.items():
        runs = [r for r in results if r.get("target") == target and "found" in r]
        found = set().union(*(set(r["found"]) for r in runs)) if runs else set()
        for f in truth.get("flaws", []):
            t = tally.setdefault(f.get("class", "?"), [0, 0, 0, 0])
            hit = f["id"] in found
            t[2] += hit
            t[3] += 1
            if f.get("documented"):
                t[0] += hit
                t[1] += 1
    lines = ["| class | documented recall | overall recall |", "| --- | --- | --- |"]
    for name in sorted(tally):
        d_found, d_all, found_all, flaws = tally[name]
        documented = ratio(d_found, d_all) if d_all else "-"
        lines.append(f"| {name} | {documented} | {ratio(found_all, flaws)} |")
    return "\n".join(lines)


def load_truths(field, results):
    truths, reasons = {}, {}
    for target in dict.fromkeys(r["target"] for r in results):
        folder = os.path.join(field, target)
        truths[target] = json.load(open(os.path.join(folder, "ground_truth.json")))
        misses = os.path.join(folder, "misses.json")
        reasons[target] = json.load(open(misses)) if os.path.exists(misses) else {}
    return truths, reasons


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--truth", required=True)
    run.add_argument("--run", required=True)
    run.add_argument("--report", action="append", default=[])
    run.add_argument("--wall", type=float, default=0.0)
    run.add_argument("--rss-kb", type=int, default=0)
    for name in ("table", "markdown"):
        sub.add_parser(name).add_argument("results", nargs="+")
    for name in ("details", "classes"):
        det = sub.add_parser(name)
        det.add_argument("--field", required=True, help="the bench/field folder")
        det.add_argument("results", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "run":
        truth = json.load(open(args.truth))
        reports = [json.load(open(p)) for p in args.report]
        result = score(truth, reports)
        result.update(target=truth["target"], run=args.run, wall=args.wall, rss_kb=args.rss_kb)
        json.dump(result, sys.stdout, indent=1)
        print()
        return 0
    results = [json.load(open(p)) for p in args.results]
    if args.command in ("details", "classes"):
        truths, reasons = load_truths(args.field, results)
        print(details(results, truths, reasons) if args.command == "details" else classes(results, truths))
        return 0
    print(table(results) if args.command == "table" else markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

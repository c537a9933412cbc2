#!/usr/bin/env bash
# Prints one workflow annotation per finding (::error for critical/high, ::warning for medium,
# ::notice below), most severe first, at most 50 (GitHub shows 10 per level per step anyway).
# With a local spec, annotations point at the operation's line in it (from the SARIF file).
set -euo pipefail
out="${MB_OUTPUT_DIR:-middlebrick-report}"
[ -f "$out/report.sarif" ] || exit 0
python3 - "$out/report.sarif" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
run = doc["runs"][0]
rules = run["tool"]["driver"]["rules"]
order = {"error": 0, "warning": 1, "note": 2}
results = sorted(run["results"], key=lambda r: order.get(r["level"], 3))
def esc(s, prop=False):
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return s.replace(":", "%3A").replace(",", "%2C") if prop else s
for r in results[:50]:
    cmd = {"error": "error", "warning": "warning"}.get(r["level"], "notice")
    loc = r["locations"][0]
    title = f'{r["ruleId"]}: {rules[r["ruleIndex"]]["shortDescription"]["text"]}'
    props = [f"title={esc(title, True)}"]
    phys = loc.get("physicalLocation", {})
    art = phys.get("artifactLocation", {})
    if art.get("uriBaseId") == "%SRCROOT%":
        props.insert(0, f"file={esc(art['uri'], True)}")
        props.insert(1, f"line={phys.get('region', {}).get('startLine', 1)}")
    print(f"::{cmd} {','.join(props)}::{esc(r['message']['text'])}")
PY

#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# dashboard_check.sh - docs/grafana-vigil.json is valid JSON, every panel query parses as
# PromQL (promtool check rules), and every vigil_ metric it queries is documented in
# docs/metrics.md. Usage: dashboard_check.sh SOURCE_DIR
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$src/docs/grafana-vigil.json" "$tmp/rules.yml" "$tmp/metrics.txt" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
assert exprs, "no queries"
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$instance", ".*")
        f.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(e)))
names = sorted({m for e in exprs for m in re.findall(r"\bvigil_[a-z_]+", e)})
open(sys.argv[3], "w").write("\n".join(names) + "\n")
PY
promtool check rules "$tmp/rules.yml" >/dev/null
while read -r m; do
    grep -q "\`$m\`" "$src/docs/metrics.md" || { echo "dashboard_check: $m is not in docs/metrics.md"; exit 1; }
done < "$tmp/metrics.txt"
echo "dashboard_check: ok"

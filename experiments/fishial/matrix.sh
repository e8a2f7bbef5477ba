#!/usr/bin/env bash
# The Fishial race against its ideal at three time-scales (1, 0.3, 0.1)
# and three image counts (10, 40, 100): RUNS runs of every cell, all four
# strategies in each run, one cell after another. Prints each strategy's
# wall time against its ideal per cell, as the median of the runs and
# their range, in the README's table form.
# Usage: experiments/fishial/matrix.sh [RUNS]   (default 3; a run of the
# whole matrix takes about 4 to 5 minutes; FISHIAL_SCALES and FISHIAL_IMAGES
# override the lists, e.g. FISHIAL_SCALES=0.1)
# Needs python3 to read the CSV files.
set -euo pipefail
runs=${1:-3}
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
	echo "matrix.sh: RUNS must be a whole number above 0, not '$runs'" >&2
	exit 2
fi
scales=(${FISHIAL_SCALES:-1 0.3 0.1})
images=(${FISHIAL_IMAGES:-10 40 100})
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/perflab" ./cmd/perflab
cells=$((runs * ${#scales[@]} * ${#images[@]}))
i=0
for r in $(seq "$runs"); do
	for s in "${scales[@]}"; do
		for n in "${images[@]}"; do
			i=$((i + 1))
			echo "run $r of $runs: time-scale $s, $n images ($i of $cells)" >&2
			if ! "$dir/perflab" --record "$dir/r$r-s$s-n$n.csv" --experiment fishial --images "$n" --time-scale "$s" >/dev/null 2>"$dir/log"; then
				cat "$dir/log" >&2
				exit 1
			fi
		done
	done
done
python3 - "$dir" "${scales[*]}" "${images[*]}" <<'PY'
import csv, glob, os, statistics, sys
d, scales, images = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
cells = {}
for f in glob.glob(os.path.join(d, "r*-s*-n*.csv")):
    _, s, n = os.path.basename(f)[:-4].split("-")
    for row in csv.DictReader(open(f)):
        if row["kind"] != "summary":
            continue
        off = 100 * (float(row["seconds"]) / float(row["ideal_seconds"]) - 1)
        cells.setdefault((row["strategy"], s[1:], n[1:]), []).append(off)
heads = [f"{s}, {n}" for s in scales for n in images]
print("| strategy | " + " | ".join(heads) + " |")
print("|---" * (len(heads) + 1) + "|")
for st in ["sequential", "multiprocess", "distributed", "async"]:
    out = []
    for s in scales:
        for n in images:
            v = cells.get((st, s, n), [])
            out.append(f"{statistics.median(v):+.1f}% ({min(v):+.1f} to {max(v):+.1f})" if v else "")
    print(f"| {st} | " + " | ".join(out) + " |")
PY

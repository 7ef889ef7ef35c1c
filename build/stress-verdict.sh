#!/usr/bin/env bash
# stress-verdict: does machine load decide the verdict? Audits the clean
# configuration N times while a second audit runs on the same Docker engine
# (the noise), then deploy/mvp.env N times under the same noise, and counts
# the verdicts. Goal: clean GO N/N, mvp.env NO-GO N/N. Slow (about 4 minutes
# a round on 2 cores); not part of CI.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N="${N:-10}"
NOISE="${NOISE:-1}"         # 0: no second audit beside the audited one
KINDS="${KINDS:-clean mvp}" # which series to run
BIN=.build/bin/mvpaudit
OUT=.build/stress
mkdir -p "$OUT"

verdict() { # exit code -> name
	case "$1" in
	0) echo GO ;; 1) echo NO-GO ;; 2) echo "CONDITIONAL GO" ;; 3) echo "INCOMPLETE" ;; *) echo "ERROR($1)" ;;
	esac
}

# one_round NAME ENV_FILE I: the audited run, with a noise audit beside it.
one_round() {
	local name="$1" env="$2" i="$3" dir="$OUT/$1-$3"
	rm -rf "$dir"
	mkdir -p "$dir"
	local noise=""
	if [ "$NOISE" = 1 ]; then
		"$BIN" run --quiet --env-file deploy/production.env --out-dir "$dir/noise" > "$dir/noise.log" 2>&1 &
		noise=$!
		sleep 5 # let the noise audit's stack start first: its load overlaps ours
	fi
	local start=$SECONDS
	"$BIN" run --env-file "$env" --out-dir "$dir/audit" > "$dir/audit.log" 2>&1
	local code=$?
	[ -n "$noise" ] && wait "$noise"
	local v
	v="$(verdict "$code")"
	printf '%s\t%d\t%s\t%ds\tnoise=%s\t%s\n' "$name" "$i" "$v" "$((SECONDS - start))" "$NOISE" \
		"$(grep -m1 -o 'checks: .*' "$dir/audit.log")" | tee -a "$OUT/results.tsv"
	if [ "$code" -ne 0 ] && [ "$name" = clean ]; then
		grep -E '^\s+(fail|FAIL|incomplete|required)' "$dir/audit.log" | head -5
	fi
}

for kind in $KINDS; do
	case "$kind" in
	clean) env=deploy/production.env ;;
	mvp) env=deploy/mvp.env ;;
	*) echo "stress-verdict: unknown kind $kind (clean, mvp)" >&2; exit 4 ;;
	esac
	for i in $(seq "$N"); do one_round "$kind" "$env" "$i"; done
done

echo
echo "clean GO:      $(awk -F'\t' '$1=="clean" && $3=="GO"' "$OUT/results.tsv" | wc -l)/$N"
echo "mvp.env NO-GO: $(awk -F'\t' '$1=="mvp" && $3=="NO-GO"' "$OUT/results.tsv" | wc -l)/$N"
echo "details: $OUT/results.tsv, logs and reports under $OUT/"

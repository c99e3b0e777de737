#!/usr/bin/env bash
# Runs a suite as a sharded sweep on a Slurm cluster, from a login node:
#
#   scripts/slurm/sweep.sh SUITE.json N [sbatch options...]
#
# submits
#   1. a job array of N shards (`bench run SUITE --shard i/N`, each writing its own database shard-i.db: SQLite on a
#      network file system is only safe with one writer machine per file), with `--gres=gpu:1` when the suite's
#      device is cuda;
#   2. a merge job (`bench merge`), run when every shard succeeded (afterok), writing merged.db;
#   3. the report of the merged run (`bench report`), after the merge (afterok);
# and prints the job ids and where the merged database and the report will be. The sbatch options (partition,
# account, time limit, ...) go to every job. The sweep folder (default results/sweeps/<suite>-<UTC time>, or
# $BENCH_SWEEP_DIR) must be on a file system the compute nodes share with this node, like the checkout, the model
# cache and the data.
#
# A shard whose job failed (crash, time limit, node failure) is rerun alone, continuing where it stopped:
#   sbatch --array=I SWEEP_DIR/shard.sbatch      (then: sbatch SWEEP_DIR/merge.sbatch)
# A shard whose configurations failed (bench run exit 1: failures are stored) counts as done: the merged run lists
# them, and `bench merge` exits 1.
#
# Environment: BENCH_BIN (default <checkout>/build/bin/bench), BENCH_SWEEP_DIR, BENCH_COSTS_FROM (a database
# whose wall times balance the shards, e.g. an earlier merged.db; given to every shard alike), BENCH_SBATCH
# (default sbatch).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
die() { echo "sweep.sh: error: $*" >&2; exit 2; }

[[ $# -ge 2 ]] || die "usage: scripts/slurm/sweep.sh SUITE.json N [sbatch options...]"
SUITE="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
N="$2"
shift 2
[[ -f "$SUITE" ]] || die "$SUITE: no such suite file"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N: expected a positive number of shards, got \"$N\""
BENCH="${BENCH_BIN:-$ROOT/build/bin/bench}"
[[ -x "$BENCH" ]] || die "$BENCH: no bench executable (build it: scripts/setup.sh, or set BENCH_BIN)"
BENCH="$(cd "$(dirname "$BENCH")" && pwd)/$(basename "$BENCH")"
SBATCH="${BENCH_SBATCH:-sbatch}"
command -v "$SBATCH" >/dev/null || die "$SBATCH not found: run this on a Slurm login node"
COSTS=()
if [[ -n "${BENCH_COSTS_FROM:-}" ]]; then
  COSTS=(--costs-from "$(cd "$(dirname "$BENCH_COSTS_FROM")" && pwd)/$(basename "$BENCH_COSTS_FROM")")
fi

# Validate the suite here (exit 2, nothing submitted) and learn its name and device from the plan's first line:
# "suite NAME (FILE): ... device DEVICE".
PLAN="$("$BENCH" run "$SUITE" --dry-run --shard "1/$N" "${COSTS[@]}")" || die "bench run --dry-run failed (above)"
HEAD="$(grep -m1 '^suite ' <<<"$PLAN")"
NAME="$(awk '{print $2}' <<<"$HEAD")"
DEVICE="$(sed -n 's/.* device \([a-z0-9]*\)$/\1/p' <<<"$HEAD")"
grep -A"$((N + 1))" '^shards:' <<<"$PLAN" | sed 's/^/  /'

DIR="${BENCH_SWEEP_DIR:-$ROOT/results/sweeps/$NAME-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$DIR/logs"
DIR="$(cd "$DIR" && pwd)"
GRES=()
[[ "$DEVICE" == "cuda" ]] && GRES=(--gres=gpu:1)

q() { printf '%q' "$1"; }
COSTS_Q=""
((${#COSTS[@]})) && COSTS_Q="--costs-from $(q "${COSTS[1]}") "
# One shard: continues its own earlier run when its database exists (--resume), so a rerun of a failed shard
# picks up where it stopped. Exit 1 (some configurations failed, all stored) counts as done.
cat > "$DIR/shard.sbatch" <<SCRIPT
#!/usr/bin/env bash
set -uo pipefail
cd $(q "$ROOT")
i="\${SLURM_ARRAY_TASK_ID:?run as a job array: sbatch --array=1-$N \$0}"
db=$(q "$DIR")/shard-\$i.db
resume=()
# Resume only a database that holds a run (a job killed before its run was stored leaves an empty one).
if [[ -f "\$db" ]] && $(q "$BENCH") list runs --db "\$db" 2>/dev/null | grep -q '[0-9]'; then resume=(--resume); fi
echo "[shard \$i/$N] \$(hostname) \$(date -u +%FT%TZ): bench run --shard \$i/$N --db \$db \${resume[*]}"
$(q "$BENCH") run $(q "$SUITE") --shard "\$i/$N" --db "\$db" --no-report $COSTS_Q"\${resume[@]}"
rc=\$?
echo "[shard \$i/$N] bench run exited with \$rc"
[[ \$rc -le 1 ]] && exit 0 || exit \$rc
SCRIPT
inputs=""
for ((i = 1; i <= N; i++)); do inputs+=" $(q "$DIR/shard-$i.db")"; done
cat > "$DIR/merge.sbatch" <<SCRIPT
#!/usr/bin/env bash
set -uo pipefail
$(q "$BENCH") merge $(q "$DIR/merged.db")$inputs
rc=\$?
echo \$rc > $(q "$DIR/merge.rc")
[[ \$rc -le 1 ]] && exit 0 || exit \$rc
SCRIPT
cat > "$DIR/report.sbatch" <<SCRIPT
#!/usr/bin/env bash
set -uo pipefail
$(q "$BENCH") report --db $(q "$DIR/merged.db") --run 1 --out $(q "$DIR/report")
rc=\$?
echo \$rc > $(q "$DIR/report.rc")
exit \$rc
SCRIPT
chmod +x "$DIR"/*.sbatch

ARRAY_ID="$("$SBATCH" --parsable --job-name="bench-$NAME" --array="1-$N" "${GRES[@]}" \
  --output="$DIR/logs/shard-%a.out" "$@" "$DIR/shard.sbatch")"
ARRAY_ID="${ARRAY_ID%%;*}"
MERGE_ID="$("$SBATCH" --parsable --job-name="bench-$NAME-merge" --dependency="afterok:$ARRAY_ID" \
  --output="$DIR/logs/merge.out" "$@" "$DIR/merge.sbatch")"
MERGE_ID="${MERGE_ID%%;*}"
REPORT_ID="$("$SBATCH" --parsable --job-name="bench-$NAME-report" --dependency="afterok:$MERGE_ID" \
  --output="$DIR/logs/report.out" "$@" "$DIR/report.sbatch")"
REPORT_ID="${REPORT_ID%%;*}"

cat <<EOT
sweep of $SUITE in $N shard(s), device ${DEVICE:-cpu}:
  shards: job array $ARRAY_ID (logs $DIR/logs/shard-<i>.out, databases $DIR/shard-<i>.db)
  merge:  job $MERGE_ID, after the shards -> $DIR/merged.db
  report: job $REPORT_ID, after the merge -> $DIR/report/report.html
  rerun a failed shard I: sbatch --array=I $DIR/shard.sbatch, then sbatch $DIR/merge.sbatch
EOT
echo "SWEEP_DIR=$DIR ARRAY_JOB=$ARRAY_ID MERGE_JOB=$MERGE_ID REPORT_JOB=$REPORT_ID"

#!/usr/bin/env bash
# The Slurm sweep tested for real: a single-node cluster on this machine (munged, slurmctld and slurmd started here,
# configured from tests/slurm/slurm.conf.in, everything under a temporary folder, stopped at exit), then
#   scripts/slurm/sweep.sh suites/smoke.json 2
# (a job array of 2 shards, the merge job after it, the report after that), and checks that the merged database
# holds exactly the configurations of an unsharded `bench run suites/smoke.json`, with the same accuracy values
# (perplexity, KL, retrieval and multiple-choice scores, KV/weight bytes: exactly equal; timings are not compared).
# Installs slurm-wlm and munge with apt-get when missing (root, or sudo). Any failure to start the cluster fails the
# test loudly: it never skips. Takes about 1-2 minutes on 2 cores once the packages are installed.
#
# Environment: BENCH_BIN (default build/bin/bench), BENCH_SLURM_TIMEOUT (seconds to wait for the jobs, default 600),
# BENCH_SLURM_PORT (slurmctld's port, slurmd's is the next; default 16817), BENCH_KEEP_TEST_DIRS (keep the folder).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
T0=$(date +%s)
log() { printf '[slurm-test %4ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
BENCH="$(cd "$(dirname "${BENCH_BIN:-build/bin/bench}")" && pwd)/$(basename "${BENCH_BIN:-build/bin/bench}")"
TIMEOUT="${BENCH_SLURM_TIMEOUT:-600}"
PORT="${BENCH_SLURM_PORT:-16817}"
[[ -x "$BENCH" ]] || { echo "[slurm-test] FAILED: $BENCH is not built" >&2; exit 1; }

# ---- packages --------------------------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
   ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge (apt-get)"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
log "$(slurmctld -V), $(munged -V 2>&1 | head -1)"

# ---- the cluster -----------------------------------------------------------------------------------------------
STATE="$(mktemp -d /tmp/benchpress-slurm.XXXXXX)"
chmod 755 "$STATE"  # munged wants its socket's folder traversable by all
PIDS=()
cleanup() {
  local rc=$?
  for ((k = ${#PIDS[@]} - 1; k >= 0; k--)); do kill "${PIDS[k]}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $rc -ne 0 ]]; then
    echo "[slurm-test] FAILED (exit $rc); logs under $STATE:" >&2
    for f in "$STATE"/*.log "$STATE"/sweep/logs/*.out; do
      [[ -f "$f" ]] && { echo "---- $f (last 20 lines)" >&2; tail -20 "$f" >&2; }
    done
  fi
  if [[ -z "${BENCH_KEEP_TEST_DIRS:-}" && $rc -eq 0 ]]; then rm -rf "$STATE"; else echo "[slurm-test] kept $STATE" >&2; fi
  exit $rc
}
trap cleanup EXIT
fail() { echo "[slurm-test] FAILED: $*" >&2; exit 1; }

mungekey --create --keyfile="$STATE/munge.key" >/dev/null 2>&1 || fail "mungekey could not create a key"
munged -F --force --socket="$STATE/munge.sock" --key-file="$STATE/munge.key" --log-file="$STATE/munged.log" \
  --pid-file="$STATE/munged.pid" --seed-file="$STATE/munged.seed" >"$STATE/munged.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S "$STATE/munge.sock" ]] && break; sleep 0.1; done
munge -S "$STATE/munge.sock" -n | unmunge -S "$STATE/munge.sock" >/dev/null || fail "munged does not answer"

HOST="$(hostname -s)"
NODE="$(slurmd -C | head -1)"
CPUS="$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$NODE")"
MEMORY="$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE")"
[[ -n "$CPUS" && -n "$MEMORY" ]] || fail "slurmd -C gave no CPUs/RealMemory: $NODE"
mkdir -p "$STATE/ctld" "$STATE/slurmd"
sed -e "s|@HOST@|$HOST|g" -e "s|@STATE@|$STATE|g" -e "s|@CTLD_PORT@|$PORT|g" -e "s|@SLURMD_PORT@|$((PORT + 1))|g" \
    -e "s|@CPUS@|$CPUS|g" -e "s|@MEMORY@|$MEMORY|g" tests/slurm/slurm.conf.in >"$STATE/slurm.conf"
export SLURM_CONF="$STATE/slurm.conf"
slurmctld -D -i >"$STATE/slurmctld.out.log" 2>&1 &
PIDS+=($!)
slurmd -D >"$STATE/slurmd.out.log" 2>&1 &
PIDS+=($!)
log "cluster: node $HOST ($CPUS CPUs, $MEMORY MB), slurmctld port $PORT, state in $STATE"
for _ in $(seq 120); do
  [[ "$(sinfo -h -o %T 2>/dev/null)" == idle* ]] && break
  sleep 0.5
done
[[ "$(sinfo -h -o %T 2>/dev/null)" == idle* ]] || fail "the node did not become idle: $(sinfo 2>&1)"
log "node idle"

# ---- the sweep, and the unsharded reference meanwhile -------------------------------------------------------------
log "scripts/slurm/sweep.sh suites/smoke.json 2"
SWEEP_OUT="$(BENCH_BIN="$BENCH" BENCH_SWEEP_DIR="$STATE/sweep" scripts/slurm/sweep.sh suites/smoke.json 2 --time=30)" ||
  fail "sweep.sh failed: $SWEEP_OUT"
echo "$SWEEP_OUT" | sed 's/^/    /'
eval "$(grep '^SWEEP_DIR=' <<<"$SWEEP_OUT")"
log "unsharded reference run: bench run suites/smoke.json"
"$BENCH" run suites/smoke.json --db "$STATE/unsharded.db" --no-report >"$STATE/unsharded.log" 2>&1 ||
  fail "the unsharded run failed: $(tail -5 "$STATE/unsharded.log")"
log "unsharded run done; waiting for the report job ($TIMEOUT s at most)"

job_state() { scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }
deadline=$(($(date +%s) + TIMEOUT))
while :; do
  states="shards=$(scontrol -o show job "$ARRAY_JOB" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort | uniq -c | xargs) merge=$(job_state "$MERGE_JOB") report=$(job_state "$REPORT_JOB")"
  [[ "$(job_state "$REPORT_JOB")" == COMPLETED ]] && break
  if grep -Eq 'FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY' <<<"$states"; then fail "a job did not succeed: $states"; fi
  (($(date +%s) < deadline)) || fail "jobs not done after $TIMEOUT s: $states"
  sleep 2
done
log "jobs done: $states"
[[ "$(cat "$SWEEP_DIR/merge.rc")" == 0 ]] || fail "bench merge exited with $(cat "$SWEEP_DIR/merge.rc")"
[[ -s "$SWEEP_DIR/report/report.html" ]] || fail "no report at $SWEEP_DIR/report/report.html"

# ---- the merged database against the unsharded run ---------------------------------------------------------------
log "comparing $SWEEP_DIR/merged.db with the unsharded run"
PY="${BENCH_PYTHON:-python3}"
"$PY" - "$SWEEP_DIR/merged.db" "$STATE/unsharded.db" <<'PYEOF'
import sqlite3, sys
merged, single = (sqlite3.connect(p) for p in sys.argv[1:3])
def one(db, sql): return db.execute(sql).fetchone()[0]
problems = []
def check(cond, what):
    if not cond: problems.append(what)
check(one(merged, "SELECT COUNT(*) FROM runs") == 1, "the merged database holds one run")
check(one(merged, "SELECT status FROM runs") == "complete", "the merged run is complete")
shards = merged.execute("SELECT shard_index, shard_count, host, cpu_model, build_id, git_commit FROM shards "
                        "ORDER BY shard_index").fetchall()
check([s[:2] for s in shards] == [(1, 2), (2, 2)], f"two shards 1/2 and 2/2 (got {shards})")
check(all(s[2] and s[3] and s[4] and s[5] for s in shards), "each shard's provenance (host, cpu, build, commit)")
check(one(merged, "SELECT COUNT(*) FROM configurations WHERE shard_id IS NULL") == 0, "every configuration has its shard")
per_shard = merged.execute("SELECT shard_id, COUNT(*) FROM configurations GROUP BY shard_id").fetchall()
check(len(per_shard) == 2 and all(n > 0 for _, n in per_shard), f"both shards ran configurations ({per_shard})")
keys = lambda db: sorted(r[0] for r in db.execute("SELECT comparison_key FROM configurations"))
check(keys(merged) == keys(single) and len(keys(single)) == 8, "the same 8 configurations (comparison keys)")
check(one(merged, "SELECT COUNT(*) FROM configurations WHERE status != 'complete'") == 0, "all complete")
# Values that do not depend on timing: everything but the latency task's, and its byte counts.
deterministic = ("c.task != 'latency' OR r.metric IN ('kv_bytes', 'kv_bytes_fp16', 'kv_ratio', 'weight_bytes')")
q = (f"SELECT c.comparison_key, r.metric, r.labels, r.repetition, r.value FROM results r JOIN configurations c "
     f"ON c.id = r.configuration_id WHERE {deterministic} ORDER BY 1, 2, 3, 4")
a, b = merged.execute(q).fetchall(), single.execute(q).fetchall()
check(len(a) == len(b) and len(a) > 0, f"as many accuracy values ({len(a)} merged, {len(b)} unsharded)")
diff = [(x, y) for x, y in zip(a, b) if x != y]
check(not diff, f"identical accuracy values (first differences: {diff[:3]})")
metrics = sorted({r[1] for r in a})
for m in ("ppl", "kl_mean", "accuracy", "acc"):
    check(m in metrics, f"metric {m} compared")
qi = ("SELECT c.comparison_key, i.key, i.score FROM items i JOIN configurations c ON c.id = i.configuration_id "
      "WHERE c.task != 'latency' ORDER BY 1, 2")
check(merged.execute(qi).fetchall() == single.execute(qi).fetchall(), "identical per-item scores")
if problems:
    print("merged vs unsharded: FAILED:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"merged vs unsharded: 8 configurations, {len(a)} values of {len(metrics)} metrics equal "
      f"({', '.join(metrics)}); shards on {', '.join(s[2] for s in shards)}")
PYEOF
log "PASSED in $(($(date +%s) - T0)) s"

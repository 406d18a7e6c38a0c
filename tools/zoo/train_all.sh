#!/usr/bin/env bash
# Trains the whole zoo in one go: clean, trojan, blend, sig (and badnets unless SKIP names it) side by side,
# then cl once the clean model exists. Meant for a machine with a CUDA GPU and many cores, where one
# WRN-16-1 leaves the GPU mostly idle, so several processes share it; on CPU run train.py one model at a time.
#
#   bash tools/zoo/train_all.sh                 # every model, logs in tools/zoo/runs/<attack>.log
#   SKIP="badnets" DEADLINE=500 PACK=/tmp/out bash tools/zoo/train_all.sh
#
# RUNS (folder, default tools/zoo/runs): where the run folders and logs go.
# DEADLINE (seconds, optional): stop every job at that point (each resumes from its checkpoint when re-run).
# PYTHON (default python3): the interpreter to use.
# PACK (folder, optional): when done, pack each run folder (PGD cache left out) as <PACK>/<attack>.tar.gz.
# Extra arguments go to every train.py call (e.g. --epochs 50 --no-augment).
set -u
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-tools/zoo/runs}  # run folders and logs
mkdir -p "$RUNS"
SKIP=${SKIP:-}
PY=${PYTHON:-python3}  # the interpreter with torch, numpy and PIL (Debian: /usr/bin/python3)
start=$(date +%s)
left() {  # seconds a job started now may run
  if [ -z "${DEADLINE:-}" ]; then echo 1000000; return; fi
  local s=$((DEADLINE - ($(date +%s) - start))); echo $((s > 1 ? s : 1))
}
train() {  # attack -> runs train.py in the background under the deadline
  local a=$1; shift
  case " $SKIP " in *" $a "*) return;; esac
  timeout --signal=TERM "$(left)" "$PY" tools/zoo/train.py --attack "$a" --threads 2 --out "$RUNS/$a" "$@" \
    >> "$RUNS/$a.log" 2>&1 &
  echo "[train_all] $a started (pid $!)"
}

PYTHONUNBUFFERED=1 "$PY" tools/zoo/data.py || exit 1  # decode the JPEGs once, before the jobs race for the cache
export PYTHONUNBUFFERED=1
train clean "$@"; clean_pid=$!
for a in trojan blend sig badnets; do train "$a" "$@"; done
case " $SKIP " in *" cl "*) ;; *)
  wait "$clean_pid"
  if [ -f "$RUNS/clean/model.safetensors" ]; then train cl --clean-model "$RUNS/clean/model.safetensors" "$@"; else echo "[train_all] no clean model: cl skipped"; fi ;;
esac
wait
echo "[train_all] all jobs ended after $(( $(date +%s) - start )) s"
for a in clean trojan blend sig badnets cl; do
  [ -f "$RUNS/$a.log" ] && { echo "== $a"; grep -E "^epoch|done|Error|error" "$RUNS/$a.log" | tail -3; }
done
if [ -n "${PACK:-}" ]; then
  mkdir -p "$PACK"
  for a in clean trojan blend sig badnets cl; do
    [ -d "$RUNS/$a" ] && tar -czf "$PACK/$a.tar.gz" --exclude=cl_pgd.npz -C "$RUNS" "$a" "$a.log"
  done
  ls -la "$PACK"
fi

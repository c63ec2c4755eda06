#!/usr/bin/env bash
# Build medbrief's wheel, install it in a fresh venv outside the clone, and use it as a
# newcomer would: from an empty folder, no MEDBRIEF_* variable set, a home of its own.
#
#   bash scripts/check_wheel.sh [PYTHON]     (make package-check)
set -euo pipefail
PY=${1:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
SERVER=

echo "== building the wheel (trains the default model it carries)"
rm -rf "$ROOT/dist"
"$PY" -m pip wheel --quiet --no-deps -w "$ROOT/dist" "$ROOT"
WHEEL=$(ls "$ROOT"/dist/medbrief-*.whl)
echo "wheel: $(basename "$WHEEL"), $(du -k "$WHEEL" | cut -f1) KB"

echo "== installing it in a fresh venv"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet "$WHEEL"
SITE=$("$WORK/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "installed: medbrief $(du -sk "$SITE/medbrief" | cut -f1) KB; the whole venv (with every" \
     "dependency) $(du -sk "$WORK/venv" | cut -f1) KB"
"$WORK/venv/bin/pip" install --quiet pandas  # the README's Python examples use frames()

# A clean environment: no MEDBRIEF_* variables, a new home (the user data folder is in it).
mkdir -p "$WORK/home" "$WORK/run"
cd "$WORK/run"
CLEAN=(env -i PATH="$WORK/venv/bin:/usr/bin:/bin" HOME="$WORK/home" LANG=C.UTF-8)
run() { "${CLEAN[@]}" "$@"; }
cat > a.txt <<'TEXT'
CAR-T therapy resets the immune system of people with lupus

In the trial, seven of eight patients went into remission within three months.

Side effects included fever and a fall in blood pressure in two patients.

Larger trials are planned for next year.
TEXT

echo "== medbrief summarize"
run medbrief summarize a.txt > summary.txt
head -5 summary.txt
echo "== medbrief tag"
run medbrief tag a.txt -o tagged.jsonl
test "$(wc -l < tagged.jsonl)" -eq 1
echo "== python -c ... medbrief.analyze"
run python -c "import medbrief; print(medbrief.analyze(open('a.txt').read()).summary)"
echo "== medbrief train --out (from the labelled articles built into the package)"
# Whole outputs go to files first: `| head` would close the pipe on a command still writing.
run medbrief train --out trained --no-cv > train.log
head -2 train.log
test -f trained/CURRENT
echo "== medbrief evaluate"
run medbrief evaluate --model trained > evaluate.log
grep -E "^model|macro-F1" evaluate.log
echo "== medbrief serve and one request"
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
# exec: $! is then the server itself (a function in the background would be a subshell
# around it, and killing that would leave the server running).
(exec "${CLEAN[@]}" medbrief serve --port "$PORT") > serve.log 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break
  sleep 0.2
done
curl -sf -X POST "http://127.0.0.1:$PORT/v1/summarize" -H 'content-type: text/plain' \
     --data-binary @a.txt -o answer.json
head -c 300 answer.json; echo
kill $SERVER; SERVER=
echo "== the README's Python examples"
run python "$ROOT/scripts/readme_examples.py" "$ROOT/README.md" > examples.py
run python examples.py
echo "== the user data folder was left alone by all this: $(ls "$WORK/home" | wc -l) entries"
echo "package-check: PASS"

# shellcheck shell=bash
# Shared by the rehearsals (scripts/rehearse.sh, scripts/rehearse-compose.sh): progress lines, checks
# and steps recorded for the closing pass/fail table, and the API calls every rehearsal makes. The
# caller sets REHEARSAL (its name in the summary line), START, RESULTS=() FAILED=0 and AGENTS, and defines
# api() (curl with its admin token, and its CA where it has one) and URL.

log() { printf '[%4ss] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# check NAME COMMAND… — runs a check, records pass/fail with its time.
check() {
  local name=$1 t0=$SECONDS; shift
  log "check: $name"
  if "$@"; then RESULTS+=("PASS|$name|$((SECONDS - t0)) s"); log "  pass: $name"
  else RESULTS+=("FAIL|$name|$((SECONDS - t0)) s"); FAILED=$((FAILED + 1)); log "  FAIL: $name"; fi
}

# step NAME COMMAND… — a step the rest depends on: recorded, and the run stops if it fails.
step() {
  local name=$1 t0=$SECONDS; shift
  log "step: $name"
  if "$@"; then RESULTS+=("PASS|$name|$((SECONDS - t0)) s")
  else RESULTS+=("FAIL|$name|$((SECONDS - t0)) s"); FAILED=$((FAILED + 1)); die "$name failed"; fi
}

table() {
  local r a b c
  printf '\n%-6s %-72s %s\n' result check time
  for r in "${RESULTS[@]}"; do IFS='|' read -r a b c <<<"$r"; printf '%-6s %-72s %s\n' "$a" "$b" "$c"; done
  printf '\n%s: %d checks, %d failed, %d s in all\n' "$REHEARSAL" "${#RESULTS[@]}" "$FAILED" "$(($(date +%s) - START))"
}

# json EXPR — evaluates EXPR with j bound to the JSON on stdin; strings print bare.
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);const f=new Function('j','return ('+process.argv[1]+')');const v=f(j);console.log(typeof v==='string'?v:JSON.stringify(v))})" "$1"; }

submit() { # TITLE SPECIALTY [BODY] → task id
  api -X POST "$URL/api/v1/tasks" -d "{\"title\":\"$1\",\"labels\":[\"ccc:$2\"],\"repo\":\"demo/app\",\"body\":\"${3:-}\"}" | json 'j.task.id'
}

wait_final() { # ID TIMEOUT → final task JSON (a coordinator that does not answer yet is waited for)
  local id=$1 deadline=$((SECONDS + $2)) t state
  while ((SECONDS < deadline)); do
    t=$(api "$URL/api/v1/tasks/$id" 2>/dev/null) || { sleep 1; continue; }
    state=$(json 'j.task.state' <<<"$t")
    case $state in succeeded | failed | cancelled) printf '%s\n' "$t"; return 0 ;; esac
    sleep 1
  done
  return 1
}

# each_on_its_agent ID… — the tasks (one per agent of AGENTS, in order) each succeeded on that agent
# with a pull request; logs one line per task.
each_on_its_agent() {
  local ids=("$@") i a id t ok=0
  for i in "${!AGENTS[@]}"; do
    a=${AGENTS[$i]} id=${ids[$i]}
    t=$(wait_final "$id" 240) || { log "  task $id ($a) did not finish"; ok=1; continue; }
    log "  task $id: $(json '[j.task.state, j.task.agentId, j.task.pullRequest && j.task.pullRequest.url, j.task.result && j.task.result.summary.slice(0,60)].join(" · ")' <<<"$t")"
    [[ $(json 'j.task.state + " " + j.task.agentId + " " + Boolean(j.task.pullRequest)' <<<"$t") == "succeeded $a true" ]] || ok=1
  done
  return "$ok"
}

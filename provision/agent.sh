#!/usr/bin/env bash
# An agent node: its env file (from cluster.yml: id, specialties, coordinator URL; the agent token)
# and ccc-agent.service. The Claude Code CLI (pinned) comes with the daemons' node_modules.
# Run provision/common.sh first.
#
# Environment:
#   CCC_AGENT_ID=NAME            which agent of cluster.yml this is (default: the host name)
#   CCC_AGENT_TOKEN              required on the first run (the cluster's join token); kept after. The
#                                agent enrolls with it once and keeps its own credential in
#                                $CCC_STATE/agent/agent-credential (docs/security.md#identity)
#   CCC_TLS_CA_FILE=FILE         the cluster CA (the coordinator's /etc/ccc/tls/ca.pem): installed as
#                                /etc/ccc/tls/ca.pem; the agent then talks https:// and wss:// only
#   CCC_COORDINATOR_URL          default http(s)://<coordinator.ip>:<coordinator.port> of cluster.yml
#   CCC_FORGE=local|github       local (default): clone and push through the coordinator's /git/ with
#                                the agent's own credential; github: CCC_GIT_PUSH_TOKEN is the GitHub token
#   CCC_GIT_PUSH_TOKEN           github forge only
#   CCC_MODEL=rehearsal|anthropic  rehearsal (default): the coordinator's rehearsal model (port 8090);
#                                anthropic: ANTHROPIC_API_KEY is required
#   ANTHROPIC_API_KEY, CCC_LOG_LEVEL
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENV_FILE=$CCC_ETC/agent.env
AGENT_ID=${CCC_AGENT_ID:-$(hostname -s)}
FORGE=${CCC_FORGE:-local}
MODEL=${CCC_MODEL:-rehearsal}
TLS_CA=$CCC_ETC/tls/ca.pem
RESTART=no

check() {
  require_root
  require_choice CCC_FORGE "$FORGE" local github
  require_choice CCC_MODEL "$MODEL" rehearsal anthropic
  [[ -x $(node_bin) && -f $CCC_ETC/cluster.yml ]] || die "run provision/common.sh first (no Node or cluster.yml yet)"
  ok "prerequisites"
}

# "<coordinator url> <specialties>" of this agent in cluster.yml, or an error naming the valid ids.
cluster_facts() {
  app_eval "
    import { readCluster } from '$CCC_PREFIX/app/dist/daemons/shared/config.js';
    const c = readCluster(process.argv[1]);
    const a = c.agents.find((x) => x.name === process.argv[2]);
    if (!a) { console.error('agent ' + process.argv[2] + ' is not in ' + process.argv[1] + ': one of ' + c.agents.map((x) => x.name).join(', ') + ' (set CCC_AGENT_ID)'); process.exit(1); }
    console.log('http://' + c.coordinator.ip + ':' + c.coordinator.port, a.specialties.join(','));
  " "$CCC_ETC/cluster.yml" "$AGENT_ID" || die "CCC_AGENT_ID=$AGENT_ID does not name an agent of $CCC_ETC/cluster.yml"
}

# The cluster CA the coordinator's certificate is verified against (kept from an earlier run when not given).
cluster_ca() {
  if [[ -n ${CCC_TLS_CA_FILE:-} ]]; then
    [[ -s $CCC_TLS_CA_FILE ]] || die "CCC_TLS_CA_FILE=$CCC_TLS_CA_FILE does not exist or is empty"
    grep -q 'BEGIN CERTIFICATE' "$CCC_TLS_CA_FILE" || die "CCC_TLS_CA_FILE=$CCC_TLS_CA_FILE holds no PEM certificate"
    install_content "cluster CA $TLS_CA" "$TLS_CA" 644 root:root <"$CCC_TLS_CA_FILE"
    if [[ $LAST_CHANGED == yes ]]; then RESTART=yes; fi
  elif [[ -f $TLS_CA ]]; then
    ok "cluster CA $TLS_CA (kept)"
  fi
}

env_file() {
  local facts url specialties token push key content host
  facts=$(cluster_facts)
  url=${facts%% *}
  if [[ -f $TLS_CA ]]; then url=https://${url#http://}; fi
  url=${CCC_COORDINATOR_URL:-$url}
  host=${url#*://}
  host=${host%%:*}
  specialties=${facts#* }
  token=${CCC_AGENT_TOKEN:-$(env_value "$ENV_FILE" CCC_AGENT_TOKEN)}
  [[ -n $token ]] || die "CCC_AGENT_TOKEN is not set: use the coordinator's agent token (CCC_AGENT_TOKEN in its /etc/ccc/coordinator.env)"
  key=${ANTHROPIC_API_KEY:-$(env_value "$ENV_FILE" ANTHROPIC_API_KEY)}
  content=$(
    echo "# ccc-agent.service's environment (provision/agent.sh). Keep it secret: mode 0600."
    echo "# specialties (cluster.yml): $specialties"
    echo "CCC_AGENT_ID=$AGENT_ID"
    echo "CCC_COORDINATOR_URL=$url"
    echo "CCC_AGENT_TOKEN=$token"
    echo "CCC_LOG_LEVEL=${CCC_LOG_LEVEL:-info}"
    if [[ -f $TLS_CA ]]; then echo "CCC_TLS_CA=$TLS_CA"; fi
    if [[ $FORGE == local ]]; then
      # The local forge over git's smart HTTP; git's credential helper offers the agent's own credential.
      echo "CCC_GIT_URL_TEMPLATE=$url/git/{owner}/{repo}.git"
    else
      push=${CCC_GIT_PUSH_TOKEN:-$(env_value "$ENV_FILE" CCC_GIT_PUSH_TOKEN)}
      [[ -n $push ]] || die "CCC_FORGE=github needs CCC_GIT_PUSH_TOKEN (a GitHub token that may push branches)"
      echo "CCC_GIT_PUSH_TOKEN=$push"
    fi
    if [[ $MODEL == rehearsal ]]; then
      echo "CCC_ANTHROPIC_BASE_URL=http://$host:8090"
      echo "ANTHROPIC_API_KEY=rehearsal-key-not-a-secret"
    else
      [[ -n $key && $key != rehearsal-key-not-a-secret ]] || die "CCC_MODEL=anthropic needs ANTHROPIC_API_KEY"
      echo "ANTHROPIC_API_KEY=$key"
    fi
  )
  install_content "env file $ENV_FILE ($AGENT_ID: $specialties)" "$ENV_FILE" 600 root:root <<<"$content"
  if [[ $LAST_CHANGED == yes ]]; then RESTART=yes; fi
}

claude_cli() {
  local cli=$CCC_PREFIX/app/node_modules/.bin/claude version
  version=$(runuser -u ccc -- env HOME=/tmp "$cli" --version 2>/dev/null) || die "the Claude Code CLI at $cli does not run"
  ok "Claude Code CLI ($version)"
}

units() {
  install_unit ccc-agent.service
  if [[ $LAST_CHANGED == yes || -e $CCC_RESTART_FLAG ]]; then RESTART=yes; fi
  # READY=1 comes once the agent has registered, which needs the coordinator: do not wait for it here.
  run_unit ccc-agent.service "$RESTART" --no-block
  rm -f "$CCC_RESTART_FLAG"
  wait_registered
}

# Up to a minute for "active"; a coordinator that is not up yet is reported, not an error.
wait_registered() {
  local i
  for ((i = 0; i < 60; i++)); do
    if systemctl is-active --quiet ccc-agent.service; then return; fi
    sleep 1
  done
  log "ccc-agent is not registered yet: $(systemctl show -p StatusText --value ccc-agent.service)"
}

# bubblewrap and socat: the sandbox the agent runs the Claude Code CLI in (docs/security.md).
sandbox_tools() {
  apt_packages "sandbox tools (bubblewrap socat)" bubblewrap socat
}

main() {
  check
  sandbox_tools
  cluster_ca
  env_file
  claude_cli
  units
  summary
}

main "$@"

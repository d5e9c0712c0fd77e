#!/usr/bin/env bash
# The Compose rehearsal's secrets, made once (mode 0600) and kept: deploy/compose/coordinator.env (the
# admin and agent tokens) and deploy/compose/agent.env (the agent token and the model's key). Neither
# file is baked into the image; both are in .gitignore. See docs/compose.md.
#   ANTHROPIC_API_KEY=… scripts/compose-secrets.sh   agents use that key (with CCC_ANTHROPIC_BASE_URL unset
#                                                     in compose.yml) instead of the rehearsal model's
set -euo pipefail
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../deploy/compose" && pwd)
token() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
value() { sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n1; }

umask 077
if [[ ! -s $DIR/coordinator.env ]]; then
  printf '# The coordinator container'"'"'s secrets (scripts/compose-secrets.sh). Keep it secret: mode 0600.\nCCC_ADMIN_TOKEN=%s\nCCC_AGENT_TOKEN=%s\n' "$(token)" "$(token)" >"$DIR/coordinator.env"
  echo "compose-secrets: made $DIR/coordinator.env" >&2
fi
agent=$(value "$DIR/coordinator.env" CCC_AGENT_TOKEN)
[[ -n $agent ]] || { echo "compose-secrets: error: $DIR/coordinator.env has no CCC_AGENT_TOKEN: remove it to make a new one" >&2; exit 1; }
if [[ ! -s $DIR/agent.env || $(value "$DIR/agent.env" CCC_AGENT_TOKEN) != "$agent" ]]; then
  printf '# The agent containers'"'"' secrets (scripts/compose-secrets.sh). Keep it secret: mode 0600.\nCCC_AGENT_TOKEN=%s\nANTHROPIC_API_KEY=%s\n' "$agent" "${ANTHROPIC_API_KEY:-rehearsal-key-not-a-secret}" >"$DIR/agent.env"
  echo "compose-secrets: made $DIR/agent.env" >&2
fi
chmod 0600 "$DIR/coordinator.env" "$DIR/agent.env"

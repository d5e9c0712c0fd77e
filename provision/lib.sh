# shellcheck shell=bash
# Shared by provision/*.sh: logging, and idempotent steps that check before they change.
# Every step logs one line: "<step>: ok" when nothing had to change, "<step>: changed (…)" otherwise.

CCC_PREFIX=${CCC_PREFIX:-/opt/ccc}
CCC_ETC=${CCC_ETC:-/etc/ccc}
CCC_STATE=${CCC_STATE:-/var/lib/ccc}
CCC_UNIT_DIR=${CCC_UNIT_DIR:-/etc/systemd/system}
# common.sh leaves this when the installed app changed, so the role scripts restart their daemon.
CCC_RESTART_FLAG=${CCC_RESTART_FLAG:-$CCC_STATE/.restart-needed}
PROVISION_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT=$(basename "${0%.sh}")
CHANGES=0
STEPS=0

log() { printf 'ccc-provision %s: %s\n' "$SCRIPT" "$*"; }
die() { printf 'ccc-provision %s: error: %s\n' "$SCRIPT" "$*" >&2; exit 1; }
ok() { STEPS=$((STEPS + 1)); log "$1: ok"; }
changed() { STEPS=$((STEPS + 1)); CHANGES=$((CHANGES + 1)); log "$1: changed (${2:-updated})"; }

# The last line of every run: whether anything changed, so a second run can be checked.
summary() {
  if ((CHANGES == 0)); then log "done: nothing changed ($STEPS steps checked)"
  else log "done: $CHANGES of $STEPS steps changed something"; fi
}

trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR

require_root() { [[ $EUID -eq 0 ]] || die "run as root (sudo $0)"; }

# One of the listed values, or stop with the list.
require_choice() {
  local name=$1 value=$2; shift 2
  local v
  for v in "$@"; do [[ $value == "$v" ]] && return 0; done
  die "$name=$value is not one of: $*"
}

# install_content STEP DEST MODE OWNER:GROUP < content — writes DEST only when content, mode or owner
# differ. Sets LAST_CHANGED to yes or no.
LAST_CHANGED=no
install_content() {
  local step=$1 dest=$2 mode=$3 owner=$4 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [[ -f $dest ]] && cmp -s "$tmp" "$dest" && [[ $(stat -c '%a %U:%G' "$dest") == "$mode $owner" ]]; then
    rm -f "$tmp"
    LAST_CHANGED=no
    ok "$step"
    return 0
  fi
  install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$tmp" "$dest"
  rm -f "$tmp"
  LAST_CHANGED=yes
  changed "$step" "$dest"
}

# install_dir STEP DIR MODE OWNER:GROUP
install_dir() {
  local step=$1 dir=$2 mode=$3 owner=$4
  if [[ -d $dir ]] && [[ $(stat -c '%a %U:%G' "$dir") == "$mode $owner" ]]; then ok "$step"; return 0; fi
  install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir"
  changed "$step" "$dir"
}

# apt_packages STEP PKG… — installs the missing ones (apt-get update only when something is missing).
apt_packages() {
  local step=$1; shift
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then ok "$step"; return 0; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed: check the machine's apt sources and network"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
  changed "$step" "installed ${missing[*]}"
}

# A random token that meets the daemons' token rules (48 hex characters).
new_token() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# The value of NAME in an env file, or nothing.
env_value() {
  local file=$1 name=$2
  [[ -f $file ]] || return 0
  sed -n "s/^${name}=//p" "$file" | tail -n1
}

node_bin() { printf '%s\n' "$CCC_PREFIX/node/bin/node"; }

# Runs a JavaScript snippet (ESM) with the installed Node and app; arguments follow as process.argv[1…].
app_eval() {
  local code=$1; shift
  [[ -x $(node_bin) ]] || die "Node is not installed at $(node_bin): run provision/common.sh first"
  "$(node_bin)" --input-type=module -e "$code" "$@"
}

# install_unit NAME — copies provision/systemd/NAME into systemd's directory (daemon-reload when it
# changed). Sets LAST_CHANGED.
install_unit() {
  local name=$1
  install_content "unit $name" "$CCC_UNIT_DIR/$name" 644 root:root <"$PROVISION_DIR/systemd/$name"
  if [[ $LAST_CHANGED == yes ]]; then systemctl daemon-reload; fi
}

# run_unit NAME RESTART [SYSTEMCTL-OPTION…] — enables NAME; restarts it when RESTART is "yes",
# starts it when it is not active, and otherwise leaves it alone.
run_unit() {
  local name=$1 restart=$2; shift 2
  if systemctl is-enabled --quiet "$name" 2>/dev/null; then
    ok "enable $name"
  else
    systemctl enable --quiet "$name"
    changed "enable $name"
  fi
  if [[ $restart == yes ]]; then
    systemctl restart "$@" "$name" || die "$name did not restart: see systemctl status $name; journalctl -u $name"
    changed "run $name" "restarted"
  elif ! systemctl is-active --quiet "$name"; then
    systemctl start "$@" "$name" || die "$name did not start: see systemctl status $name; journalctl -u $name"
    changed "run $name" "started"
  else
    ok "run $name"
  fi
}

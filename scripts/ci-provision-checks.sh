#!/usr/bin/env bash
# CI checks of the provisioning, without machines: shellcheck, `vagrant validate` (and that bad knobs
# stop early), `systemd-analyze verify` and `security` of the units, and the bats tests of the
# provisioning logic (test/provision/*.bats). The full rehearsal is `npm run rehearse` (see docs/rehearsal.md).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FAILED=0
PASSED=0

log() { printf 'ci-provision: %s\n' "$*"; }
run() {
  local name=$1; shift
  if "$@"; then PASSED=$((PASSED + 1)); log "ok: $name"
  else FAILED=$((FAILED + 1)); log "FAILED: $name"; fi
}

tools() {
  local missing=() pkg
  for pkg in shellcheck bats vagrant; do command -v "$pkg" >/dev/null || missing+=("$pkg"); done
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  dpkg-query -W -f='${Status}' vagrant-lxc 2>/dev/null | grep -q 'install ok installed' || missing+=(vagrant-lxc)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

shell_scripts() {
  shellcheck -x "$ROOT"/provision/*.sh "$ROOT"/scripts/*.sh "$ROOT"/scripts/lib/*.sh "$ROOT/scripts/provision-host"
}

vagrant_validate() {
  local out
  (cd "$ROOT" && vagrant validate >/dev/null && VAGRANT_DEFAULT_PROVIDER=lxc vagrant validate >/dev/null) || return 1
  out=$(cd "$ROOT" && CCC_NODES=coordinator,nope vagrant validate 2>&1) && return 1
  grep -q 'valid: coordinator, backend, frontend, testing, devops' <<<"$out" || { echo "$out"; return 1; }
  out=$(cd "$ROOT" && CCC_SOURCE=floppy vagrant validate 2>&1) && return 1
  grep -q 'use one of: bundle, online' <<<"$out" || { echo "$out"; return 1; }
  out=$(cd "$ROOT" && CCC_NODE_MAJOR=20 vagrant validate 2>&1) && return 1
  grep -q 'CCC_NODE_MAJOR=20 is not valid; use one of: 22, 24' <<<"$out" || { echo "$out"; return 1; }
  out=$(cd "$ROOT" && CCC_NO_PROVISION=web vagrant validate 2>&1) && return 1
  grep -q 'CCC_NO_PROVISION names web' <<<"$out" || { echo "$out"; return 1; }
}

# A throwaway root with the units, systemd's own units and a stand-in for the Node binary.
unit_root() {
  UNIT_ROOT=$(mktemp -d)
  mkdir -p "$UNIT_ROOT/opt/ccc/node/bin" "$UNIT_ROOT/etc/systemd/system" "$UNIT_ROOT/usr/lib/systemd"
  printf '#!/bin/sh\n' >"$UNIT_ROOT/opt/ccc/node/bin/node"
  chmod +x "$UNIT_ROOT/opt/ccc/node/bin/node"
  cp -a /usr/lib/systemd/system "$UNIT_ROOT/usr/lib/systemd/"
  cp "$ROOT"/provision/systemd/*.service "$UNIT_ROOT/etc/systemd/system/"
}

units_verify() {
  local unit out status=0
  for unit in "$ROOT"/provision/systemd/*.service; do
    out=$(systemd-analyze verify --man=no --root="$UNIT_ROOT" "$(basename "$unit")" 2>&1) || status=1
    if [[ -n $out ]]; then printf '%s\n' "$out"; status=1; fi
  done
  return "$status"
}

# Exposure levels (lower is better); the coordinator must stay at or below 4.0.
units_security() {
  local unit score
  for unit in ccc-coordinator ccc-agent ccc-rehearsal-model; do
    score=$(systemd-analyze security --offline=yes --root="$UNIT_ROOT" "$unit.service" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    log "  $unit.service exposure $score"
    [[ -n $score ]] || return 1
    if [[ $unit == ccc-coordinator ]] && ! awk -v s="$score" 'BEGIN { exit !(s <= 4.0) }'; then return 1; fi
  done
}

main() {
  tools
  run "shellcheck provision/ scripts/" shell_scripts
  run "vagrant validate (default and lxc providers; unknown values stop early)" vagrant_validate
  unit_root
  trap 'rm -rf "$UNIT_ROOT"' EXIT
  run "systemd-analyze verify the units" units_verify
  run "systemd-analyze security (coordinator <= 4.0)" units_security
  run "bats test/provision" bats "$ROOT/test/provision"
  log "$PASSED passed, $FAILED failed"
  ((FAILED == 0))
}

main "$@"

#!/usr/bin/env bats
# The provisioning scripts fail fast, with one clear line, before they change anything.

PROVISION="$BATS_TEST_DIRNAME/../../provision"

setup() {
  SCRATCH=$(mktemp -d)
  export CCC_PREFIX=$SCRATCH/opt CCC_ETC=$SCRATCH/etc CCC_STATE=$SCRATCH/state CCC_UNIT_DIR=$SCRATCH/units
}

teardown() { rm -rf "$SCRATCH"; }

@test "common.sh refuses an unknown install source" {
  [ "$EUID" -eq 0 ] || skip "needs root (its first check)"
  CCC_SOURCE=floppy run bash "$PROVISION/common.sh"
  [ "$status" -eq 1 ]
  [[ $output == *"error: CCC_SOURCE=floppy is not one of: bundle online"* ]]
  [ ! -e "$SCRATCH/etc" ]
}

@test "common.sh says how to make the archive when there is none" {
  [ "$EUID" -eq 0 ] || skip "needs root (its first check)"
  [ -d /run/systemd/system ] || skip "stops earlier here: PID 1 is not systemd"
  CCC_BUNDLE=$SCRATCH/none.tar.gz run bash "$PROVISION/common.sh"
  [[ $output == *"npm run bundle"* ]]
}

@test "common.sh stops on a machine without systemd, and says so" {
  [ "$EUID" -eq 0 ] || skip "needs root (its first check)"
  [ ! -d /run/systemd/system ] || skip "this machine runs systemd"
  CCC_BUNDLE=/dev/null run bash "$PROVISION/common.sh"
  [ "$status" -eq 1 ]
  [[ $output == *"error: systemd is not running here (PID 1)"* ]]
}

@test "coordinator.sh and agent.sh want common.sh first" {
  [ "$EUID" -eq 0 ] || skip "needs root (its first check)"
  run bash "$PROVISION/coordinator.sh"
  [ "$status" -eq 1 ]
  [[ $output == *"run provision/common.sh first"* ]]
  run bash "$PROVISION/agent.sh"
  [ "$status" -eq 1 ]
  [[ $output == *"run provision/common.sh first"* ]]
}

@test "agent.sh checks its choices before anything else" {
  [ "$EUID" -eq 0 ] || skip "needs root (its first check)"
  CCC_MODEL=gpt run bash "$PROVISION/agent.sh"
  [[ $output == *"CCC_MODEL=gpt is not one of: rehearsal anthropic"* ]]
  CCC_FORGE=gitlab run bash "$PROVISION/agent.sh"
  [[ $output == *"CCC_FORGE=gitlab is not one of: local github"* ]]
}

@test "a failing command names its line" {
  run bash -c "source '$PROVISION/lib.sh'; set -Eeuo pipefail; false"
  [ "$status" -eq 1 ]
  [[ $output == *"error: failed at line"* ]]
}

@test "tls.sh makes the cluster CA and the coordinator's certificate once, and reissues it for a new address" {
  run bash "$PROVISION/tls.sh" ca "$SCRATCH/ca"
  [ "$status" -eq 0 ] && [[ $output == *"cluster CA $SCRATCH/ca/ca.pem: changed (made)"* ]]
  [ "$(stat -c %a "$SCRATCH/ca/ca.key")" = 600 ]
  run bash "$PROVISION/tls.sh" ca "$SCRATCH/ca"
  [[ $output == *"cluster CA $SCRATCH/ca/ca.pem: ok"* ]]
  run bash "$PROVISION/tls.sh" cert "$SCRATCH/ca" "$SCRATCH/out" 192.168.56.10 coordinator
  [[ $output == *"(192.168.56.10, coordinator): changed (issued)"* ]]
  openssl verify -CAfile "$SCRATCH/ca/ca.pem" "$SCRATCH/out/coordinator.pem"
  openssl x509 -in "$SCRATCH/out/coordinator.pem" -noout -ext subjectAltName | grep -q 'IP Address:192.168.56.10, DNS:coordinator'
  [ "$(stat -c %a "$SCRATCH/out/coordinator.key")" = 600 ]
  run bash "$PROVISION/tls.sh" cert "$SCRATCH/ca" "$SCRATCH/out" 192.168.56.10 coordinator
  [[ $output == *"(192.168.56.10, coordinator): ok"* ]]
  run bash "$PROVISION/tls.sh" cert "$SCRATCH/ca" "$SCRATCH/out" 192.168.56.20 coordinator
  [[ $output == *"(192.168.56.20, coordinator): changed (issued)"* ]]
}

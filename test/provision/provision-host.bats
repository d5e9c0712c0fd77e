#!/usr/bin/env bats
# scripts/provision-host's own logic with ssh and scp stand-ins on PATH: what it copies, what it
# runs, its exit status. (The rehearsal runs it against a real machine over real SSH.)

HOST_SCRIPT="$BATS_TEST_DIRNAME/../../scripts/provision-host"

setup() {
  SCRATCH=$(mktemp -d)
  mkdir -p "$SCRATCH/bin" "$SCRATCH/remote" "$SCRATCH/tmp"
  # ssh: records its arguments; the provisioning command exits with $FAKE_REMOTE_STATUS, the first
  # command with $FAKE_REACH_STATUS (255 is how ssh says it could not connect).
  cat >"$SCRATCH/bin/ssh" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$*" >>"$SCRATCH/ssh.log"
cmd=${*: -1}
if [[ $cmd == *common.sh* ]]; then echo "ccc-provision agent: done: nothing changed (9 steps checked)"; exit "${FAKE_REMOTE_STATUS:-0}"; fi
exit "${FAKE_REACH_STATUS:-0}"
EOF
  # scp: records its arguments and copies the source to remote/<last path part of the target>.
  cat >"$SCRATCH/bin/scp" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$*" >>"$SCRATCH/scp.log"
src=${*: -2:1} dest=${*: -1}
cp -rp "$src" "$SCRATCH/remote/$(basename "${dest#*:}")"
EOF
  chmod +x "$SCRATCH/bin/ssh" "$SCRATCH/bin/scp"
  : >"$SCRATCH/bundle.tar.gz"
  export SCRATCH PATH="$SCRATCH/bin:$PATH" TMPDIR="$SCRATCH/tmp" CCC_BUNDLE="$SCRATCH/bundle.tar.gz"
  TOKEN=0123456789abcdef0123456789abcdef0123456789abcdef
}

teardown() { rm -rf "$SCRATCH"; }

@test "provision-host exits 0 after a successful provisioning, and removes its env file" {
  CCC_AGENT_TOKEN=$TOKEN run bash "$HOST_SCRIPT" agent ops@10.0.0.11 backend
  echo "$output"
  [ "$status" -eq 0 ]
  [[ $output != *"unbound variable"* ]]
  [[ $output == *"done: ops@10.0.0.11 is agent backend"* ]]
  [ -z "$(ls -A "$SCRATCH/tmp")" ]
}

@test "provision-host exits 0 for a coordinator too" {
  run bash "$HOST_SCRIPT" coordinator ops@10.0.0.10
  [ "$status" -eq 0 ]
  [[ $output == *"The agents need its join token"* && $output == *"CCC_TLS_CA_FILE"* ]]
}

@test "provision-host exits 1 when the provisioning on the machine fails, and says so" {
  FAKE_REMOTE_STATUS=1 CCC_AGENT_TOKEN=$TOKEN run bash "$HOST_SCRIPT" agent ops@10.0.0.11 backend
  [ "$status" -eq 1 ]
  [[ $output == *"error: provisioning ops@10.0.0.11 as agent failed"* ]]
  [ -z "$(ls -A "$SCRATCH/tmp")" ]
}

@test "provision-host exits 1 when the machine cannot be reached" {
  FAKE_REACH_STATUS=255 run bash "$HOST_SCRIPT" agent ops@10.0.0.99 backend
  [ "$status" -eq 1 ]
  [[ $output == *"error: cannot reach ops@10.0.0.99 over SSH"* ]]
  [ ! -e "$SCRATCH/scp.log" ]
}

@test "secrets travel in a 0600 file, never on a command line" {
  CCC_AGENT_TOKEN=$TOKEN run bash "$HOST_SCRIPT" agent ops@10.0.0.11 backend
  [ "$status" -eq 0 ]
  [ "$(stat -c %a "$SCRATCH/remote/env")" = 600 ]
  grep -qx "CCC_AGENT_TOKEN=$TOKEN" "$SCRATCH/remote/env"
  grep -qx "CCC_AGENT_ID=backend" "$SCRATCH/remote/env"
  ! grep -q "$TOKEN" "$SCRATCH/ssh.log" "$SCRATCH/scp.log"
}

@test "CCC_SSH_CONFIG is given to ssh and scp; a missing one stops early" {
  printf 'Host backend\n  HostName 127.0.0.1\n' >"$SCRATCH/ssh-config"
  CCC_SSH_CONFIG=$SCRATCH/ssh-config CCC_AGENT_TOKEN=$TOKEN run bash "$HOST_SCRIPT" agent backend backend
  [ "$status" -eq 0 ]
  [ "$(grep -c -- "-F $SCRATCH/ssh-config" "$SCRATCH/ssh.log")" -eq 2 ]
  [ "$(grep -c -- "-F $SCRATCH/ssh-config" "$SCRATCH/scp.log")" -eq 4 ]
  CCC_SSH_CONFIG=$SCRATCH/none run bash "$HOST_SCRIPT" agent backend backend
  [ "$status" -eq 1 ]
  [[ $output == *"cannot read CCC_SSH_CONFIG=$SCRATCH/none"* ]]
}

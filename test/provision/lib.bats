#!/usr/bin/env bats
# The provisioning library's idempotent steps, in a scratch directory (no machine is changed).

setup() {
  SCRATCH=$(mktemp -d)
  export CCC_PREFIX=$SCRATCH/opt CCC_ETC=$SCRATCH/etc CCC_STATE=$SCRATCH/state CCC_UNIT_DIR=$SCRATCH/units
  # shellcheck source=../../provision/lib.sh
  source "$BATS_TEST_DIRNAME/../../provision/lib.sh"
  trap - ERR
  ME="$(id -un):$(id -gn)"
}

teardown() { rm -rf "$SCRATCH"; }

@test "install_content writes once, then reports ok and leaves the file alone" {
  install_content "greeting" "$SCRATCH/etc/a.env" 600 "$ME" <<<"A=1"
  [ "$LAST_CHANGED" = yes ]
  [ "$(cat "$SCRATCH/etc/a.env")" = "A=1" ]
  [ "$(stat -c %a "$SCRATCH/etc/a.env")" = 600 ]
  before=$(stat -c %Y.%i "$SCRATCH/etc/a.env")
  sleep 1
  run install_content "greeting" "$SCRATCH/etc/a.env" 600 "$ME" <<<"A=1"
  [ "$status" -eq 0 ]
  [[ $output == *"greeting: ok"* ]]
  [ "$(stat -c %Y.%i "$SCRATCH/etc/a.env")" = "$before" ]
}

@test "install_content rewrites on a content or mode change and says so" {
  install_content "f" "$SCRATCH/f" 600 "$ME" <<<"one"
  run install_content "f" "$SCRATCH/f" 600 "$ME" <<<"two"
  [[ $output == *"f: changed ($SCRATCH/f)"* ]]
  chmod 644 "$SCRATCH/f"
  install_content "f" "$SCRATCH/f" 600 "$ME" <<<"two"
  [ "$LAST_CHANGED" = yes ]
  [ "$(stat -c %a "$SCRATCH/f")" = 600 ]
}

@test "summary says nothing changed when every step was ok" {
  install_content "x" "$SCRATCH/x" 600 "$ME" <<<"x"
  CHANGES=0 STEPS=0
  install_content "x" "$SCRATCH/x" 600 "$ME" <<<"x"
  run summary
  [[ $output == *"done: nothing changed (1 steps checked)"* ]]
}

@test "install_dir creates with mode and owner, then is ok" {
  run install_dir "d" "$SCRATCH/d" 750 "$ME"
  [[ $output == *"d: changed"* ]]
  run install_dir "d" "$SCRATCH/d" 750 "$ME"
  [[ $output == *"d: ok"* ]]
}

@test "require_choice stops with the valid values" {
  run require_choice CCC_SOURCE floppy bundle online
  [ "$status" -eq 1 ]
  [[ $output == *"CCC_SOURCE=floppy is not one of: bundle online"* ]]
  require_choice CCC_SOURCE online bundle online
}

@test "env_value reads the last assignment of a name, and nothing from a missing file" {
  printf 'A=1\nB=two=2\nA=3\n' >"$SCRATCH/e"
  [ "$(env_value "$SCRATCH/e" A)" = 3 ]
  [ "$(env_value "$SCRATCH/e" B)" = "two=2" ]
  [ -z "$(env_value "$SCRATCH/nope" A)" ]
}

@test "new_token meets the daemons' token rules" {
  t=$(new_token)
  [[ $t =~ ^[0-9a-f]{48}$ ]]
  [ "$t" != "$(new_token)" ]
}

@test "apt_packages is ok when everything is installed (no apt-get call)" {
  run apt_packages "packages" bash coreutils
  [ "$status" -eq 0 ]
  [[ $output == *"packages: ok"* ]]
}

#!/usr/bin/env bash
# Builds a vagrant-lxc box of Debian 12 with systemd (debootstrap from the Debian archive this
# machine's apt sources name), because no box can be downloaded here. See shared notes on the LXC trial and docs/rehearsal.md.
#
#   scripts/build-box.sh [OUTPUT.box]     default: $CCC_BOX_CACHE/ccc-debian12-lxc.box
#
# The box follows Vagrant's conventions (user vagrant with the insecure key, NOPASSWD sudo,
# openssh-server, empty machine-id, host keys made on first boot) and avoids what breaks in a
# container: no /etc/hostname and no ifupdown (systemd-networkd + resolved + libnss-myhostname).
# A box whose recipe (this file) has not changed is reused.
set -euo pipefail

readonly SUITE=bookworm
readonly CACHE=${CCC_BOX_CACHE:-/var/cache/ccc-boxes}
# git: provision/common.sh installs it on any machine; in the box, a rehearsal needs no apt run.
readonly PACKAGES=systemd,systemd-sysv,systemd-resolved,libnss-myhostname,dbus,openssh-server,sudo,ca-certificates,iproute2,procps,curl,less,xz-utils,gnupg,git

log() { printf 'build-box: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The URI of a Debian archive (NAME: debian or debian-security) in the host's own apt sources
# (deb822 or one-line), so guests use the same source; nothing when the host has none.
host_source() {
  local name=$1 uri
  uri=$(grep -hsE "^URIs:.*/$name/?\$" /etc/apt/sources.list.d/*.sources | head -n1 | awk '{print $2}')
  [[ -n $uri ]] || uri=$(grep -hsE "^deb .*/$name/? " /etc/apt/sources.list /etc/apt/sources.list.d/*.list | head -n1 | awk '{print $2}')
  printf '%s\n' "${uri%/}"
}

recipe_hash() { sha256sum "${BASH_SOURCE[0]}" | cut -c1-16; }

bootstrap() {
  local root=$1 mirror=$2
  log "debootstrap $SUITE from $mirror (a few minutes)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
    || { tail -n 20 "$root.debootstrap.log" >&2; die "debootstrap failed (its last lines are above)"; }
}

configure_guest() {
  local root=$1 mirror=$2 security
  log "configuring the guest: apt sources, network, vagrant user, first-boot host keys"
  security=$(host_source debian-security)
  {
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$SUITE" "$mirror" "$SUITE"
    if [[ -n $security ]]; then printf 'deb %s %s-security main\n' "$security" "$SUITE"
    else log "the host's apt sources have no debian-security archive: the guest gets none either"; fi
  } >"$root/etc/apt/sources.list"
  rm -f "$root/etc/hostname"
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  mkdir -p "$root/etc/systemd/network"
  printf '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/eth0.network"
  ln -sf /run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
  chroot "$root" systemctl enable --quiet systemd-networkd systemd-resolved ssh
  # Host keys are made on first boot, so every machine gets its own.
  rm -f "$root"/etc/ssh/ssh_host_*
  cat >"$root/etc/systemd/system/ssh-host-keys.service" <<'EOF'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
  chroot "$root" systemctl enable --quiet ssh-host-keys.service
  printf 'UseDNS no\n' >"$root/etc/ssh/sshd_config.d/vagrant.conf"
  printf 'LANG=C.UTF-8\n' >"$root/etc/default/locale"
  chroot "$root" useradd --create-home --shell /bin/bash vagrant
  echo 'vagrant:vagrant' | chroot "$root" chpasswd
  install -d -m 0700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
  install -m 0600 -o 1000 -g 1000 "$(vagrant_key)" "$root/home/vagrant/.ssh/authorized_keys"
  printf 'vagrant ALL=(ALL) NOPASSWD:ALL\nDefaults:vagrant !requiretty\n' >"$root/etc/sudoers.d/vagrant"
  chmod 0440 "$root/etc/sudoers.d/vagrant"
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
}

# Vagrant's insecure public key, shipped with the vagrant package.
vagrant_key() {
  local key
  key=$(find /usr/share/rubygems-integration /usr/lib/ruby /opt/vagrant -path '*keys/vagrant.pub' 2>/dev/null | head -n1)
  [[ -n $key ]] || die "vagrant.pub not found: install the vagrant package first"
  printf '%s\n' "$key"
}

pack_box() {
  local work=$1 out=$2
  log "packing $out"
  # vagrant-lxc unpacks rootfs.tar.gz with --strip-components=2, so it needs the ./rootfs/ prefix.
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$work" -czf "$work/rootfs.tar.gz" ./rootfs
  printf '{"provider":"lxc","version":"1.0.0","built-on":"%s","recipe":"%s"}\n' "$(date -u +%FT%TZ)" "$(recipe_hash)" >"$work/metadata.json"
  printf 'lxc.include = /usr/share/lxc/config/debian.common.conf\nlxc.arch = amd64\n' >"$work/lxc-config"
  tar -C "$work" -czf "$out.tmp" metadata.json lxc-config rootfs.tar.gz
  mv "$out.tmp" "$out"
}

main() {
  local out=${1:-$CACHE/ccc-debian12-lxc.box}
  [[ $EUID -eq 0 ]] || die "run as root (debootstrap and chroot need it)"
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install --no-install-recommends debootstrap"
  mkdir -p "$(dirname "$out")"
  if [[ -f $out ]] && tar -xzOf "$out" metadata.json 2>/dev/null | grep -q "\"recipe\":\"$(recipe_hash)\""; then
    log "$out is up to date (same recipe); nothing to do"
    printf '%s\n' "$out"
    return
  fi
  local mirror
  WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/ccc-box.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  mirror=$(host_source debian)
  [[ -n $mirror ]] || die "no Debian archive in this machine's apt sources (/etc/apt/sources.list*): add one, the box is built from it"
  bootstrap "$WORK/rootfs" "$mirror"
  configure_guest "$WORK/rootfs" "$mirror"
  pack_box "$WORK" "$out"
  log "built $out ($(du -h "$out" | cut -f1))"
  printf '%s\n' "$out"
}

main "$@"

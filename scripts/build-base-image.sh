#!/usr/bin/env bash
# Builds the base image of the Compose rehearsal where no container registry is reachable: a Debian 12
# root file system from the Debian mirror (debootstrap, as scripts/build-box.sh does for the LXC box)
# imported into Podman. With a registry, the Containerfile's default base (an official Node image)
# is used instead and this script is not needed. See docs/compose.md.
#
#   scripts/build-base-image.sh        prints the image name, e.g. localhost/ccc-base:bookworm-<recipe>
#
# An image whose recipe (this file) has not changed is reused. Needs root, debootstrap and podman.
set -euo pipefail

readonly SUITE=bookworm
readonly PACKAGES=ca-certificates,git,tini,bubblewrap,socat,procps
readonly CACHE=${CCC_BOX_CACHE:-/var/cache/ccc-boxes}

log() { printf 'build-base-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

recipe_hash() { sha256sum "${BASH_SOURCE[0]}" | cut -c1-12; }

# The mirror the host's own apt uses (deb822 or one-line sources).
host_mirror() {
  local uri
  uri=$(grep -hsE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources | head -n1 | awk '{print $2}')
  [[ -n $uri ]] || uri=$(grep -hsE '^deb .*/debian/? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | head -n1 | awk '{print $2}')
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

rootfs_tarball() {
  local out=$1 root mirror
  TMP_ROOT=$(mktemp -d "${TMPDIR:-/var/tmp}/ccc-base.XXXXXX")
  trap 'rm -rf "$TMP_ROOT"' EXIT
  root=$TMP_ROOT
  mirror=$(host_mirror)
  log "debootstrap --variant=minbase $SUITE from $mirror (a few minutes)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root/fs" "$mirror" >"$root/debootstrap.log" 2>&1 \
    || { tail -n 20 "$root/debootstrap.log" >&2; die "debootstrap failed (its last lines are above)"; }
  chroot "$root/fs" apt-get clean
  rm -rf "$root"/fs/var/lib/apt/lists/* "$root"/fs/var/log/*.log "$root"/fs/var/cache/apt/*.bin
  # podman import wants the tree at the archive's root (not under ./rootfs/ as the LXC box has it).
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$root/fs" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
}

main() {
  [[ $EUID -eq 0 ]] || die "run as root (debootstrap and chroot need it)"
  command -v podman >/dev/null || die "podman is missing: apt-get install podman"
  local image tarball
  image=localhost/ccc-base:$SUITE-$(recipe_hash)
  if podman image exists "$image"; then log "$image exists; nothing to do"; printf '%s\n' "$image"; return; fi
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install --no-install-recommends debootstrap"
  mkdir -p "$CACHE"
  tarball=$CACHE/ccc-base-$SUITE-$(recipe_hash).tar
  [[ -f $tarball ]] || rootfs_tarball "$tarball"
  log "podman import $tarball → $image"
  podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null
  # Older recipes' images and tarballs.
  podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/ccc-base:' | grep -vxF "$image" | xargs -r podman rmi >/dev/null 2>&1 || true
  find "$CACHE" -maxdepth 1 -name 'ccc-base-*.tar' ! -name "$(basename "$tarball")" -delete
  printf '%s\n' "$image"
}

main "$@"

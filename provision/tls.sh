#!/usr/bin/env bash
# The cluster's TLS material, made with openssl: a cluster CA, and the coordinator's certificate
# signed by it (subjectAltName: the coordinator's IP and host name). Sourced by coordinator.sh for
# its steps, or run on its own (the Vagrantfile makes the CA on the host, to hand it to every node):
#
#   provision/tls.sh ca DIR                          DIR/ca.pem + DIR/ca.key, unless they exist
#   provision/tls.sh cert CA_DIR OUT_DIR IP HOSTNAME  OUT_DIR/coordinator.pem + .key, unless a valid one exists
#
# Both are idempotent: they check before they change and print one line each.
set -Eeuo pipefail

TLS_CA_DAYS=${TLS_CA_DAYS:-3650}
TLS_CERT_DAYS=${TLS_CERT_DAYS:-825}
# Reissue the coordinator's certificate when it expires within this many seconds (30 days).
TLS_RENEW_BEFORE=${TLS_RENEW_BEFORE:-2592000}

# One line per step; coordinator.sh redefines both to count its steps.
tls_ok() { printf 'ccc-provision tls: %s: ok\n' "$1"; }
tls_changed() { printf 'ccc-provision tls: %s: changed (%s)\n' "$1" "$2"; }

# tls_make_ca DIR — the cluster CA (EC P-256), made once; its key stays 0600.
tls_make_ca() {
  local dir=$1
  if [[ -s $dir/ca.pem && -s $dir/ca.key ]]; then
    tls_ok "cluster CA $dir/ca.pem"
    return 0
  fi
  mkdir -p "$dir"
  chmod 700 "$dir"
  (umask 077 && openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days "$TLS_CA_DAYS" -subj "/CN=ccc cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null)
  chmod 644 "$dir/ca.pem"
  tls_changed "cluster CA $dir/ca.pem" made
}

# tls_cert_valid CA_DIR OUT_DIR IP HOSTNAME — the existing certificate chains to the CA, names both, and is not about to expire.
tls_cert_valid() {
  local ca=$1 out=$2 ip=$3 host=$4 text
  [[ -s $out/coordinator.pem && -s $out/coordinator.key ]] || return 1
  openssl verify -CAfile "$ca/ca.pem" "$out/coordinator.pem" >/dev/null 2>&1 || return 1
  openssl x509 -in "$out/coordinator.pem" -noout -checkend "$TLS_RENEW_BEFORE" >/dev/null 2>&1 || return 1
  text=$(openssl x509 -in "$out/coordinator.pem" -noout -ext subjectAltName 2>/dev/null) || return 1
  [[ $text == *"IP Address:$ip"* && $text == *"DNS:$host"* ]]
}

# tls_issue_cert CA_DIR OUT_DIR IP HOSTNAME — the coordinator's certificate and key (0600).
tls_issue_cert() {
  local ca=$1 out=$2 ip=$3 host=$4
  if tls_cert_valid "$ca" "$out" "$ip" "$host"; then
    tls_ok "coordinator certificate $out/coordinator.pem ($ip, $host)"
    return 0
  fi
  mkdir -p "$out"
  local csr
  csr=$(mktemp)
  (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$out/coordinator.key.new" -out "$csr" -subj "/CN=$host" 2>/dev/null)
  openssl x509 -req -in "$csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" -CAcreateserial -CAserial "$out/ca.srl" \
    -out "$out/coordinator.pem.new" -days "$TLS_CERT_DAYS" \
    -extfile <(printf 'subjectAltName=IP:%s,DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$ip" "$host") 2>/dev/null
  rm -f "$csr"
  mv "$out/coordinator.key.new" "$out/coordinator.key"
  mv "$out/coordinator.pem.new" "$out/coordinator.pem"
  tls_changed "coordinator certificate $out/coordinator.pem ($ip, $host)" issued
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case ${1:-} in
    ca) [[ $# -eq 2 ]] || { echo "usage: $0 ca DIR" >&2; exit 2; }; tls_make_ca "$2" ;;
    cert) [[ $# -eq 5 ]] || { echo "usage: $0 cert CA_DIR OUT_DIR IP HOSTNAME" >&2; exit 2; }; tls_issue_cert "$2" "$3" "$4" "$5" ;;
    *) echo "usage: $0 ca DIR | cert CA_DIR OUT_DIR IP HOSTNAME" >&2; exit 2 ;;
  esac
fi

#!/usr/bin/env bash
# Makes a development CA and one client certificate per role, plus the server certificate, with
# the openssl command line. For development and tests only: real deployments use the agency's PKI.
#
#   deploy/tls/make-dev-certs.sh DIR [--test-extras]
#
# Idempotent: files that exist are kept (re-running never invalidates certificates in use).
# Identity conventions (what ledgerd reads from a client certificate):
#   role    = the subject's OU: tax-bureau | fund-agency | auditor | admin
#   regions = SAN URIs "urn:ledger:region:<6-digit code>"; none means every region
# --test-extras also makes: expired.{crt,key} (valid in 2020 only, same CA), other-ca.{crt,key}
# (a tax-bureau certificate signed by an unrelated CA), no-role.{crt,key} (no OU) and
# fund-agency-222402.{crt,key} (a fund agency limited to region 222402).
set -euo pipefail

dir=${1:?usage: make-dev-certs.sh DIR [--test-extras]}
extras=${2:-}
mkdir -p "$dir"
cd "$dir"
days=825

make_ca() {  # name subject
  [[ -f $1.crt ]] && return
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" \
    -out "$1.crt" -days 3650 \
    -subj "$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# issue NAME SUBJECT EXTENSIONS [CA]
issue() {
  local name=$1 subject=$2 ext=$3 ca=${4:-ca}
  [[ -f $name.crt ]] && return
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$name.key" \
    -out "$name.csr" -subj "$subject" 2>/dev/null
  printf '%s\n' "$ext" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
    -out "$name.crt" -days "$days" -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

client_ext() {  # [region ...]
  local san=""
  for r in "$@"; do san+="${san:+,}URI:urn:ledger:region:$r"; done
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
  [[ -n $san ]] && printf 'subjectAltName=%s\n' "$san"
  return 0
}

make_ca ca "/O=Pension Ledger Dev/CN=Pension Ledger Dev CA"
issue server "/O=Pension Ledger Dev/OU=server/CN=localhost" \
  "$(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1')"
for role in tax-bureau fund-agency auditor admin; do
  issue "$role" "/O=Pension Ledger Dev/OU=$role/CN=$role-dev" "$(client_ext)"
done
issue tax-bureau-222401 "/O=Pension Ledger Dev/OU=tax-bureau/CN=tax-bureau-yanji-dev" \
  "$(client_ext 222401)"

if [[ $extras == --test-extras ]]; then
  issue no-role "/O=Pension Ledger Dev/CN=no-role-dev" "$(client_ext)"
  issue fund-agency-222402 "/O=Pension Ledger Dev/OU=fund-agency/CN=fund-agency-222402-dev" \
    "$(client_ext 222402)"
  if [[ ! -f expired.crt ]]; then
    # `openssl ca` is the command-line tool that can back-date a certificate.
    mkdir -p expired-ca && : > expired-ca/index.txt && echo 01 > expired-ca/serial
    cat > expired-ca/ca.cnf <<CNF
[ca]
default_ca = dev
[dev]
database = expired-ca/index.txt
serial = expired-ca/serial
new_certs_dir = expired-ca
default_md = sha256
policy = any
copy_extensions = none
[any]
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ext]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
CNF
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout expired.key -out expired.csr \
      -subj "/O=Pension Ledger Dev/OU=tax-bureau/CN=expired-dev" 2>/dev/null
    openssl ca -batch -config expired-ca/ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr \
      -out expired.crt -startdate 20200101000000Z -enddate 20200201000000Z -extensions ext \
      -notext 2>/dev/null
    rm -rf expired.csr expired-ca
  fi
  make_ca other-root "/O=Somebody Else/CN=Unrelated CA"
  issue other-ca "/O=Somebody Else/OU=tax-bureau/CN=impostor" "$(client_ext)" other-root
fi
chmod 600 ./*.key
echo "dev certificates in $PWD"

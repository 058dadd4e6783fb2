#!/usr/bin/env bash
# Makes the Ed25519 key pair ledgerd signs its checkpoints with, using the openssl command line.
#
#   deploy/tls/make-checkpoint-key.sh DIR
#
#   DIR/checkpoint.key  private key (PKCS#8 PEM, mode 0600): `ledgerd --checkpoint-key`
#                       (or `checkpoint_key` in the [audit] section of ledgerd.toml). It never
#                       leaves the server; back it up like the server's TLS key.
#   DIR/checkpoint.pub  public key (SubjectPublicKeyInfo PEM): publish it to auditors, who check
#                       exports with `ledgerctl verify EXPORT --pubkey checkpoint.pub`.
#
# Idempotent: an existing checkpoint.key is kept (replacing it would make every checkpoint signed
# so far unverifiable with the new public key); checkpoint.pub is (re)derived from it.
set -euo pipefail

dir=${1:?usage: make-checkpoint-key.sh DIR}
mkdir -p "$dir"
key=$dir/checkpoint.key
pub=$dir/checkpoint.pub

if [[ ! -s $key ]]; then
  # Created 0600 before the key is written, so it is never readable by others.
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$key.tmp" 2>/dev/null)
  mv "$key.tmp" "$key"
fi
chmod 600 "$key"
openssl pkey -in "$key" -pubout -out "$pub.tmp" 2>/dev/null
chmod 644 "$pub.tmp"
mv "$pub.tmp" "$pub"
echo "checkpoint key in $key, public key in $pub"

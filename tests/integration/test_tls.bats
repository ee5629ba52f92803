#!/usr/bin/env bats
# HTTPS: a township serving TLS with a certificate made here by a CA made
# here; a village that trusts that CA (or pins the key) syncs, one that
# trusts another CA or pins another key is refused and nothing lands.

load helper

bats_require_minimum_version 1.5.0

TOWN=370102004
VA=370102004001

# ca NAME: a CA key and self-signed certificate in $T/NAME.{key,pem}.
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
		-keyout "$T/$1.key" -out "$T/$1.pem" 2>/dev/null
}

# cert NAME CA: a key and certificate for 127.0.0.1 signed by CA.
cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=township" \
		-keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
	printf 'subjectAltName = IP:127.0.0.1\n' >"$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" -CAcreateserial -days 2 \
		-extfile "$T/$1.ext" -out "$T/$1.pem" 2>/dev/null
	chmod 600 "$T/$1.key"
}

# pin CERT: curl's sha256// pin of the certificate's public key.
pin() {
	echo "sha256//$(openssl x509 -in "$T/$1.pem" -pubkey -noout | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | base64)"
}

# upstream_set NAME KEY VALUE: set KEY in NAME's [upstream] (its last section).
upstream_set() {
	sed -i "/^$2 = /d" "$BATS_TEST_TMPDIR/$1.conf"
	echo "$2 = $3" >>"$BATS_TEST_TMPDIR/$1.conf"
}

setup() {
	T=$BATS_TEST_TMPDIR/tls
	mkdir -p "$T"
	ca good-ca
	ca other-ca
	cert town good-ca
	make_township town $TOWN
	printf 'tls_cert = %s\ntls_key = %s\n' "$T/town.pem" "$T/town.key" >>"$BATS_TEST_TMPDIR/town.conf"
	make_village a $VA town 60
	sed -i 's|^url = http://|url = https://|' "$BATS_TEST_TMPDIR/a.conf"
	on a visit add --people 2 --category 土地纠纷 --summary 村民反映 >/dev/null
}

teardown() {
	stop_all
}

held_by_town() {
	on town log --json | python3 -c 'import json, sys; print(sum(e["origin"] == "'$VA'" for e in json.load(sys.stdin)))'
}

@test "a village that trusts the township's CA syncs over TLS" {
	start town
	# A CA file that is not there is named, not left to curl's "problem
	# with the SSL CA cert".
	upstream_set a ca_file "$T/none.pem"
	run --separate-stderr on a sync
	[ "$status" -eq 1 ]
	[ "$stderr" = "xinfangctl sync: [upstream] ca_file $T/none.pem cannot be read as PEM certificates" ] ||
		{ echo "$stderr" >&2; false; }
	[ "$(held_by_town)" -eq 0 ]
	upstream_set a ca_file "$T/good-ca.pem"
	run on a sync
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[[ "$output" == "in sync with https://127.0.0.1:"* ]]
	[ "$(held_by_town)" -eq 3 ]
	verified town a
}

@test "a pinned key alone is the whole trust: no CA asked, and another key refused" {
	start town
	# The township's CA is none the village knows: another key pinned is
	# refused, and nothing lands.
	cert impostor other-ca
	upstream_set a pinned_key "$(pin impostor)"
	run --separate-stderr on a sync
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"public key"* ]] || [[ "$stderr" == *"pinned"* ]]
	[ "$(held_by_town)" -eq 0 ]
	upstream_set a pinned_key "$(pin town)"
	run on a sync
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[ "$(held_by_town)" -eq 3 ]
}

@test "a wrong CA, a wrong pin or plain HTTP is refused with one line, and nothing lands" {
	start town
	upstream_set a ca_file "$T/other-ca.pem"
	run --separate-stderr on a sync
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"certificate"* ]] || [[ "$stderr" == *"SSL"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	# The right CA, but another key pinned.
	cert impostor other-ca
	upstream_set a ca_file "$T/good-ca.pem"
	upstream_set a pinned_key "$(pin impostor)"
	run --separate-stderr on a sync
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"public key"* ]] || [[ "$stderr" == *"pinned"* ]]
	# A pin or a CA with plain HTTP would check nothing: the config is refused.
	sed -i 's|^url = https://|url = http://|' "$BATS_TEST_TMPDIR/a.conf"
	run --separate-stderr on a sync
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"a.conf: [upstream] ca_file needs an https:// url" ]]
	# Plain HTTP to the TLS port.
	sed -i '/^pinned_key = /d; /^ca_file = /d' "$BATS_TEST_TMPDIR/a.conf"
	run --separate-stderr on a sync
	[ "$status" -eq 1 ]
	[ "$(held_by_town)" -eq 0 ]
	# And the right pin works.
	sed -i 's|^url = http://|url = https://|' "$BATS_TEST_TMPDIR/a.conf"
	upstream_set a ca_file "$T/good-ca.pem"
	upstream_set a pinned_key "$(pin town)"
	run on a sync
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[ "$(held_by_town)" -eq 3 ]
}

@test "a TLS key open to others, or a cert without its key, stops the township with one line" {
	chmod 644 "$T/town.key"
	run --separate-stderr "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"chmod 600"* ]]
	sed -i '/^tls_key = /d' "$BATS_TEST_TMPDIR/town.conf"
	run --separate-stderr "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf" --check-config
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"tls_cert and tls_key go together"* ]]
	run --separate-stderr on town status
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"tls_cert and tls_key go together"* ]]
}

@test "a certificate or key TLS cannot use stops the township with one line naming it, not the address" {
	echo "not a cert" >"$T/town.pem"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf"
	echo "$stderr" >&2
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"$T/town.pem"*"TLS certificate"* ]]
	[[ "$stderr" != *"Address already in use"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	# A good certificate with another key.
	cert town good-ca
	cert other good-ca
	sed -i "s|^tls_key = .*|tls_key = $T/other.key|" "$BATS_TEST_TMPDIR/town.conf"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf"
	echo "$stderr" >&2
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"TLS certificate"*"do not match"* ]]
	[[ "$stderr" != *"Address already in use"* ]]
	# A good pair on a port another township holds: that is the address.
	sed -i "s|^tls_key = .*|tls_key = $T/town.key|" "$BATS_TEST_TMPDIR/town.conf"
	start town
	make_township busy 370102005
	sed -i "s|^listen = .*|listen = 127.0.0.1:$(cat "$BATS_TEST_TMPDIR/town.port")|" "$BATS_TEST_TMPDIR/busy.conf"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/busy.conf"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"Address already in use"* ]]
}

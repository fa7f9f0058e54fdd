#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034  # check_cond conditions are eval'd; variables used there
# scripts/userca-gateway-sync (under dash) against a hostile HTTP server
# (it_gateway_sync_server.py on 127.0.0.1) and a hostile local user, issue
# 20.  Each attack must be refused (exit 1 or 3) with one line saying why,
# the installed files untouched and no reload; a real nginx and a real
# Apache httpd (mod_ssl, lib_apache.sh; each when installed, Apache required
# when CI=true) on the gateway folder go on accepting alice and refusing bob
# (revoked):
#   - a bundle with the pinned root twice and the root CRL as crl.pem; the
#     root CRL as crl.pem; a root-only bundle (drops the issuing CA);
#   - an issuing CA revoked on the root CRL, with a CRL signed by its key;
#     a CA:FALSE certificate signed by the root as CRL signer;
#   - an issuing CRL valid for 60 days; CRL numbers of 2^63 and of the
#     installed one + 2,000,000; --min-root-crl-number;
#   - an endless chunked answer; one byte a second (--max-time); a 302 to
#     another port; 300 copies of the issuing CA in the bundle; ~/.curlrc;
#   - a full temporary folder (a small tmpfs, every amount of free space);
#   - a state folder writable by others / owned by another user, with
#     symbolic links planted in it;
#   - the run killed right after the install: the set is whole, the next
#     run reloads; --check refusing the new files puts the old ones back;
#   - a live lock older than 10 minutes is not taken over; a lock that is
#     no longer ours is not removed.
# UC_GATEWAY_SYNC=FILE runs another version of the script (to see the
# attacks succeed against an older one).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
need_tool dash curl
SYNC=${UC_GATEWAY_SYNC:-$UC_SRC/scripts/userca-gateway-sync}
SERVER=$HERE/it_gateway_sync_server.py
NGINX=${NGINX:-/usr/sbin/nginx}

declare -A PIDS=()
AP_PIDS_VAR=PIDS
. "$HERE/lib_apache.sh"
AP_OK=0
ap_have && AP_OK=1	# CI=true: stops here when Apache is missing
MOUNTS=()
# stop the servers (by PID) and unmount our tmpfs, then lib.sh's handler
_hostile_exit() {
	local rc=$? n m
	trap - ERR
	set +e
	for n in "${!PIDS[@]}"; do kill -TERM "${PIDS[$n]}" 2>/dev/null; done
	for n in "${!PIDS[@]}"; do wait "${PIDS[$n]}" 2>/dev/null; done
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
	(exit "$rc")
	_uc_exit
}
trap _hostile_exit EXIT
stop() {
	local pid=${PIDS[$1]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "PIDS[$1]"
}

# ---- the CA: root + issuing CA; alice valid, bob revoked ----
H=$T/pki
ca_init "$H" --intermediate --profile modern
# The CRL path alone: this CA's OCSP responder URL answers nothing here, and
# the generated Apache snippet would fail closed on it (it_ocsp covers OCSP).
AP_CRL_ONLY=1
PIN=$(openssl x509 -in "$H/root/root.crt" -outform DER | openssl dgst -sha256 | sed 's/^.*= *//')
for u in alice bob; do
	new_csr "$T/$u" -subj "/CN=$u"
	must "issue $u" uc issue --home "$H" --user "$u" --csr "$T/$u.csr" --out "$T/$u.pem"
	split_pem "$T/$u.pem" "$T/$u.c" >/dev/null
done
must "revoke bob" uc revoke --home "$H" --user bob --reason keyCompromise
openssl crl -inform DER -in "$H/public/root.crl" -out "$T/root-crl.pem"

# ---- the hostile server ----
SD=$T/served
mkdir "$SD"
serve_good() {
	cp "$H/public/ca-bundle.pem" "$SD/ca.pem"
	cp "$H/public/crl.pem" "$SD/crl.pem"
	cp "$H/public/root.crl" "$SD/root.crl"
}
serve_good
P1=$(free_port)
P2=$(free_port)
while [[ $P2 == "$P1" ]]; do P2=$(free_port); done
"$PY" "$SERVER" "$P1" "$SD" "$P2" 2>"$T/server1.log" &
PIDS[s1]=$!
"$PY" "$SERVER" "$P2" "$SD" 2>"$T/server2.log" &
PIDS[s2]=$!
for p in "$P1" "$P2"; do
	for ((i = 0; i < 50; i++)); do
		curl -fs -o /dev/null "http://127.0.0.1:$p/files/ca.pem" && break
		sleep 0.1
	done
done
URL=http://127.0.0.1:$P1/files

GW=$T/gw
RELOADS=$T/reloads
: >"$RELOADS"
reloads() { wc -l <"$RELOADS"; }
# gw_state: the installed files' contents (through the links)
gw_state() { (cd "$GW" && sha256sum ca.pem crl.pem root.crl.pem crls.pem 2>&1); }
EXTRA_RELOAD=
# sync_gw [--dir D] [--url U] [more args]: RC, $OUT, $ERR
sync_gw() {
	local dir=$GW url=$URL
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dir) dir=$2; shift 2 ;;
		--url) url=$2; shift 2 ;;
		*) break ;;
		esac
	done
	run dash "$SYNC" --url "$url" --pin-sha256 "$PIN" --dir "$dir" \
	    --reload "echo x >>'$RELOADS'${EXTRA_RELOAD:+; $EXTRA_RELOAD}" "$@"
}

# ---- nginx and Apache on the gateway folder (when installed) ----
NX=
AP=
if [[ -x $NGINX || $AP_OK -eq 1 ]]; then
	must "issue-server for the gateways" uc issue-server --home "$H" --dns localhost --ip 127.0.0.1 \
	    --out "$T/tls" --passphrase-file "$PASSFILE"
fi
if [[ -x $NGINX ]]; then
	NX=$T/nx
	NX_PORT=$(free_port)
	mkdir -p "$NX/tmp"
	cat >"$NX/nginx.conf" <<NGX
daemon off;
master_process on;
worker_processes 1;
pid $NX/nginx.pid;
error_log $NX/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $NX/tmp/body;
    proxy_temp_path $NX/tmp/proxy;
    fastcgi_temp_path $NX/tmp/fastcgi;
    uwsgi_temp_path $NX/tmp/uwsgi;
    scgi_temp_path $NX/tmp/scgi;
    server {
        listen 127.0.0.1:$NX_PORT ssl;
        ssl_certificate $T/tls/tls.crt;
        ssl_certificate_key $T/tls/tls.key;
        ssl_client_certificate $GW/ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
        ssl_crl $GW/crls.pem;
        location / { return 200 "hello \$ssl_client_s_dn\n"; }
    }
}
NGX
	EXTRA_RELOAD="'$NGINX' -p '$NX' -c '$NX/nginx.conf' -e stderr -s reload 2>/dev/null; sleep 0.3"
else
	echo "NOTE: nginx is not installed ($NGINX): nginx's behaviour is not checked"
fi
# Apache: the generated snippet (fail closed, as generated) on the
# gateway folder, in front of an upstream; its --reload waits for the new
# generation after apache2 -k graceful.
if [[ $AP_OK -eq 1 ]]; then
	AP=$T/ap
	AP_PORT=$(free_port)
	ap_upstream ap-echo
	ap_conf ap "$AP_PORT" "$GW"
	EXTRA_RELOAD="${EXTRA_RELOAD:+$EXTRA_RELOAD; }$(ap_reload_cmd ap) 2>/dev/null"
	for u in alice bob; do ap_cert "$u" --cert "$T/$u.c1.pem" --key "$T/$u.key"; done
else
	echo "NOTE: $AP_WHY: Apache's behaviour is not checked"
fi
# code USER: HTTP status nginx gives USER's certificate
code() {
	curl -sS --max-time 10 --cacert "$H/public/ca-bundle.pem" -o /dev/null -w '%{http_code}' \
	    --cert "$T/$1.c1.pem" --key "$T/$1.key" "https://127.0.0.1:$NX_PORT/" 2>/dev/null || true
}
# apcode USER: what Apache does with USER's certificate: 200 (and the
# upstream saw SUCCESS and CN=USER), or refused (the TLS handshake)
apcode() {
	ap_req "$1" "$AP_PORT"
	case $CODE in
	000) echo refused ;;
	200) if grep -q '^X-SSL-Client-Verify: SUCCESS' "$T/body" && grep -q "^X-SSL-Client-S-DN: .*CN=$1\b" "$T/body"; then
		echo 200; else echo "200 (upstream saw: $(tr '\n' ' ' <"$T/body"))"; fi ;;
	*) echo "$CODE" ;;
	esac
}
# gateway DESC: nginx and Apache let alice in, keep bob (revoked) out
gateway() {
	if [[ -n $NX ]]; then
		check_eq "$1: nginx: alice 200, bob (revoked) 400" "$(code alice) $(code bob)" "200 400"
	fi
	if [[ -n $AP ]]; then
		check_eq "$1: Apache: alice 200, bob (revoked) refused" "$(apcode alice) $(apcode bob)" "200 refused"
	fi
}

# ---- first install: the genuine files ----
sync_gw
check_eq "first sync of the genuine files: exit 0" "$RC" 0
[[ $RC -eq 0 ]] || { _show; fail "first sync"; }
if [[ -n $NX ]]; then
	"$NGINX" -p "$NX" -c "$NX/nginx.conf" -e stderr 2>>"$NX/stderr.log" &
	PIDS[nginx]=$!
	for ((i = 0; i < 100; i++)); do
		curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$NX_PORT/" && break
		sleep 0.1
	done
fi
if [[ -n $AP ]]; then
	check "apache2 -t with the generated snippet" "$APACHE2" -f "$AP/httpd.conf" -t
	ap_start ap "$AP_PORT"
fi
gateway "genuine files"
# base_save: the gateway as it is now is the one each attack starts from
# (so that every attack is judged alone, also against a version that lets
# an earlier one through); base_restore puts it back, nginx and Apache
# included.
base_save() {
	rm -rf "$T/gw.base"
	cp -a "$GW" "$T/gw.base"
	STATE=$(gw_state)
	NR=$(reloads)
}
base_restore() {
	rm -rf "$GW"
	cp -a "$T/gw.base" "$GW"
	if [[ $(reloads) -ne $NR ]]; then
		head -n "$NR" "$RELOADS" >"$T/reloads.tmp"
		cat "$T/reloads.tmp" >"$RELOADS"
		if [[ -n $NX || -n $AP ]]; then eval "$EXTRA_RELOAD"; fi
	fi
}
base_save
KEEP_GW=0

# expect_refused DESC ERE [sync_gw args]: exit 1 or 3, one line matching
# ERE, files unchanged, no reload, nginx as before
expect_refused() {
	local d=$1 re=$2
	shift 2
	[[ $KEEP_GW -eq 1 ]] || base_restore
	sync_gw "$@"
	check_cond "$d: refused (exit $RC)" '[[ $RC == 1 || $RC == 3 ]]'
	if grep -Eq -- "$re" "$ERR" && [[ $(wc -l <"$ERR") -eq 1 ]]; then
		pass "$d: says $(head -1 "$ERR" | cut -c1-160)"
	else
		bad "$d: stderr is not one line matching /$re/"; _show
	fi
	check_eq "$d: installed files unchanged" "$(gw_state)" "$STATE"
	check_eq "$d: no reload" "$(reloads)" "$NR"
	gateway "$d"
}
# expect_nothing DESC ERE DIR [args]: on a fresh gateway folder: refused,
# nothing installed
expect_nothing() {
	local d=$1 re=$2 dir=$3
	shift 3
	rm -rf "$dir"
	sync_gw --dir "$dir" "$@"
	check_cond "$d: refused (exit $RC)" '[[ $RC == 1 || $RC == 3 ]]'
	if grep -Eq -- "$re" "$ERR" && [[ $(wc -l <"$ERR") -eq 1 ]]; then
		pass "$d: says $(head -1 "$ERR" | cut -c1-160)"
	else
		bad "$d: stderr is not one line matching /$re/"; _show
	fi
	check_eq "$d: nothing installed" "$(ls "$dir"/ca.pem "$dir"/crl.pem "$dir"/root.crl.pem "$dir"/crls.pem 2>/dev/null | wc -l || true)" 0
	check_eq "$d: no reload" "$(reloads)" "$NR"
}

# ---- 1. the bundle ----
serve_good
cat "$H/root/root.crt" >>"$SD/ca.pem"
cp "$T/root-crl.pem" "$SD/crl.pem"
expect_refused "pinned root twice + root CRL as crl.pem" 'ca\.pem: certificate .* appears twice'
serve_good
cp "$T/root-crl.pem" "$SD/crl.pem"
expect_refused "root CRL served as crl.pem" 'crl\.pem: issued by the root .*the root signs only the root CRL|crl\.pem: issued by .*which is not an issuing CA'
serve_good
cp "$H/root/root.crt" "$SD/ca.pem"
cp "$T/root-crl.pem" "$SD/crl.pem"
expect_refused "root-only bundle (drops the issuing CA)" "ca\.pem: the issuing CA .* installed before, is missing from the bundle"
serve_good
{ for ((i = 0; i < 300; i++)); do cat "$H/issuing/ca.crt"; done; cat "$H/root/root.crt"; } >"$SD/ca.pem"
t0=$(date +%s)
expect_refused "300 copies of the issuing CA in the bundle" 'ca\.pem: 301 PEM blocks; a bundle holds at most 8'
check_cond "300 copies: refused within 5 s" '(( $(date +%s) - t0 <= 5 ))'

# A second issuing CA under the same root (its own home), revoked on the
# root CRL, and a CRL signed with its key.
must "a second issuing CA: request" uc intermediate request --home "$T/ca2" --org "$ORG" \
    --base-url "$BASE_URL" --profile modern --out "$T/ca2.csr"
must "a second issuing CA: signed by the root" uc root sign-intermediate --home "$H" "$T/ca2.csr" \
    --out "$T/ca2.crt" --passphrase-file "$PASSFILE"
must "a second issuing CA: installed" uc intermediate install --home "$T/ca2" "$T/ca2.crt" --root "$H/root/root.crt"
must "a second issuing CA: its CRL" uc crl --home "$T/ca2"
S2=$(cert_serial "$T/ca2.crt")
must "the root revokes the second issuing CA" uc revoke --home "$H" --serial "$S2" --reason cACompromise \
    --passphrase-file "$PASSFILE"
check_cond "the root CRL lists it" 'openssl crl -inform DER -in "$H/public/root.crl" -noout -text | grep -q "$S2"'
openssl crl -inform DER -in "$H/public/root.crl" -out "$T/root-crl.pem"
serve_good
cat "$T/ca2.crt" "$H/root/root.crt" >"$SD/ca.pem"
cp "$T/ca2/public/crl.pem" "$SD/crl.pem"
expect_nothing "issuing CA revoked by the root, CRL signed by its key (new gateway)" \
    'ca\.pem: issuing CA .* is revoked on the root CRL' "$T/gw-revoked"

# A CA:FALSE certificate signed by the root (keyUsage cRLSign all the same),
# and a CRL signed with its key (openssl ca -gencrl).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ee.key" \
    -subj "/O=$ORG/CN=$ORG Issuing CA 2" -out "$T/ee.csr" 2>/dev/null
printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature,cRLSign,keyCertSign' \
    'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid' >"$T/ee.ext"
must "a CA:FALSE certificate signed by the root key" openssl x509 -req -in "$T/ee.csr" -CA "$H/root/root.crt" \
    -CAkey "$H/root/root.key" -passin "file:$PASSFILE" -set_serial 0x1234567 -days 30 -extfile "$T/ee.ext" \
    -out "$T/ee.crt"
# gencrl KEY CERT OUT [NUMBER_HEX] [DAYS]: a CRL signed by KEY (openssl ca)
gencrl() {
	local d
	d=$(mktemp -d "$T/gencrl.XXXXXX")
	: >"$d/index.txt"
	echo "${4:-01}" >"$d/crlnumber"
	printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s\ncrlnumber = %s\ndefault_md = sha256\ncrl_extensions = x\n[x]\nauthorityKeyIdentifier = keyid\n' \
	    "$d/index.txt" "$d/crlnumber" >"$d/ca.cnf"
	openssl ca -gencrl -config "$d/ca.cnf" -keyfile "$1" -cert "$2" -crldays "${5:-7}" -out "$3" 2>"$d/err" ||
	    { sed 's/^/    | /' "$d/err"; fail "openssl ca -gencrl"; }
}
gencrl "$T/ee.key" "$T/ee.crt" "$T/ee-crl.pem"
serve_good
cat "$T/ee.crt" "$H/root/root.crt" >"$SD/ca.pem"
cp "$T/ee-crl.pem" "$SD/crl.pem"
expect_nothing "CA:FALSE certificate signed by the root as CRL signer (new gateway)" \
    "ca\.pem: certificate .* is not a CA" "$T/gw-ee"

# ---- 2. the CRLs ----
cp -a "$H" "$T/long"
must "an issuing CRL valid for 60 days (copy of the home)" uc crl --home "$T/long" --days 60
serve_good
cp "$T/long/public/crl.pem" "$SD/crl.pem"
expect_refused "issuing CRL valid for 60 days" 'crl\.pem: valid for 60 days .*more than --max-crl-days 31'
N=$(openssl crl -in "$H/public/crl.pem" -noout -crlnumber | sed 's/^crlNumber=//; s/^0x//')
gencrl "$H/issuing/ca.key" "$H/issuing/ca.crt" "$T/huge.pem" 8000000000000000
serve_good
cp "$T/huge.pem" "$SD/crl.pem"
expect_refused "issuing CRL numbered 2^63" 'crl\.pem: CRL number 0x8000000000000000 is not plausible'
gencrl "$H/issuing/ca.key" "$H/issuing/ca.crt" "$T/jump.pem" "$(printf '%X' $((0x$N + 2000000)))"
serve_good
cp "$T/jump.pem" "$SD/crl.pem"
expect_refused "issuing CRL numbered the installed one + 2000000" 'crl\.pem: CRL number [0-9]+ is more than 1000000 above the installed one'
serve_good
RN=$(openssl crl -in "$T/root-crl.pem" -noout -crlnumber | sed 's/^crlNumber=//; s/^0x//')
expect_nothing "--min-root-crl-number above the served root CRL's (new gateway)" \
    'root\.crl: CRL number [0-9]+ is below --min-root-crl-number' "$T/gw-min" --min-root-crl-number $((0x$RN + 1))

# ---- 3. downloads ----
serve_good
t0=$(date +%s)
expect_refused "endless chunked answer (48 MiB, no length)" \
    'crl\.pem: download refused: the answer is larger than 33554432 bytes' --url "http://127.0.0.1:$P1/endless"
check_cond "endless answer: refused within 30 s" '(( $(date +%s) - t0 <= 30 ))'
t0=$(date +%s)
expect_refused "one byte a second, --max-time 2" 'crl\.pem: download failed: took longer than 2 s' \
    --url "http://127.0.0.1:$P1/slow" --max-time 2
check_cond "slow answer: refused within 10 s" '(( $(date +%s) - t0 <= 10 ))'
n2=$(grep -c . "$T/server2.log" || true)
expect_refused "302 to another port" 'ca\.pem: download refused: HTTP 302, a redirect to http://127\.0\.0\.1:[0-9]+/files/ca\.pem; redirects are not followed' \
    --url "http://127.0.0.1:$P1/redirect"
check_eq "302: the other port was never asked" "$(grep -c . "$T/server2.log" || true)" "$n2"
mkdir -p "$T/home"
printf 'proxy = "http://127.0.0.1:1"\n' >"$T/home/.curlrc"
HOME=$T/home sync_gw
check_eq "a ~/.curlrc (proxy to a closed port) is not read: exit 0" "$RC" 0
[[ $RC -eq 0 ]] || _show
gateway "the genuine files with the new root CRL (the second issuing CA revoked)"
base_save

# ---- 4. local attacks: the state folder ----
must "a newer issuing CRL" uc crl --home "$H"
serve_good
base_restore
KEEP_GW=1
printf 'precious\n' >"$T/victim1"
printf 'precious\n' >"$T/victim2"
plant() {
	rm -f "$GW/.state/reload-pending" "$GW/.state/crl-numbers.tmp"
	ln -s "$T/victim1" "$GW/.state/reload-pending"
	ln -s "$T/victim2" "$GW/.state/crl-numbers.tmp"
}
cp -a "$GW/.state" "$T/state.save"
chmod 777 "$GW/.state"
plant
expect_refused "state folder writable by others, links planted" "$GW/\\.state is writable by group or others"
check_eq "...the files the links point to are untouched" "$(cat "$T/victim1" "$T/victim2")" "$(printf 'precious\nprecious')"
chmod 755 "$GW/.state"
chown 65534 "$GW/.state"
plant
expect_refused "state folder owned by another user, links planted" "$GW/\\.state is owned by uid 65534"
check_eq "...the files the links point to are untouched" "$(cat "$T/victim1" "$T/victim2")" "$(printf 'precious\nprecious')"
chmod 777 "$GW"
expect_refused "gateway folder writable by others" "$GW is writable by group or others"
chmod 700 "$GW"
rm -rf "$GW/.state"
cp -a "$T/state.save" "$GW/.state"
KEEP_GW=0
base_restore

# ---- 5. a full temporary folder (a 1 MiB tmpfs; every amount of free space) ----
SMALL=$T/small
mkdir "$SMALL"
if mount -t tmpfs -o size=1m,mode=700 tmpfs "$SMALL" 2>/dev/null; then
	MOUNTS+=("$SMALL")
	cp -a "$GW" "$T/gw.save"
	NEWCRL=$(openssl crl -in "$SD/crl.pem" -outform DER | sha256sum)
	outcomes=
	for ((free = 0; free <= 60; free += 3)); do
		rm -rf "$SMALL"/* "$GW"
		cp -a "$T/gw.save" "$GW"
		head -c $(( (256 - free) * 4096 )) /dev/zero >"$SMALL/filler" 2>/dev/null || true
		nr=$(reloads)
		TMPDIR=$SMALL sync_gw
		if [[ $RC -eq 0 ]]; then
			# then the new files, whole, and a reload
			if [[ $(openssl crl -in "$GW/crl.pem" -outform DER 2>/dev/null | sha256sum) == "$NEWCRL" &&
			    $(grep -c 'BEGIN X509 CRL' "$GW/crls.pem") -eq 2 && $(reloads) -eq $((nr + 1)) ]] &&
			    openssl verify -no-CApath -no-CAstore -crl_check_all -CAfile "$GW/ca.pem" \
			    -CRLfile "$GW/crls.pem" "$T/alice.c1.pem" >/dev/null 2>&1; then
				outcomes+=" $free:ok"
			else
				bad "full temporary folder ($free pages free): exit 0 but the installed files are not the new ones, whole (or no reload)"
				_show; outcomes+=" $free:BROKEN"
			fi
		elif [[ $RC -eq 1 || $RC -eq 3 ]]; then
			if [[ $(gw_state) == "$STATE" && $(reloads) -eq $nr && $(grep -c "^userca-gateway-sync: " "$ERR") -eq 1 ]]; then
				outcomes+=" $free:refused"
			else
				bad "full temporary folder ($free pages free): exit $RC but the installed files changed (or a reload, or not one line)"
				_show; outcomes+=" $free:BROKEN"
			fi
		else
			bad "full temporary folder ($free pages free): exit $RC"; _show; outcomes+=" $free:exit$RC"
		fi
	done
	echo "    pages free:outcome:$outcomes"
	check_cond "full temporary folder: refused with little space, installed with enough" \
	    '[[ $outcomes == *refused* && $outcomes == *ok* && $outcomes != *BROKEN* && $outcomes != *exit* ]]'
	rm -rf "$SMALL"/* "$GW"
	cp -a "$T/gw.save" "$GW"
	umount "$SMALL" && MOUNTS=()
else
	echo "NOTE: cannot mount a tmpfs here (not root?): the full temporary folder is not checked"
fi

# ---- 6. killed between the install and the reload ----
# A mv that kills the sync (its parent) right after the first rename of a
# file or link at the top of the gateway folder.
mkdir "$T/killbin"
cat >"$T/killbin/mv" <<KILL
#!/bin/sh
/bin/mv "\$@"
rc=\$?
for a; do last=\$a; done
case \$last in
"$GW"/.state*) ;;
"$GW"/*/*) ;;
"$GW"/*) kill -KILL \$PPID ;;
esac
exit \$rc
KILL
chmod 755 "$T/killbin/mv"
mkdir "$T/tmpk"
nr=$(reloads)
PATH=$T/killbin:$PATH TMPDIR=$T/tmpk sync_gw
check_eq "killed right after the install: killed (exit 137)" "$RC" 137
check_eq "...no reload yet" "$(reloads)" "$nr"
openssl crl -in "$GW/crl.pem" -out "$T/k.pem" 2>/dev/null
# whole: crl.pem and crls.pem both the new issuing CRL, or both the old one
crl_in() { grep -c -xFf <(openssl crl -in "$1" | grep -v -- -----) "$2" || true; }
NEWSUM=$(openssl crl -in "$SD/crl.pem" -outform DER | sha256sum)
if [[ $(openssl crl -in "$GW/crl.pem" -outform DER | sha256sum) == "$NEWSUM" ]]; then
	check_cond "...the installed set is whole: new crl.pem, new crls.pem" '[[ $(crl_in "$SD/crl.pem" "$GW/crls.pem") -gt 0 ]]'
else
	check_cond "...the installed set is whole: old crl.pem, old crls.pem" '[[ $(crl_in "$SD/crl.pem" "$GW/crls.pem") -eq 0 ]]'
fi
sync_gw
check_eq "next run after the kill: exit 0" "$RC" 0
[[ $RC -eq 0 ]] || _show
check_eq "next run after the kill: the reload that did not happen runs" "$(reloads)" "$((nr + 1))"
check_cond "...the new CRL is installed" \
    '[[ $(openssl crl -in "$GW/crl.pem" -outform DER | sha256sum) == "$(openssl crl -in "$SD/crl.pem" -outform DER | sha256sum)" ]]'
gateway "after the kill and the next run"
base_save

# ---- 7. --check refusing the new files: the previous ones come back ----
must "a newer issuing CRL" uc crl --home "$H"
serve_good
expect_refused "--check fails with the new files" 'the check command failed with the new files \(exit 5' --check 'exit 5'
sync_gw --check "test -s '$GW/crls.pem'"
check_eq "--check passes: installed, reloaded" "$RC:$(reloads)" "0:$((NR + 1))"
gateway "after --check"
base_save

# ---- 8. the lock ----
base_restore
KEEP_GW=1
sleep 60 &
PIDS[sleeper]=$!
mkdir "$GW/.state/lock"
echo "${PIDS[sleeper]}" >"$GW/.state/lock/pid"
touch -d '-20 minutes' "$GW/.state/lock"
expect_refused "a live run's lock, 20 minutes old" 'another run \(pid [0-9]+\) is in progress'
KEEP_GW=0
rm -rf "$GW/.state/lock"
must "a newer issuing CRL" uc crl --home "$H"
serve_good
# The reload replaces our lock with another live run's: it must survive.
EXTRA_SAVE=$EXTRA_RELOAD
EXTRA_RELOAD="rm -rf '$GW/.state/lock'; mkdir '$GW/.state/lock'; echo ${PIDS[sleeper]} >'$GW/.state/lock/pid'${EXTRA_RELOAD:+; $EXTRA_RELOAD}"
sync_gw
EXTRA_RELOAD=$EXTRA_SAVE
check_eq "a run whose lock was replaced meanwhile: exit 0" "$RC" 0
check_eq "...leaves the other run's lock in place" "$(cat "$GW/.state/lock/pid" 2>/dev/null)" "${PIDS[sleeper]}"
stop sleeper
sync_gw
check_eq "that lock, once its process is gone: taken over (exit 0)" "$RC" 0
check_stderr "...says so" 'took over the lock of a run that is gone'
check_nofile "...and released" "$GW/.state/lock"
gateway "at the end"

stop nginx
ap_stop ap
stop ap-echo
stop s1
stop s2
summary

#!/usr/bin/env bash
# The Debian package (CMakeLists.txt's install/CPack section, pkg/): built
# from a fresh configure of this source tree (Release, USERCA_PACKAGE=ON, no
# test clock, no tests) into the scratch folder, then checked with Debian's
# own tools, not ours:
#  - dpkg-deb -c: every file it must ship, nothing under /usr/local;
#  - dpkg-deb -I: Depends from dpkg-shlibdeps (libssl3, libsqlite3-0, ...),
#    an extended description, the conffile, the maintainer scripts (system
#    user userca, /var/lib/userca 0700, units neither enabled nor started);
#  - lintian: no error (E:); its warnings are listed here;
#  - mandoc -T lint -W warning on every manual page;
#  - the unpacked binaries (dpkg -x, never installed): stripped, no
#    USERCA_NOW, the daemon's compiled-in web root /usr/share/userca/web, the
#    units' ExecStart in the package; then a small story: userca init (with
#    an issuing CA), a batch of 3 users, userca-enrolld --check, and the
#    daemon serving the packaged enrollment page.
# Sanitizer builds are not what ships: skipped there.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ ${USERCA_SANITIZE:-0} == 1 ]] && skip "a sanitizer build is not what ships"
need_tool dpkg-deb dpkg-shlibdeps cmake cpack lintian mandoc curl

# ---- build the package ------------------------------------------------------------
B=$T/b
must "configure a package build" cmake -S "$UC_SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release \
    -DUSERCA_PACKAGE=ON -DUSERCA_TEST_CLOCK=OFF -DUSERCA_TESTS=OFF -DUSERCA_WERROR=ON
must "build it" cmake --build "$B" -j2
must "cpack -G DEB" sh -c "cd '$B' && cpack -G DEB"
debs=("$B"/userca_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "one userca_*.deb, got: ${debs[*]}"
DEB=${debs[0]}
pass "package ${DEB##*/}"

# ---- the files --------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$T/files.txt"
for f in /usr/bin/userca /usr/sbin/userca-enrolld /usr/sbin/userca-gateway-sync \
    /usr/share/userca/web/enroll.html /usr/share/userca/web/enroll.css \
    /usr/share/userca/web/enroll.js \
    /usr/lib/systemd/system/userca-enrolld.service \
    /usr/lib/systemd/system/userca-gateway-sync.service \
    /usr/lib/systemd/system/userca-gateway-sync.timer \
    /etc/userca/enrolld.conf \
    /usr/share/man/man1/userca.1.gz /usr/share/man/man5/userca-enrolld.conf.5.gz \
    /usr/share/man/man8/userca-enrolld.8.gz /usr/share/man/man8/userca-gateway-sync.8.gz \
    /usr/share/bash-completion/completions/userca \
    /usr/share/doc/userca/copyright /usr/share/doc/userca/changelog.Debian.gz; do
	if grep -qxF -- "$f" "$T/files.txt"; then pass "ships $f"; else bad "ships $f: missing"; fi
done
check_nogrep "nothing under /usr/local" '^/usr/local' "$T/files.txt"
check_nogrep "no uncompressed manual page" '^/usr/share/man/.*[^z/]$' "$T/files.txt"
dpkg-deb -c "$DEB" | grep -E ' \./var/lib/userca/?$' >"$T/varlib.txt" || true
check_cond "/var/lib/userca is made by postinst, not shipped" '[[ ! -s $T/varlib.txt ]]'

# ---- the control data -------------------------------------------------------------
dpkg-deb -I "$DEB" >"$T/info.txt"
dpkg-deb -f "$DEB" Depends >"$T/depends.txt"
for d in libssl3 libsqlite3-0 libmicrohttpd12 libjansson4 libcsv3 libinih1 libgnutls30 \
    libc6 adduser curl openssl; do
	check_grep "Depends: $d" "(^|, )$d( |,|\$)" "$T/depends.txt"
done
dpkg-deb -f "$DEB" Description >"$T/desc.txt"
check_cond "an extended description (>= 5 lines)" '(( $(wc -l <"$T/desc.txt") >= 5 ))'
check_eq "Section" "$(dpkg-deb -f "$DEB" Section)" admin
check_eq "Version matches the changelog" "$(dpkg-deb -f "$DEB" Version)" \
    "$(sed -n '1s/^userca (\(.*\)).*/\1/p' "$UC_SRC/pkg/changelog")"
mkdir -p "$T/ctl"
dpkg-deb -e "$DEB" "$T/ctl"
check_eq "conffiles" "$(cat "$T/ctl/conffiles")" /etc/userca/enrolld.conf
sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' "$T/ctl/postinst" >"$T/postinst.joined"
check_grep "postinst: system user userca, home /var/lib/userca" \
    'adduser .*--system --group --home /var/lib/userca .*userca$' "$T/postinst.joined"
check_grep "postinst: /var/lib/userca mode 0700" 'chmod 0700 /var/lib/userca' "$T/ctl/postinst"
check_grep "postinst: /var/lib/userca owned by root (the network process's user userca never reaches it)" \
    'chown root:root /var/lib/userca' "$T/ctl/postinst"
check_nogrep "maintainer scripts neither enable nor start a unit" \
    'systemctl[^|]* (enable|start)|deb-systemd-helper enable|deb-systemd-invoke start' \
    <(cat "$T/ctl/postinst" "$T/ctl/prerm" "$T/ctl/postrm")
for s in postinst prerm postrm; do
	check "$s: sh -n" sh -n "$T/ctl/$s"
done

# ---- lintian ----------------------------------------------------------------------
run lintian --no-tag-display-limit "$DEB"
grep -E '^[EWIP]: ' "$OUT" "$ERR" -h >"$T/lintian.txt" || true
echo "lintian says:"
if [[ -s $T/lintian.txt ]]; then sed 's/^/    | /' "$T/lintian.txt"; else echo "    | (nothing)"; fi
check_nogrep "lintian: no error (E:)" '^E: ' "$T/lintian.txt"
check_cond "lintian ran (exit $RC, 0 or 1 for tags)" '(( RC == 0 || RC == 1 ))'

# ---- manual pages -----------------------------------------------------------------
for m in ca/cli/userca.1 enroll/userca-enrolld.8 enroll/userca-enrolld.conf.5 \
    scripts/userca-gateway-sync.8; do
	run mandoc -T lint -W warning "$UC_SRC/$m"
	if [[ $RC -eq 0 && ! -s $OUT && ! -s $ERR ]]; then pass "mandoc -T lint: $m"; else bad "mandoc -T lint: $m"; _show; fi
done
# Every command of `userca --help` has its place in userca(1).
X=$T/root
mkdir -p "$X"
must "dpkg -x" dpkg -x "$DEB" "$X"
"$X/usr/bin/userca" --help 2>&1 | awk '/^Commands:/ { c = 1; next } c && /^  [a-z]/ { print $1 }' >"$T/cmds.txt"
check_cond "userca --help lists commands" '[[ -s $T/cmds.txt ]]'
while read -r c; do
	if grep -Eq "^\\.(It )?Cm $c( |\$)" "$UC_SRC/ca/cli/userca.1"; then
		pass "userca(1) documents '$c'"
	else
		bad "userca(1): no entry for '$c' (userca --help lists it)"
	fi
done <"$T/cmds.txt"

# ---- the unpacked binaries ----------------------------------------------------------
for b in usr/bin/userca usr/sbin/userca-enrolld; do
	readelf -S "$X/$b" >"$T/sections.txt"
	check_nogrep "$b: stripped (no .symtab)" '\.symtab' "$T/sections.txt"
	if grep -q USERCA_NOW "$X/$b"; then bad "$b: USERCA_NOW in a packaged binary"; else pass "$b: no USERCA_NOW"; fi
done
if grep -aq '/usr/share/userca/web' "$X/usr/sbin/userca-enrolld"; then
	pass "userca-enrolld: default web root /usr/share/userca/web"
else
	bad "userca-enrolld: default web root is not /usr/share/userca/web"
fi
for u in userca-enrolld.service userca-gateway-sync.service; do
	e=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$X/usr/lib/systemd/system/$u")
	check_cond "$u: ExecStart $e is in the package" '[[ -x $X$e ]]'
done

U=$X/usr/bin/userca
must "userca init (root + issuing CA) with the packaged binary" "$U" init --home "$T/pki" \
    --org "$ORG" --base-url http://127.0.0.1:8080 --enroll-url https://127.0.0.1:8443 \
    --intermediate --profile modern --passphrase-file "$PASSFILE"
printf 'username,email,name\nann,ann@example.com,Ann\nben,ben@example.com,Ben\ncid,cid@example.com,Cid\n' >"$T/users.csv"
must "userca batch: 3 users" "$U" batch "$T/users.csv" --out "$T/out" --home "$T/pki" \
    --p12-format modern --jobs 2
n=0
for u in ann ben cid; do
	pw=$("$PY" -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["username"] == sys.argv[2]: print(r["password"])' "$T/out/manifest.csv" "$u")
	if openssl pkcs12 -in "$T/out/$u.p12" -passin "pass:$pw" -nokeys -clcerts 2>/dev/null |
	    openssl verify -CAfile "$T/pki/root/root.crt" -untrusted "$T/pki/issuing/ca.crt" >/dev/null 2>&1; then
		n=$((n + 1))
	fi
done
check_eq "3 PKCS#12 files open with their passwords and chain to the root" "$n" 3

P=$(free_port)
cat >"$T/enrolld.conf" <<EOF
[ca]
home = $T/pki
[http]
listen = 127.0.0.1:$P
[enroll]
allow_plain_http = true
web_root = $X/usr/share/userca/web
EOF
D=$X/usr/sbin/userca-enrolld
must "userca-enrolld --check (packaged web root)" "$D" --config "$T/enrolld.conf" --check
# The daemon serves the packaged page (then SIGTERM, by its PID).
"$D" --config "$T/enrolld.conf" --quiet >"$T/d.log" 2>&1 &
dpid=$!
code=000
for _ in $(seq 50); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/healthz" || true)
	[[ $code == 200 ]] && break
	sleep 0.1
done
check_eq "packaged userca-enrolld: /healthz" "$code" 200
curl -s -o "$T/page.html" "http://127.0.0.1:$P/enroll/abcdef" || true
check_same "packaged userca-enrolld serves the packaged enrollment page" "$T/page.html" \
    "$X/usr/share/userca/web/enroll.html"
kill -TERM "$dpid" 2>/dev/null || true
wait "$dpid" 2>/dev/null || true

summary

# shellcheck shell=bash disable=SC2034,SC2154  # ED_PID: lib_enrolld.sh's
#
# A real nginx for the gateway tests, after lib.sh and lib_enrolld.sh (named
# lib_* so tests/CMakeLists.txt does not run it as a test).  Needs $H (the CA
# home: its public/gateway/nginx-userca.conf) and $T/tls/tls.crt + tls.key
# (userca issue-server).  Starts the upstream at once: a python server on
# $UP_PORT that echoes the X-SSL-Client-* headers it gets.
#   nginx_conf NAME GWDIR PORT [MAIN]   $T/NAME/nginx.conf with the snippet
#   nginx_start NAME PORT [ENV=V...]    in the background; ED_PID[NAME]
#   stop NAME                           a background process of ours, by PID
#   workers NAME / wait_reload NAME N   worker starts; wait for a reload
#   reload_cmd NAME                     the --reload command for the sync
NGINX=${NGINX:-/usr/sbin/nginx}
[[ -x $NGINX ]] || skip "nginx is not installed ($NGINX; Debian: nginx-light or nginx)"
# ---- the upstream: echoes the X-SSL-Client-* headers as its body ----
UP_PORT=$(free_port)
"$PY" "$HERE/echo_headers.py" "$UP_PORT" 2>"$T/echo.log" &
ED_PID[echo]=$!

# ---- nginx ----
# nginx_conf NAME GWDIR PORT [MAIN]: $T/NAME/ (prefix) with nginx.conf, the
# generated snippet with /etc/userca-gateway -> GWDIR; MAIN: more main-context
# directives.
nginx_conf() {
	local nx=$T/$1 gw=$2 port=$3 main=${4:-}
	mkdir -p "$nx/tmp"
	# The CRL path alone: the daemon's clock jumps ahead below, and its OCSP
	# answers would then be "not yet valid" for a real-clock nginx
	# (it_ocsp tests ssl_ocsp).
	sed -e "s|/etc/userca-gateway|$gw|g" -e '/^ssl_ocsp/d' \
	    "$H/public/gateway/nginx-userca.conf" >"$nx/userca.conf"
	cat >"$nx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $nx/nginx.pid;
error_log $nx/error.log info;
$main
events { worker_connections 64; }
http {
    access_log $nx/access.log;
    client_body_temp_path $nx/tmp/body;
    proxy_temp_path $nx/tmp/proxy;
    fastcgi_temp_path $nx/tmp/fastcgi;
    uwsgi_temp_path $nx/tmp/uwsgi;
    scgi_temp_path $nx/tmp/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        ssl_certificate $T/tls/tls.crt;
        ssl_certificate_key $T/tls/tls.key;
        include $nx/userca.conf;
        location / {
            proxy_pass http://127.0.0.1:$UP_PORT;
        }
    }
}
EOF
}
# nginx_start NAME PORT [ENV=V...]: in the background; ED_PID[NAME]
nginx_start() {
	local name=$1 port=$2 i
	shift 2
	env "$@" "$NGINX" -p "$T/$name" -c "$T/$name/nginx.conf" -e stderr 2>>"$T/$name/stderr.log" &
	ED_PID[$name]=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "${ED_PID[$name]}" 2>/dev/null || {
			unset "ED_PID[$name]"; sed 's/^/    | /' "$T/$name/stderr.log" | tail -5
			fail "nginx ($name) exited at start"
		}
		curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$port/" && { pass "nginx ($name) up on port $port"; return 0; }
		sleep 0.1
	done
	fail "nginx ($name) does not answer on port $port"
}
# stop NAME: a background process of ours (nginx, python), by its PID.
stop() {
	local pid=${ED_PID[$1]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "ED_PID[$1]"
}
workers() { grep -c 'start worker process' "$T/$1/error.log" 2>/dev/null || echo 0; }
# wait_reload NAME BEFORE: the master started a new worker after a reload.
wait_reload() {
	local i
	for ((i = 0; i < 50; i++)); do
		[[ $(workers "$1") -gt $2 ]] && { sleep 0.2; return 0; }
		sleep 0.1
	done
	bad "nginx ($1) did not reload within 5 s"
}
reload_cmd() { printf "'%s' -p '%s' -c '%s' -e stderr -s reload" "$NGINX" "$T/$1" "$T/$1/nginx.conf"; }

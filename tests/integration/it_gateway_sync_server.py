#!/usr/bin/python3
"""A hostile HTTP server for tests/integration/it_gateway_sync_hostile.sh.

Usage: it_gateway_sync_server.py PORT DIR [REDIRECT_PORT]

Serves, on 127.0.0.1:PORT, what a userca-enrolld serves to gateways, in
ways a hostile network could:
  /files/NAME     DIR/NAME, with a Content-Length (404 if missing)
  /endless/NAME   crl.pem: a chunked answer (no length) of 48 MiB of junk,
                  the other names as /files/
  /slow/NAME      crl.pem: headers, then one byte a second; others as /files/
  /redirect/NAME  302 to http://127.0.0.1:REDIRECT_PORT/files/NAME
Each request is logged on stderr as "GET PATH CODE".
"""
import http.server
import os
import sys
import time

PORT = int(sys.argv[1])
DIR = sys.argv[2]
REDIRECT_PORT = int(sys.argv[3]) if len(sys.argv) > 3 else 0
ENDLESS_CAP = 48 * 1024 * 1024  # more than the sync's 32 MiB default limit


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def log(self, code):
        sys.stderr.write("GET %s %d\n" % (self.path, code))
        sys.stderr.flush()

    def send_file(self, name):
        p = os.path.join(DIR, name)
        if "/" in name or not os.path.isfile(p):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.log(404)
            return
        body = open(p, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.log(200)

    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) != 3:
            return self.send_file("")
        mode, name = parts[1], parts[2]
        if mode == "endless" and name == "crl.pem":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-pem-file")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.log(200)
            chunk = b"A" * 65536
            sent = 0
            try:
                while sent < ENDLESS_CAP:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            self.close_connection = True
            return
        if mode == "slow" and name == "crl.pem":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.log(200)
            try:
                for _ in range(120):
                    self.wfile.write(b"-")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            self.close_connection = True
            return
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%d/files/%s" % (REDIRECT_PORT, name))
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.log(302)
            return
        self.send_file(name)


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()

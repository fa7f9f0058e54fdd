"""The gateway tests' upstream: answers every GET with the X-SSL-Client-*
headers it got, one per line, as its body.  Usage: echo_headers.py PORT
(binds 127.0.0.1)."""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = "".join("%s: %s\n" % (k, v) for k, v in self.headers.items()
                    if k.lower().startswith("x-ssl-client")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()

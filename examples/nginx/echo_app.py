"""The app behind nginx in examples/nginx/test.sh: answers every request with what it saw,
as JSON: method, path and the X-Drfgate-* headers (null when absent); the Host it got comes
back in X-Echo-Host."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def answer(self):
        seen = {
            "method": self.command,
            "path": self.path,
            "user": self.headers.get("X-Drfgate-User"),
            "user_id": self.headers.get("X-Drfgate-User-Id"),
            "auth": self.headers.get("X-Drfgate-Auth"),
        }
        body = json.dumps(seen, sort_keys=True).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo-Host", self.headers.get("Host", ""))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()

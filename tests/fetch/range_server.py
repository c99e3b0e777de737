"""A local HTTP server for the fetch tests: serves {path: bytes}, honours range requests, and can be told to cut the
first full response of a path short (cut[path] = bytes sent before the connection closes) or to serve wrong bytes
for a path (corrupt). Records (path, Range header) of every request."""
import http.server
import threading


class Server:
    """Serves {path: bytes}; cut[path] = n sends only n bytes of the first full response, then closes;
    corrupt[path] serves different bytes. Records (path, Range header) of every request."""

    def __init__(self, files):
        self.files, self.cut, self.corrupt, self.requests = files, {}, set(), []
        self.content_types = {}  # path -> Content-Type (e.g. text/html for a pip index page)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                rel = self.path.lstrip("/")
                rng = self.headers.get("Range")
                outer.requests.append((rel, rng))
                if rel not in outer.files:
                    self.send_error(404)
                    return
                body = outer.files[rel]
                if rel in outer.corrupt:
                    body = body[:-1] + bytes([body[-1] ^ 1])
                start = 0
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.send_header("Accept-Ranges", "bytes")
                if rel in outer.content_types:
                    self.send_header("Content-Type", outer.content_types[rel])
                self.end_headers()
                n = outer.cut.pop(rel, None) if not rng else None
                if n is not None:
                    self.wfile.write(part[:n])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

#!/usr/bin/python3
"""bench/poll's stand-in GitHub: answers the calls `wfrun serve` polling makes
(GET /repos/O/R/git/matching-refs/heads|tags, /pulls, /git/commits/SHA) for any number of
repositories, with ETags and 304s like GitHub. POST /push/O/R gives O/R's main a new head and
records when. Not a test peer (tests/serve/github_standin.h is, and checks everything against
GitHub's OpenAPI description): this one only has to be cheap so that it does not disturb the
figures. Prints its port on the first line. Usage: standin.py STATE_FILE"""
import hashlib, json, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

heads = {}  # repo -> sha
pushed = {}  # sha -> time pushed
lock = threading.RLock()
counts = {"200": 0, "304": 0, "other": 0}


def sha_of(text):
    return hashlib.sha1(text.encode()).hexdigest()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body=b"", etag=None, count=True):
        self.send_response(status)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("X-RateLimit-Remaining", "4999")
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if count:  # GitHub API requests only, not the bench's own /push and /stats
            with lock:
                key = str(status) if status in (200, 304) else "other"
                counts[key] += 1

    def do_POST(self):
        if self.path.startswith("/push/"):
            repo = self.path[len("/push/"):]
            with lock:
                sha = sha_of(repo + str(time.time()))
                heads[repo] = sha
                pushed[sha] = time.time()
            return self.send(200, json.dumps({"sha": sha}).encode(), count=False)
        self.send(404)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/stats":
            with lock:
                data = json.dumps({"counts": counts, "pushed": pushed}).encode()
            return self.send(200, data, count=False)
        parts = path.split("/")  # '', repos, O, R, ...
        if len(parts) < 5 or parts[1] != "repos":
            return self.send(404)
        repo = parts[2] + "/" + parts[3]
        rest = "/".join(parts[4:])
        with lock:
            sha = heads.setdefault(repo, sha_of(repo))
        if rest == "git/matching-refs/heads":
            body = [{"ref": "refs/heads/main", "object": {"type": "commit", "sha": sha}}]
        elif rest in ("git/matching-refs/tags", "pulls"):
            body = []
        elif rest.startswith("git/commits/"):
            body = {"sha": rest.split("/")[-1], "message": "bench push\n", "tree": {"sha": "0" * 40}}
        else:
            return self.send(404)
        data = json.dumps(body).encode()
        etag = 'W/"%s"' % hashlib.sha1(data).hexdigest()
        if self.headers.get("If-None-Match") == etag:
            return self.send(304, b"", etag)
        self.send(200, data, etag)


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()

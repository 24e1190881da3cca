#!/usr/bin/python3
"""The measurement behind bench/slow-clients/run.sh: SLOW connections to a running `wfrun serve`
each trickle a request one byte per second (a slowloris), reconnecting when the server drops
them; meanwhile one client posts a genuine signed delivery every INTERVAL seconds and times each
answer. Prints one JSON object: the genuine deliveries' latency (p50, p99, max), how many got
202, and what became of the slow connections."""
import hashlib, hmac, http.client, json, socket, sys, threading, time

port, body_file, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
slow, seconds, interval, tag = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
body = open(body_file, "rb").read()
sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
stop = threading.Event()
stats = {"opened": 0, "dropped": 0, "answered_408": 0, "answered_other": 0, "bytes": 0}
lock = threading.Lock()

# What a slow client sends: a plausible delivery, one byte a second; it never gets to the end.
trickle = (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"X-GitHub-Event: push\r\nX-Hub-Signature-256: " + sig.encode() +
           b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def slow_client():
    while not stop.is_set():
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(0.01)
        with lock:
            stats["opened"] += 1
        i = 0
        try:
            while not stop.is_set() and i < len(trickle):
                s.sendall(trickle[i:i + 1])
                i += 1
                with lock:
                    stats["bytes"] += 1
                try:
                    got = s.recv(4096)
                except socket.timeout:
                    got = None
                if got is not None:  # an answer, or the server closed it
                    with lock:
                        if got.startswith(b"HTTP/1.1 408"):
                            stats["answered_408"] += 1
                        elif got:
                            stats["answered_other"] += 1
                        else:
                            stats["dropped"] += 1
                    break
                stop.wait(1.0)
        except OSError:
            with lock:
                stats["dropped"] += 1
        s.close()


threads = [threading.Thread(target=slow_client, daemon=True) for _ in range(slow)]
for t in threads:
    t.start()
time.sleep(2)  # every slow connection is open and trickling
lat, statuses = [], {}
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end:
    n += 1
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("POST", "/webhook", body=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-GitHub-Delivery": f"{tag}-{n}", "X-Hub-Signature-256": sig})
        r = c.getresponse()
        r.read()
        st = r.status
        c.close()
    except OSError as e:
        st = type(e).__name__
    lat.append(time.monotonic() - t0)
    statuses[str(st)] = statuses.get(str(st), 0) + 1
    time.sleep(max(0.0, interval - (time.monotonic() - t0)))
stop.set()
for t in threads:
    t.join(timeout=5)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(json.dumps({"slow_connections": slow, "genuine": len(lat), "statuses": statuses,
                  "p50_ms": round(q(0.5), 2), "p99_ms": round(q(0.99), 2),
                  "max_ms": round(lat[-1] * 1000, 2), "slow": stats}))

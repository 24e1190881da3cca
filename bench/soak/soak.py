#!/usr/bin/python3
"""The soak behind bench/soak/run.sh: DELIVERIES signed pushes to a `wfrun serve` it starts and
kill -9s KILLS times along the way, restarting it at once. A tenth of the deliveries are forged
(wrong signature: must get 401 and leave no trace), a tenth are redeliveries of an earlier
delivery's X-GitHub-Delivery (must get the original run back, marked duplicate). A delivery whose
answer was lost to a kill is sent again with the same id until it is answered, as GitHub's
"Redeliver" would. At the end the queue database must hold exactly one run per answered
delivery: none lost, none doubled, every run finished. Prints one JSON object."""
import hashlib, hmac, http.client, json, os, random, signal, sqlite3, subprocess, sys, threading, time

wfrun, workdir, body_file, secret = sys.argv[1:5]
deliveries, kills, threads = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
port = int(sys.argv[8])
rng = random.Random(20261126)
body = open(body_file, "rb").read()
good_sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
bad_sig = "sha256=" + hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()

# The plan: kind of each delivery, decided up front (reproducible).
plan = []
genuine_ids = []
for i in range(deliveries):
    r = rng.random()
    if r < 0.10:
        plan.append(("forged", f"soak-forged-{i}"))
    elif r < 0.20 and genuine_ids:
        plan.append(("redelivery", rng.choice(genuine_ids[-200:])))
    else:
        gid = f"soak-{i}"
        genuine_ids.append(gid)
        plan.append(("genuine", gid))
kill_at = sorted(rng.sample(range(deliveries // 25, deliveries - deliveries // 25), kills))

lock = threading.Lock()
server = {"proc": None}
state = {"next": 0, "done": 0, "kills": 0, "retries": 0, "errors": []}
acked = {}        # delivery id -> runs, from its first 202
dup_answers = {}  # delivery id -> [runs] of answers marked duplicate
forged_answers = {}
latencies = []


def start_server():
    log = open(os.path.join(workdir, "server.log"), "ab")
    p = subprocess.Popen([wfrun, "serve", "--config", "server.yaml"], cwd=workdir,
                         stdout=subprocess.PIPE, stderr=log)
    line = p.stdout.readline().decode()
    if "port" not in line:
        raise SystemExit("wfrun serve did not start: see " + workdir + "/server.log")
    server["proc"] = p


def kill_and_restart():
    with lock:
        p = server["proc"]
        p.send_signal(signal.SIGKILL)
        p.wait()
        state["kills"] += 1
        start_server()


def send(conn_box, kind, gid):
    """Sends one delivery until it gets an answer; returns (status, body)."""
    while True:
        try:
            if conn_box[0] is None:
                conn_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            t0 = time.monotonic()
            conn_box[0].request("POST", "/webhook", body=body, headers={
                "Content-Type": "application/json", "X-GitHub-Event": "push",
                "X-GitHub-Delivery": gid, "User-Agent": "GitHub-Hookshot/soak",
                "X-Hub-Signature-256": bad_sig if kind == "forged" else good_sig})
            r = conn_box[0].getresponse()
            data = r.read()
            with lock:
                latencies.append(time.monotonic() - t0)
            if r.getheader("Connection", "").lower() == "close":
                conn_box[0].close()
                conn_box[0] = None
            if r.status == 503:  # could not record it: send it again, as GitHub's redelivery would
                time.sleep(0.05)
                continue
            return r.status, json.loads(data) if data.strip() else {}
        except (OSError, http.client.HTTPException):
            # The server was killed under us (or is restarting): the answer is lost; send again.
            if conn_box[0] is not None:
                conn_box[0].close()
            conn_box[0] = None
            with lock:
                state["retries"] += 1
            time.sleep(0.05)


def worker():
    conn_box = [None]
    while True:
        with lock:
            i = state["next"]
            if i >= deliveries:
                return
            state["next"] += 1
        kind, gid = plan[i]
        if kind == "redelivery":
            # A redelivery of a delivery not yet answered could race its first copy; wait.
            while True:
                with lock:
                    if gid in acked:
                        break
                time.sleep(0.01)
        status, answer = send(conn_box, kind, gid)
        with lock:
            if kind == "forged":
                forged_answers[gid] = status
            elif status != 202 or "runs" not in answer:
                state["errors"].append(f"{gid}: {status} {answer}")
            elif answer.get("duplicate"):
                dup_answers.setdefault(gid, []).append(answer["runs"])
                acked.setdefault(gid, answer["runs"])
            else:
                if gid in acked and acked[gid] != answer["runs"]:
                    state["errors"].append(f"{gid}: answered twice with new runs {acked[gid]} then {answer['runs']}")
                acked.setdefault(gid, answer["runs"])
            state["done"] += 1


def main():
    t0 = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for k in kill_at:
        while True:
            with lock:
                if state["done"] >= k:
                    break
            time.sleep(0.002)
        time.sleep(rng.random() * 0.05)  # somewhere inside the next few deliveries
        kill_and_restart()
    for t in pool:
        t.join()
    send_seconds = time.monotonic() - t0

    # Let every run finish.
    def api(path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", path, headers={"Authorization": "Bearer " + open(os.path.join(workdir, "tokens")).read().strip()})
        return c.getresponse().read().decode()

    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        m = api("/metrics")
        depth = [l for l in m.splitlines() if l.startswith("wfrun_queue_depth")]
        running = [l for l in m.splitlines() if l.startswith('wfrun_runs{status="running"}')]
        if depth and depth[0].split()[1] == "0" and (not running or running[0].split()[1] == "0"):
            break
        time.sleep(0.5)
    drain_seconds = time.monotonic() - t0 - send_seconds
    server["proc"].send_signal(signal.SIGTERM)
    server["proc"].wait()

    db = sqlite3.connect(os.path.join(workdir, "state/serve/queue.db"))
    rows = {g: json.loads(r) for g, r in db.execute("SELECT guid, runs FROM deliveries")}
    runs_of = {}
    for rid, g in db.execute("SELECT id, delivery FROM runs"):
        runs_of.setdefault(g, []).append(rid)
    status = dict(db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
    attempts = dict(db.execute("SELECT attempts, COUNT(*) FROM runs GROUP BY attempts").fetchall())
    lost = [g for g, r in acked.items() if g not in rows or sorted(rows[g]) != sorted(r) or g not in runs_of]
    doubled = [g for g, r in runs_of.items() if len(r) != 1] + [g for g, r in rows.items() if len(r) != 1]
    dup_wrong = [g for g, answers in dup_answers.items() for a in answers if a != acked[g]]
    forged_recorded = [g for g in forged_answers if g in rows]
    forged_not_401 = [g for g, s in forged_answers.items() if s != 401]
    unfinished = sum(n for s, n in status.items() if s in ("queued", "running"))
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
    print(json.dumps({
        "deliveries": deliveries, "genuine": len(genuine_ids), "forged": len(forged_answers),
        "redelivered": sum(1 for k, _ in plan if k == "redelivery"), "kills": state["kills"],
        "resent_after_a_kill": state["retries"], "answered": len(acked),
        "runs": sum(len(r) for r in runs_of.values()), "runs_by_status": status,
        "runs_by_attempts": attempts, "lost": len(lost), "doubled": len(doubled),
        "duplicate_answers_wrong": len(dup_wrong), "forged_recorded": len(forged_recorded),
        "forged_not_401": len(forged_not_401), "unfinished": unfinished,
        "errors": state["errors"][:10], "send_seconds": round(send_seconds, 1),
        "drain_seconds": round(drain_seconds, 1),
        "latency_ms": {"p50": round(q(0.5), 2), "p99": round(q(0.99), 2), "max": round(latencies[-1] * 1000, 2)},
        "examples": {"lost": lost[:5], "doubled": doubled[:5]}}))


start_server()
try:
    main()
finally:
    if server["proc"].poll() is None:
        server["proc"].kill()
        server["proc"].wait()

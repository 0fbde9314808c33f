#!/usr/bin/env python3
"""How fast `flotilla run` reacts, measured from the outside on a real engine.

- manifest write -> the service's first "reconcile step" and -> its "converged" (the edit is applied),
- container kill -9 -> its replacement running (through the engine's event stream; the
  watchdog is set to 10 minutes so it cannot be what reacts), and its floor: the same kill, then
  a create and a start of the same container straight through the API, measured the same way
  (what a reconciler that knew of the death at once and did nothing else would take).

Prints p50/p95/p99 of each (nearest-rank percentiles over all samples; ask for at least 100
so that p99 is not just the maximum), writes every sample as JSON to $OUT.
Usage: loop-latency.py FLOTILLA ENGINE [EDITS] [KILLS] [PORT_BASE]

The edited service's shell exits on SIGTERM (busybox httpd as PID 1 ignores it, which would make
every replacement wait out the 1 s stop timeout and measure the image, not Flotilla).
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_api

flotilla, engine = sys.argv[1], sys.argv[2]
edits = int(sys.argv[3]) if len(sys.argv) > 3 else 20
kills = int(sys.argv[4]) if len(sys.argv) > 4 else 10
port_base = int(sys.argv[5]) if len(sys.argv) > 5 else 24000
sock = engine.replace("unix://", "")
IMAGE = "localhost/flotilla-test:busybox"

def manifest(mark):
    return f"""name: web
image: {IMAGE}
command: ["/bin/sh", "-c", "trap 'exit 0' TERM; mkdir -p /w && echo ok > /w/index.html && /bin/httpd -f -p ${{PORT}} -h /w & wait"]
network: host
port: 8080
health: {{ http: /, interval: 1s, timeout: 1s, retries: 5 }}
stop_timeout: 1s
env: {{ MARK: "{mark}" }}
"""

def kill_manifest(i):
    # No health check: what is measured is death -> replacement running.
    return f"""name: k{i}
image: {IMAGE}
command: ["/bin/httpd", "-f", "-p", "${{PORT}}", "-h", "/www"]
network: host
port: 8080
stop_timeout: 1s
"""

def api(method, path):
    """A Docker API call over the unix socket (loopback only); returns the body."""
    return engine_api.call(sock, method, path)[1]

def running(project, service=None):
    labels = [f"io.flotilla.project={project}"] + ([f"io.flotilla.service={service}"] if service else [])
    flt = json.dumps({"label": labels})
    cs = json.loads(api("GET", "/v1.41/containers/json?filters=" + __import__("urllib.parse").parse.quote(flt)))
    return [c["Id"] for c in cs if c["State"] == "running"]

def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, -(-p * len(s) // 100) - 1))]

workdir = tempfile.mkdtemp(prefix="flotilla-bench-loop-")
project = "bench-loop"
path = os.path.join(workdir, "web.yaml")
open(path, "w").write(manifest("0"))
proc = subprocess.Popen([flotilla, "run", workdir, "--engine", engine, "--project", project,
                         "--resync-interval", "10m", "--port-range", f"{port_base}-{port_base + 999}"],
                        stderr=subprocess.PIPE, text=True)
lines, lock = [], threading.Lock()
def reader():
    for line in proc.stderr:
        with lock:
            lines.append((time.monotonic(), line))
threading.Thread(target=reader, daemon=True).start()

def wait_for(pred, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = pred()
        if r:
            return r
        time.sleep(0.005)
    with lock:
        sys.stderr.write("".join(l for _, l in lines[-15:]))
    raise SystemExit("timed out")

def line_after(t0, needle):
    with lock:
        for t, l in lines:
            if t >= t0 and needle in l:
                return t
    return None

try:
    wait_for(lambda: line_after(0, "converged") or line_after(0, "in sync"))
    start_lat, done_lat, kill_lat = [], [], []
    for i in range(1, edits + 1):
        time.sleep(0.05)
        t0 = time.monotonic()
        with open(path + ".tmp", "w") as f:
            f.write(manifest(str(i)))
        os.rename(path + ".tmp", path)
        ts = wait_for(lambda: line_after(t0, "reconcile step"))
        td = wait_for(lambda: line_after(t0, "converged"))
        start_lat.append((ts - t0) * 1000)
        done_lat.append((td - t0) * 1000)
    # Kills: one service each, since repeated deaths of one service are (rightly) met with
    # crash-loop backoff, which would measure the backoff instead of the reaction.
    open(os.path.join(workdir, "kills.yaml"), "w").write("---\n".join(kill_manifest(i) for i in range(kills)))
    wait_for(lambda: len(running(project)) == kills + 1, timeout=180)
    for i in range(kills):
        time.sleep(0.05)
        victim = running(project, f"k{i}")[0]
        t0 = time.monotonic()
        api("POST", f"/v1.41/containers/{victim}/kill?signal=KILL")
        wait_for(lambda: (lambda r: len(r) == 1 and victim not in r)(running(project, f"k{i}")))
        kill_lat.append((time.monotonic() - t0) * 1000)
    proc.terminate()
    proc.wait(timeout=30)
    # The floor, with the daemon stopped (it would not touch these unlabelled containers, but
    # its own work would slow the engine): kill -> create -> start -> seen running, by the same poll.
    floor_lat = []
    def floor_container(i, generation):
        body = {"Image": IMAGE, "Cmd": ["/bin/httpd", "-f", "-p", str(port_base + 900 + i), "-h", "/www"],
                "Labels": {"flotilla-bench-floor": str(i)}, "HostConfig": {"NetworkMode": "host"}}
        status, out = engine_api.call(sock, "POST", f"/v1.41/containers/create?name=flotilla-bench-floor-{i}-{generation}", body)
        assert status == 201, out
        cid = json.loads(out)["Id"]
        status, out = engine_api.call(sock, "POST", f"/v1.41/containers/{cid}/start")
        assert status in (204, 304), out
        return cid
    def floor_running(i):
        flt = json.dumps({"label": [f"flotilla-bench-floor={i}"]})
        cs = json.loads(api("GET", "/v1.41/containers/json?filters=" + __import__("urllib.parse").parse.quote(flt)))
        return [c["Id"] for c in cs if c["State"] == "running"]
    for i in range(kills):
        victim = floor_container(i, 0)
        wait_for(lambda: floor_running(i) == [victim])
        time.sleep(0.05)
        t0 = time.monotonic()
        api("POST", f"/v1.41/containers/{victim}/kill?signal=KILL")
        new = floor_container(i, 1)
        wait_for(lambda: floor_running(i) == [new])
        floor_lat.append((time.monotonic() - t0) * 1000)
        for cid in (victim, new):
            engine_api.call(sock, "DELETE", f"/v1.41/containers/{cid}?force=true")
finally:
    proc.terminate()
    proc.wait(timeout=30)
    subprocess.run([flotilla, "down", workdir, "--engine", engine, "--project", project], capture_output=True)
    shutil.rmtree(workdir, ignore_errors=True)

result = {}
for name, v in [("write_to_reconcile_start_ms", start_lat), ("write_to_converged_ms", done_lat), ("kill_to_replacement_running_ms", kill_lat),
                ("floor_kill_create_start_running_ms", floor_lat)]:
    result[name] = {"n": len(v), "p50": round(pct(v, 50), 1), "p95": round(pct(v, 95), 1), "p99": round(pct(v, 99), 1),
                    "min": round(min(v), 1), "max": round(max(v), 1), "samples": [round(x, 1) for x in v]}
    r = result[name]
    print(f"{name:34s} n={len(v):3d}  p50 {r['p50']:8.1f}  p95 {r['p95']:8.1f}  p99 {r['p99']:8.1f}  max {r['max']:8.1f} ms", flush=True)
json.dump(result, open(os.environ.get("OUT", "/dev/null"), "w"), indent=2)

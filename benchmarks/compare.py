#!/usr/bin/env python3
"""Flotilla vs docker-compose vs the raw engine floor, on one engine; prints a table with ratios
and writes benchmarks/RESULTS.md and benchmarks/results.json. Run through benchmarks/run.

Traffic goes to the engine's unix socket only; containers use host networking on loopback ports.
"""
import argparse, datetime, json, os, platform, shutil, statistics, subprocess, sys, tempfile, threading, time, urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_api

ap = argparse.ArgumentParser()
ap.add_argument("--flotilla", required=True)
ap.add_argument("--engine", required=True)
ap.add_argument("--quick", action="store_true", help="fewer runs, N=10 only")
args = ap.parse_args()
SOCK = args.engine.replace("unix://", "")
IMAGE = "localhost/flotilla-test:busybox"
RUNS = 2 if args.quick else 3
SIZES = [10] if args.quick else [10, 50]
HERE = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ, DOCKER_HOST=args.engine, COMPOSE_HTTP_TIMEOUT="300")

def api(method, path, body=None):
    return engine_api.call(SOCK, method, path, body)

def containers(label):
    _, body = api("GET", "/v1.41/containers/json?all=true&filters=" + urllib.parse.quote(json.dumps({"label": [label]})))
    return json.loads(body)

def remove_all(label):
    ids = [c["Id"] for c in containers(label)]
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: api("DELETE", f"/v1.41/containers/{i}?force=true"), ids))

def service_yaml(i, mark="1"):
    return f"""name: s{i}
image: {IMAGE}
command: ["/bin/httpd", "-f", "-p", "${{PORT}}", "-h", "/www"]
network: host
port: 8080
env: {{ MARK: "{mark}" }}
stop_timeout: 1s
"""

def compose_yaml(n, base_port, mark="1"):
    out = "version: '2.4'\nservices:\n"
    for i in range(n):
        port = base_port + i
        out += f"""  s{i}:
    image: {IMAGE}
    command: ["/bin/httpd", "-f", "-p", "{port}", "-h", "/www"]
    network_mode: host
    environment: {{ MARK: "{mark}", PORT: "{port}" }}
    stop_grace_period: 1s
"""
    return out

def timed(fn):
    t = time.monotonic(); fn(); return time.monotonic() - t

def run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r

def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}

results = {"machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores", "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")}
try:
    results["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
except Exception:
    results["commit"] = "?"
_, v = api("GET", "/version")
results["engine"] = json.loads(v).get("Version", "?")
results["compose"] = subprocess.run(["docker-compose", "version", "--short"], capture_output=True, text=True).stdout.strip()
# Every list the engine serves walks all of its containers: others on the same storage skew the
# figures (55 leftovers made a cold converge of 10 services twice as slow). Said, not hidden.
_, listed = api("GET", "/v1.41/containers/json?all=true")
results["other_containers"] = len(json.loads(listed))
if results["other_containers"]:
    print(f"warning: the engine already holds {results['other_containers']} containers; figures will be slower than on an empty engine", file=sys.stderr)
rows = []

def row(name, n, ours, peer, peer_name):
    r = {"scenario": name, "n": n, "flotilla": summary(ours)}
    if peer:
        r[peer_name] = summary(peer)
        r["ratio"] = statistics.median(peer) / statistics.median(ours)
    rows.append(r)
    extra = f"  {peer_name} {statistics.median(peer):7.3f}s  ratio {r['ratio']:6.2f}x" if peer else ""
    print(f"{name:28s} N={n:3d}  flotilla {statistics.median(ours):7.3f}s (min {min(ours):.3f}, max {max(ours):.3f}){extra}", flush=True)

for n in SIZES:
    work = tempfile.mkdtemp(prefix=f"flotilla-bench-{n}-")
    mdir, cdir = os.path.join(work, "manifests"), os.path.join(work, "compose")
    os.makedirs(mdir); os.makedirs(cdir)
    for i in range(n):
        open(os.path.join(mdir, f"s{i}.yaml"), "w").write(service_yaml(i))
    open(os.path.join(cdir, "docker-compose.yml"), "w").write(compose_yaml(n, 26000))
    project = f"bench{n}"
    fl = [args.flotilla, "apply", mdir, "--engine", args.engine, "--project", project, "--port-range", "25000-25999", "--parallelism", "4",
          "--take-over"]  # each run uses a new temporary directory
    dc = ["docker-compose", "-p", f"dc{n}", "up", "-d", "--no-color"]
    cold_f, cold_c, cold_raw, noop_f, noop_c, change_f, change_c = [], [], [], [], [], [], []
    for _ in range(RUNS):
        # Cold converge.
        remove_all(f"io.flotilla.project={project}")
        cold_f.append(timed(lambda: run(fl)))
        noop_f.append(timed(lambda: run(fl)))
        # One change: one service's env; time until the new one runs and the old is gone.
        open(os.path.join(mdir, "s0.yaml"), "w").write(service_yaml(0, mark=str(time.time())))
        change_f.append(timed(lambda: run(fl)))
        remove_all(f"io.flotilla.project={project}")

        remove_all(f"com.docker.compose.project=dc{n}")
        cold_c.append(timed(lambda: run(dc, cwd=cdir)))
        noop_c.append(timed(lambda: run(dc, cwd=cdir)))
        open(os.path.join(cdir, "docker-compose.yml"), "w").write(compose_yaml(n, 26000).replace('MARK: "1", PORT: "26000"', f'MARK: "{time.time()}", PORT: "26000"'))
        change_c.append(timed(lambda: run(dc, cwd=cdir)))
        remove_all(f"com.docker.compose.project=dc{n}")
        open(os.path.join(cdir, "docker-compose.yml"), "w").write(compose_yaml(n, 26000))

        # The raw engine floor: create+start of the same containers straight through the API,
        # 4 at a time, no reconciler.
        def raw_one(i):
            code, body = api("POST", f"/v1.41/containers/create?name=raw{n}-{i}", {
                "Image": IMAGE, "Cmd": ["/bin/httpd", "-f", "-p", str(27000 + i), "-h", "/www"],
                "Labels": {"bench.raw": str(n)}, "HostConfig": {"NetworkMode": "host"}})
            cid = json.loads(body)["Id"]
            api("POST", f"/v1.41/containers/{cid}/start")
        def raw_all():
            with ThreadPoolExecutor(4) as ex:
                list(ex.map(raw_one, range(n)))
        cold_raw.append(timed(raw_all))
        remove_all(f"bench.raw={n}")
    row("cold converge vs compose", n, cold_f, cold_c, "docker-compose")
    row("cold converge vs raw floor", n, cold_f, cold_raw, "raw-engine")
    row("no-op vs compose", n, noop_f, noop_c, "docker-compose")
    row("one change vs compose", n, change_f, change_c, "docker-compose")
    run([args.flotilla, "down", mdir, "--engine", args.engine, "--project", project])  # and its owner marker
    shutil.rmtree(work, ignore_errors=True)

# The daemon with 50 services (10 in --quick), measured twice: the cost of a watchdog cycle (1 s
# watchdog, debug logs), and the idle footprint as deployed (default 30 s watchdog, the HTTP
# endpoint on and scraped every 5 s, as Prometheus would).
n = SIZES[-1]
def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
def rss_kib(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
def measure_daemon(extra, seconds, listen=None):
    work = tempfile.mkdtemp(prefix="flotilla-bench-daemon-")
    for i in range(n):
        open(os.path.join(work, f"s{i}.yaml"), "w").write(service_yaml(i))
    argv = [args.flotilla, "run", work, "--engine", args.engine, "--project", "benchd", "--port-range", "25000-25999", "--take-over"] + extra
    if listen:
        argv += ["--listen", f"127.0.0.1:{listen}"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    lines = []
    threading.Thread(target=lambda: [lines.append(l) for l in proc.stderr], daemon=True).start()
    deadline = time.time() + 120
    converged = lambda: sum(("converged" in l or "in sync" in l or "created" in l) for l in lines) >= n
    while time.time() < deadline and not converged():
        time.sleep(0.1)
    time.sleep(3)
    t0, c0 = time.time(), cpu_ticks(proc.pid)
    cycles0, lists0 = sum("watchdog tick" in l for l in lines), sum("engine list" in l for l in lines)
    rss, scrapes = [], 0
    while time.time() - t0 < seconds:
        rss.append(rss_kib(proc.pid))
        if listen and len(rss) % 5 == 0:
            import urllib.request
            body = urllib.request.urlopen(f"http://127.0.0.1:{listen}/metrics", timeout=5).read()
            scrapes += 1 if b"flotilla_replicas_ready" in body else 0
        time.sleep(1)
    elapsed = time.time() - t0
    cpu = (cpu_ticks(proc.pid) - c0) / os.sysconf("SC_CLK_TCK")
    cycles = sum("watchdog tick" in l for l in lines) - cycles0
    lists = sum("engine list" in l for l in lines) - lists0
    proc.terminate(); proc.wait(timeout=30)
    run([args.flotilla, "down", work, "--engine", args.engine, "--project", "benchd"])
    shutil.rmtree(work, ignore_errors=True)
    return {"services": n, "seconds": round(elapsed, 1), "watchdog_cycles": cycles, "engine_list_calls": lists,
            "list_calls_per_cycle": round(lists / cycles, 2) if cycles else None, "cpu_seconds": round(cpu, 2),
            "cpu_ms_per_cycle": round(1000 * cpu / cycles, 2) if cycles else None, "cpu_percent": round(100 * cpu / elapsed, 2),
            "rss_kib_median": int(statistics.median(rss)), "rss_kib_max": max(rss), "metrics_scrapes": scrapes}

seconds = 20 if args.quick else 60
daemon = measure_daemon(["--resync-interval", "1s", "--log-level", "debug"], seconds)
print(f"daemon, {n} services, 1s watchdog, {daemon['seconds']:.0f}s: {daemon['watchdog_cycles']} cycles, {daemon['list_calls_per_cycle']} list calls/cycle, "
      f"{daemon['cpu_ms_per_cycle']} ms CPU/cycle ({daemon['cpu_percent']}% CPU), RSS median {daemon['rss_kib_median']} KiB")
idle = measure_daemon([], seconds, listen=25999)
print(f"daemon idle, {n} services, default watchdog, --listen on, /metrics scraped {idle['metrics_scrapes']}x, {idle['seconds']:.0f}s: "
      f"{idle['cpu_percent']}% CPU, RSS median {idle['rss_kib_median']} KiB (max {idle['rss_kib_max']})")

# Parse + validate + plan at scale, no engine.
sizes = "100,1000" if args.quick else "100,1000,10000"
parse = json.loads(run([args.flotilla, "bench", "load", "--services", sizes, "--runs", "3", "--format", "json"]).stdout)
for p in parse:
    print(f"parse+validate {p['services']:6d} services: {p['loadMedianMS']:9.1f} ms, plan {p['planMedianMS']:8.1f} ms, peak RSS {p['peakRSSKiB']} KiB")

results.update({"rows": rows, "daemon": daemon, "idle": idle, "parse": parse})
json.dump(results, open(os.path.join(HERE, "results.json"), "w"), indent=2)

md = [f"# Benchmark results\n", f"Generated by `benchmarks/run` (do not edit by hand). {results['date']}, commit {results['commit']}, ",
      f"{results['machine']}, Podman {results['engine']}, docker-compose {results['compose']}, "
      f"{results['other_containers']} other containers on the engine. Medians of {RUNS} runs ",
      "(min-max); ratio = peer median / Flotilla median (above 1: Flotilla is faster).\n",
      "| scenario | N | Flotilla | peer | ratio |", "|---|---|---|---|---|"]
for r in rows:
    peer = [k for k in r if k not in ("scenario", "n", "flotilla", "ratio")][0]
    f, p = r["flotilla"], r[peer]
    md.append(f"| {r['scenario']} | {r['n']} | {f['median']:.3f}s ({f['min']:.3f}-{f['max']:.3f}) | {peer} {p['median']:.3f}s ({p['min']:.3f}-{p['max']:.3f}) | {r['ratio']:.2f}x |")
md += ["", f"Daemon with {daemon['services']} services and a 1 s watchdog over {daemon['seconds']} s: {daemon['watchdog_cycles']} cycles, "
       f"{daemon['list_calls_per_cycle']} engine list calls per cycle, {daemon['cpu_ms_per_cycle']} ms CPU per cycle "
       f"({daemon['cpu_percent']} % of one core), resident memory median {daemon['rss_kib_median']} KiB (max {daemon['rss_kib_max']}).", "",
       f"Idle footprint as deployed, {idle['services']} services, default 30 s watchdog, `--listen` on and `/metrics` scraped every 5 s, "
       f"over {idle['seconds']} s: {idle['cpu_percent']} % of one core ({idle['cpu_seconds']} s CPU), resident memory median "
       f"{idle['rss_kib_median']} KiB = {idle['rss_kib_median'] / 1024:.1f} MiB (max {idle['rss_kib_max']} KiB; goal < 30 MiB).", "",
       "| services | load + validate | plan | peak RSS |", "|---|---|---|---|"]
for p in parse:
    md.append(f"| {p['services']} | {p['loadMedianMS']:.1f} ms ({p['loadMinMS']:.1f}-{p['loadMaxMS']:.1f}) | {p['planMedianMS']:.1f} ms | {p['peakRSSKiB']} KiB |")
open(os.path.join(HERE, "RESULTS.md"), "w").write("\n".join(md) + "\n")
print("wrote benchmarks/RESULTS.md and benchmarks/results.json")

#!/usr/bin/env python3
"""Side-by-side benchmark: slcl against moto_server, in the same run.

Prints one table. Absolute times drift between machines and runs; compare the
columns of one run. Server CPU per request is read from /proc/<pid>/stat before and
after each phase, so client overhead (boto3 is the same for both servers) does not
count against either server.

Usage: cargo build --release -p slcl -p slcl-fixtures && python3 benches/compare.py
Options (environment): BENCH_N (requests per phase, default 500), BENCH_ROUNDS
(start-up and cold-start repetitions, default 5).
"""

import base64
import glob
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLCL = os.path.join(ROOT, "target", "release", "slcl")
N = int(os.environ.get("BENCH_N", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
TICK = os.sysconf("SC_CLK_TCK")
os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_healthy(port, path, deadline=60):
    start = time.perf_counter()
    while time.perf_counter() - start < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.001)
    raise RuntimeError(f"server on {port} not healthy")


class Server:
    def __init__(self, kind, project=None):
        self.kind = kind
        self.port = free_port()
        if kind == "slcl":
            self.dir = project or tempfile.mkdtemp(prefix="bench-slcl-")
            cmd = [SLCL, "up", self.dir, "--port", str(self.port)]
            health = "/_slcl/health"
        else:
            cmd = ["moto_server", "-p", str(self.port)]
            health = "/moto-api/"
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.startup = wait_healthy(self.port, health) - t0
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            config=Config(retries={"max_attempts": 0}))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


def s3_phase(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="bench")
    body = os.urandom(1024)
    s3.put_object(Bucket="bench", Key="warmup", Body=body)
    cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
    for i in range(N):
        s3.put_object(Bucket="bench", Key=f"k{i}", Body=body)
    put_wall, put_cpu = time.perf_counter() - t0, cpu_seconds(server.proc.pid) - cpu0
    cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
    for i in range(N):
        s3.get_object(Bucket="bench", Key=f"k{i}")["Body"].read()
    get_wall, get_cpu = time.perf_counter() - t0, cpu_seconds(server.proc.pid) - cpu0
    return {
        "put_per_s": N / put_wall, "put_cpu_ms": put_cpu / N * 1000,
        "get_per_s": N / get_wall, "get_cpu_ms": get_cpu / N * 1000,
        "rss_mib": rss_mib(server.proc.pid),
    }


def echo_wasm():
    found = glob.glob(os.path.join(ROOT, "target", "**", "wasm32-wasip2", "release", "echo.wasm"), recursive=True)
    if not found:
        sys.exit("echo.wasm not found: run `cargo build --release -p slcl-fixtures` first")
    return found[0]


def report_fields(log_b64):
    log = base64.b64decode(log_b64).decode()
    dur = float(re.search(r"\tDuration: ([0-9.]+) ms", log).group(1))
    init = re.search(r"Init Duration: ([0-9.]+) ms", log)
    return dur, float(init.group(1)) if init else None


def lambda_phase():
    project = tempfile.mkdtemp(prefix="bench-fn-")
    with open(os.path.join(project, "slcl.toml"), "w") as f:
        f.write(f'[functions.echo]\nwasm = "{echo_wasm()}"\n')
    cold_wall, cold_init, cold_dur, startups = [], [], [], []
    for _ in range(ROUNDS):
        server = Server("slcl", project)
        startups.append(server.startup * 1000)
        lam = server.client("lambda")
        t0 = time.perf_counter()
        r = lam.invoke(FunctionName="echo", Payload=b'{"a":1}', LogType="Tail")
        cold_wall.append((time.perf_counter() - t0) * 1000)
        dur, init = report_fields(r["LogResult"])
        cold_dur.append(dur)
        cold_init.append(init or 0.0)
        if _ == ROUNDS - 1:
            warm_wall, warm_dur = [], []
            for _ in range(N):
                t0 = time.perf_counter()
                r = lam.invoke(FunctionName="echo", Payload=b'{"a":1}', LogType="Tail")
                warm_wall.append((time.perf_counter() - t0) * 1000)
                warm_dur.append(report_fields(r["LogResult"])[0])
        server.stop()
    shutil.rmtree(project, ignore_errors=True)
    return {
        # The first start compiles the component; later ones load it from the cache.
        "startup_fn_ms": statistics.median(startups[1:] or startups),
        "cold_wall_ms": statistics.median(cold_wall), "cold_init_ms": statistics.median(cold_init),
        "cold_dur_ms": statistics.median(cold_dur),
        "warm_wall_ms": statistics.median(warm_wall), "warm_dur_ms": statistics.median(warm_dur),
    }


def main():
    if not os.path.exists(SLCL):
        sys.exit("build first: cargo build --release -p slcl -p slcl-fixtures")
    results = {}
    for kind in ("slcl", "moto_server"):
        if kind == "moto_server" and shutil.which("moto_server") is None:
            print("moto_server not installed (pip install 'moto[server]'); skipping it")
            continue
        startups = []
        for _ in range(ROUNDS):
            s = Server(kind)
            startups.append(s.startup * 1000)
            s.stop()
        server = Server(kind)
        r = s3_phase(server)
        server.stop()
        r["startup_ms"] = statistics.median(startups)
        results[kind] = r
    lam = lambda_phase()

    rows = [
        ("start to healthy (median ms)", "startup_ms", "{:.0f}"),
        ("PutObject 1 KiB, one client (req/s)", "put_per_s", "{:.0f}"),
        ("PutObject server CPU (ms/req)", "put_cpu_ms", "{:.3f}"),
        ("GetObject 1 KiB, one client (req/s)", "get_per_s", "{:.0f}"),
        ("GetObject server CPU (ms/req)", "get_cpu_ms", "{:.3f}"),
        ("server RSS after the S3 phase (MiB)", "rss_mib", "{:.0f}"),
    ]
    kinds = list(results)
    print(f"\nslcl benchmark: N={N} requests per phase, {ROUNDS} rounds for start-ups\n")
    print(f"{'metric':<40}" + "".join(f"{k:>14}" for k in kinds) + (f"{'ratio':>10}" if len(kinds) == 2 else ""))
    for label, key, fmt in rows:
        vals = [results[k][key] for k in kinds]
        line = f"{label:<40}" + "".join(f"{fmt.format(v):>14}" for v in vals)
        if len(vals) == 2 and vals[0] and vals[1]:
            line += f"{vals[1] / vals[0]:>9.1f}x" if "per_s" not in key else f"{vals[0] / vals[1]:>9.1f}x"
        print(line)
    print("(ratio: how many times better slcl is than moto_server)\n")
    print(f"{'Lambda (echo function, slcl only; moto needs Docker)':<56}{'median':>10}")
    print(f"{'start to healthy with the function loaded (ms)':<56}{lam['startup_fn_ms']:>10.2f}")
    print(f"{'cold invoke, client wall time (ms)':<56}{lam['cold_wall_ms']:>10.2f}")
    print(f"{'cold invoke, REPORT Init Duration (ms)':<56}{lam['cold_init_ms']:>10.2f}")
    print(f"{'cold invoke, REPORT Duration (ms)':<56}{lam['cold_dur_ms']:>10.2f}")
    print(f"{'warm invoke, client wall time (ms)':<56}{lam['warm_wall_ms']:>10.2f}")
    print(f"{'warm invoke, REPORT Duration (ms)':<56}{lam['warm_dur_ms']:>10.2f}")


if __name__ == "__main__":
    main()

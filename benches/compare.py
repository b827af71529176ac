#!/usr/bin/env python3
"""Side-by-side benchmark: slcl against moto_server, in the same run.

Prints one table. Absolute times drift between machines and runs; compare the
columns of one run. Server CPU per request is read from /proc/<pid>/stat before and
after each phase, so client overhead (boto3 is the same for both servers) does not
count against either server.

SQS rows: SendMessage (a 100-byte body), ReceiveMessage (MaxNumberOfMessages=1,
short poll, so one receive takes one message) and DeleteMessage (the handles just
received), each with one client and with BENCH_CLIENTS concurrent clients (threads,
each with its own boto3 client made up front from its own Session); every phase makes
BENCH_N requests in all. The client is one Python process: with many threads the GIL
and boto3's own CPU can cap the client before the server, so the line under the table
says how busy the client was.

Usage: cargo build --release -p slcl -p slcl-fixtures && python3 benches/compare.py
Options (environment): BENCH_N (requests per phase, default 500), BENCH_ROUNDS
(start-up and cold-start repetitions, default 5), BENCH_CLIENTS (concurrent SQS
clients, default 16).
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
import threading
import time

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLCL = os.path.join(ROOT, "target", "release", "slcl")
N = int(os.environ.get("BENCH_N", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
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

    def client(self, service, session=None):
        return (session or boto3).client(service, endpoint_url=self.url, region_name="us-east-1",
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


def run_clients(server, work):
    """Runs work[i]() on thread i, all released at once; returns (wall s, server CPU s,
    this process's CPU s, [what each work returned])."""
    results = [None] * len(work)
    gate = threading.Barrier(len(work) + 1)

    def worker(i):
        gate.wait()
        results[i] = work[i]()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    gate.wait()
    cpu0, own0, t0 = cpu_seconds(server.proc.pid), time.process_time(), time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return wall, cpu_seconds(server.proc.pid) - cpu0, time.process_time() - own0, results


def sqs_phase(server):
    """SendMessage, ReceiveMessage and DeleteMessage, N requests each, with 1 and with
    CLIENTS clients."""
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="bench")["QueueUrl"]
    body = "x" * 100
    out = {"client_busy": {}, "empty_receives": 0, "duplicates": 0}
    for clients in (1, CLIENTS):
        # boto3 makes clients unsafely across threads: make them all here.
        pool = [server.client("sqs", boto3.Session()) for _ in range(clients)]
        for c in pool:
            c.get_queue_url(QueueName="bench")  # opens the connection
        shares = [N // clients + (1 if i < N % clients else 0) for i in range(clients)]

        def sender(c, n):
            return lambda: [c.send_message(QueueUrl=url, MessageBody=body) for _ in range(n)]

        def receiver(c, n):
            def run():
                handles, ids = [], []
                for _ in range(n):
                    got = c.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
                    handles += [m["ReceiptHandle"] for m in got.get("Messages", [])]
                    ids += [m["MessageId"] for m in got.get("Messages", [])]
                return handles, ids
            return run

        def deleter(c, handles):
            return lambda: [c.delete_message(QueueUrl=url, ReceiptHandle=h) for h in handles]

        tag = "1" if clients == 1 else "n"
        wall, cpu, own, _ = run_clients(server, [sender(c, n) for c, n in zip(pool, shares)])
        out[f"send{tag}_per_s"], out[f"send{tag}_cpu_ms"] = N / wall, cpu / N * 1000
        busy = [own / wall]
        wall, cpu, own, got = run_clients(server, [receiver(c, n) for c, n in zip(pool, shares)])
        out[f"recv{tag}_per_s"], out[f"recv{tag}_cpu_ms"] = N / wall, cpu / N * 1000
        busy.append(own / wall)
        handles = [h for h, _ in got]
        ids = [i for _, ids in got for i in ids]
        out["empty_receives"] += N - len(ids)
        out["duplicates"] += len(ids) - len(set(ids))  # one message given to two receives
        deletes = sum(len(h) for h in handles) or 1
        wall, cpu, own, _ = run_clients(server, [deleter(c, h) for c, h in zip(pool, handles)])
        out[f"del{tag}_per_s"], out[f"del{tag}_cpu_ms"] = deletes / wall, cpu / deletes * 1000
        busy.append(own / wall)
        out["client_busy"][clients] = busy
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    out["left"] = int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"])
    return out


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
        r.update(sqs_phase(server))
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
    for tag, who in (("1", "1 client"), ("n", f"{CLIENTS} clients")):
        rows += [
            (f"SQS SendMessage, {who} (req/s)", f"send{tag}_per_s", "{:.0f}"),
            ("SQS SendMessage server CPU (ms/req)", f"send{tag}_cpu_ms", "{:.3f}"),
            (f"SQS ReceiveMessage max 1, {who} (req/s)", f"recv{tag}_per_s", "{:.0f}"),
            ("SQS ReceiveMessage server CPU (ms/req)", f"recv{tag}_cpu_ms", "{:.3f}"),
            (f"SQS DeleteMessage, {who} (req/s)", f"del{tag}_per_s", "{:.0f}"),
            ("SQS DeleteMessage server CPU (ms/req)", f"del{tag}_cpu_ms", "{:.3f}"),
        ]
    kinds = list(results)
    w = max(len(label) for label, _, _ in rows) + 2
    print(f"\nslcl benchmark: N={N} requests per phase, {ROUNDS} rounds for start-ups\n")
    print(f"{'metric':<{w}}" + "".join(f"{k:>14}" for k in kinds) + (f"{'ratio':>10}" if len(kinds) == 2 else ""))
    for label, key, fmt in rows:
        vals = [results[k][key] for k in kinds]
        line = f"{label:<{w}}" + "".join(f"{fmt.format(v):>14}" for v in vals)
        if len(vals) == 2 and vals[0] and vals[1]:
            line += f"{vals[1] / vals[0]:>9.1f}x" if "per_s" not in key else f"{vals[0] / vals[1]:>9.1f}x"
        print(line)
    print("(ratio: how many times better slcl is than moto_server)")
    for k in kinds:
        busy = results[k]["client_busy"]
        print(f"client CPU busy (send/receive/delete) against {k}: "
              + "; ".join(f"{n} client{'s' if n > 1 else ''} "
                          + "/".join(f"{b:.0%}" for b in busy[n]) for n in busy)
              + f"; empty receives {results[k]['empty_receives']}, messages received twice"
              f" {results[k]['duplicates']}, left in the queue {results[k]['left']}")
    print()
    print(f"{'Lambda (echo function, slcl only; moto needs Docker)':<56}{'median':>10}")
    print(f"{'start to healthy with the function loaded (ms)':<56}{lam['startup_fn_ms']:>10.2f}")
    print(f"{'cold invoke, client wall time (ms)':<56}{lam['cold_wall_ms']:>10.2f}")
    print(f"{'cold invoke, REPORT Init Duration (ms)':<56}{lam['cold_init_ms']:>10.2f}")
    print(f"{'cold invoke, REPORT Duration (ms)':<56}{lam['cold_dur_ms']:>10.2f}")
    print(f"{'warm invoke, client wall time (ms)':<56}{lam['warm_wall_ms']:>10.2f}")
    print(f"{'warm invoke, REPORT Duration (ms)':<56}{lam['warm_dur_ms']:>10.2f}")


if __name__ == "__main__":
    main()

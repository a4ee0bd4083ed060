#!/usr/bin/env python3
"""bench-tls: messages/s through a TLS client port (rough figures).

One publisher and one subscriber, both TLS clients of the same server
(client port with `tls { cert_file, key_file }`; INFO in plaintext, then
the TLS handshake, as the official clients do). The publisher writes PUBs
in 64 KiB batches; the figure is delivered messages per second (first
publish to last byte at the subscriber). natsws and nats-server are run
alternately, --rounds times each, for 128 B and 16 KiB payloads; the best
and the median are printed. With --mode pub there is no subscriber: the
figure is PUBs per second until the PONG to a PING sent after them (the
server's TLS read path alone).

Usage: scripts/bench-tls.py [--natsws target/release/natsws]
                            [--nats-server PATH] [--rounds 3]
                            [--sizes 128,16384]
Loopback only; every wait is bounded.
"""
import argparse, os, socket, ssl, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, make_pki, pump  # noqa: E402


def start(bin_, pki):
    port = free_port()
    d = tempfile.mkdtemp(prefix="bench-tls-")
    path = os.path.join(d, "s.conf")
    j = lambda f: os.path.join(pki, f)
    open(path, "w").write(
        f"host: 127.0.0.1\nport: {port}\n"
        f"tls {{ cert_file: \"{j('srv.pem')}\", key_file: \"{j('srv.key')}\" }}\n")
    p = subprocess.Popen([bin_, "-c", path], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        if "Server is ready" in p.stderr.readline():
            # Keep stderr drained so the server never blocks on it.
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, port
    p.kill(); raise SystemExit(f"{bin_} did not start")


def client(port, ctx):
    raw = socket.create_connection(("127.0.0.1", port)); raw.settimeout(10)
    buf = b""
    while b"\r\n" not in buf:
        b = raw.recv(4096)
        if not b: raise SystemExit("no INFO")
        buf += b
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"tls_required":true}\r\nPING\r\n')
    buf = b""
    while b"PONG\r\n" not in buf: buf += s.recv(65536)
    return s


def run_once(port, ctx, size, n):
    sub = client(port, ctx); pub = client(port, ctx)
    sub.sendall(b"SUB bench 1\r\nPING\r\n")
    buf = b""
    while b"PONG\r\n" not in buf: buf += sub.recv(65536)
    # The subscription is registered before the publisher starts (same
    # server: the PONG to the subscriber's PING follows its SUB).
    return pump(pub, sub, size, n)


def run_pub_only(port, ctx, size, n):
    """PUBs with no subscriber, then PING: the server's TLS read path."""
    pub = client(port, ctx)
    pub.settimeout(60)
    payload = b"a" * size
    one = b"PUB bench %d\r\n" % size + payload + b"\r\n"
    per = max(1, 65536 // len(one))
    batch = one * per
    t0 = time.time()
    left = n
    while left > 0:
        k = min(per, left)
        pub.sendall(batch if k == per else one * k)
        left -= k
    pub.sendall(b"PING\r\n")
    buf = b""
    while b"PONG\r\n" not in buf:
        b = pub.recv(65536)
        if not b: raise SystemExit("publisher closed")
        buf += b
    dt = time.time() - t0
    pub.close()
    return n / dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natsws", default="target/release/natsws")
    ap.add_argument("--nats-server", default="/root/.pyenv/versions/3.11.7/bin/nats-server")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="128,16384")
    ap.add_argument("--mode", choices=("pubsub", "pub"), default="pubsub",
                    help="pubsub: TLS publisher and subscriber; pub: TLS publisher only, PUBs then PING until PONG")
    a = ap.parse_args()
    pki = make_pki("bench-tls-pki-")
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    sizes = [int(x) for x in a.sizes.split(",")]
    counts = {128: 500_000, 16384: 20_000}
    print(f"mode: {a.mode}")
    print("| payload | natsws best | natsws median | nats-server best | nats-server median | ratio (best) |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        n = counts.get(size, max(10_000, 64_000_000 // (size + 40)))
        res = {"natsws": [], "nats-server": []}
        for _ in range(a.rounds):
            # Alternate the servers round by round (the machine is shared).
            for name, b in (("natsws", a.natsws), ("nats-server", a.nats_server)):
                p, port = start(b, pki)
                try:
                    run = run_once if a.mode == "pubsub" else run_pub_only
                    res[name].append(run(port, ctx, size, n))
                finally:
                    p.kill(); p.wait()
        x, y = res["natsws"], res["nats-server"]
        print(f"| {size} | {max(x):,.0f} | {statistics.median(x):,.0f} | {max(y):,.0f} | {statistics.median(y):,.0f} | {max(x)/max(y):.2f} |", flush=True)


if __name__ == "__main__":
    main()

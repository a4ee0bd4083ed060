#!/usr/bin/env python3
"""bench-leaf: messages/s across a leafnode link over TCP (rough figures).

Setups (the other side is always nats-server):
  leaf  — the candidate solicits a nats-server hub; publisher on the
          candidate, subscriber on the hub;
  hub   — a nats-server leaf solicits the candidate; publisher on the leaf,
          subscriber on the candidate.
Each is run with the candidate = natsws and the candidate = nats-server,
for 128 B and 16 KiB payloads; the figure is delivered messages per second
(first publish to last byte at the subscriber), the best of --rounds.

With --tls the link runs TLS: the hub's leafnode listener has a certificate
(made with openssl for 127.0.0.1) and the leaf's remote a tls { ca_file }.

With --ws the link is a WebSocket one: the hub serves leafnodes at its
websocket port (`websocket { no_tls: true }`) and the leaf dials ws://.

With --hub-perms the hub binds the leaf to a user with publish and
subscribe permissions (allow and deny lists), so every LMSG in and every
delivery out is checked (leafnode.md §4.6); --kinds picks the setups.

Usage: scripts/bench-leaf.py [--natsws target/release/natsws]
                             [--nats-server PATH] [--rounds 3] [--tls]
                             [--hub-perms] [--ws] [--kinds leaf,hub]
Loopback only; every wait is bounded.
"""
import argparse, os, re, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, make_pki, pump  # noqa: E402

def start(bin_, conf):
    d = tempfile.mkdtemp(prefix="bench-leaf-")
    path = os.path.join(d, "s.conf")
    open(path, "w").write(conf)
    p = subprocess.Popen([bin_, "-c", path], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        line = p.stderr.readline()
        if "Server is ready" in line:
            return p
    p.kill(); raise SystemExit(f"{bin_} did not start")

def wait_log(p, needle, t=10):
    deadline = time.time() + t
    while time.time() < deadline:
        if needle in p.stderr.readline():
            return
    raise SystemExit(f"no log line {needle!r}")

def client(port):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
    buf = b""
    while b"\r\n" not in buf: buf += s.recv(4096)
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
    buf = b""
    while b"PONG\r\n" not in buf: buf += s.recv(4096)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def run_once(pub_port, sub_port, size, n):
    sub = client(sub_port); pub = client(pub_port)
    sub.sendall(b"SUB bench 1\r\nSUB probe 2\r\nPING\r\n")
    buf = b""
    while b"PONG\r\n" not in buf: buf += sub.recv(65536)
    # Interest crossed when a probe arrives (SUB probe follows SUB bench).
    sub.settimeout(0.1); got = b""; deadline = time.time() + 10
    while b"MSG probe" not in got:
        if time.time() > deadline: raise SystemExit("interest never crossed")
        pub.sendall(b"PUB probe 1\r\nx\r\n")
        try: got += sub.recv(65536)
        except socket.timeout: pass
    # Drain the probes.
    pub.sendall(b"PING\r\n")
    try:
        while True: sub.recv(65536)
    except socket.timeout: pass
    return pump(pub, sub, size, n)

# (listener block, remote block) for --tls; empty strings without it.
TLS = ("", "")
# --ws: the link runs over WebSocket (the hub's websocket port, a ws:// remote).
WS = False

def hub_conf(port, hub_leaf, hub_ws, extra=""):
    """The hub's config: leafnodes on hub_leaf, and with --ws a websocket port hub_ws."""
    lt, _ = TLS
    ws = f"websocket {{ host: 127.0.0.1, port: {hub_ws}, no_tls: true }}\n" if WS else ""
    return f"server_name: HUB\nhost: 127.0.0.1\nport: {port}\n{extra}{ws}leafnodes {{ host: 127.0.0.1, port: {hub_leaf}{lt} }}\n"

def leaf_conf(port, hub_leaf, hub_ws, userinfo=""):
    """The leaf's config: one remote to the hub, nats-leaf:// or with --ws ws://."""
    _, rt = TLS
    url = f"ws://{userinfo}127.0.0.1:{hub_ws}" if WS else f"nats-leaf://{userinfo}127.0.0.1:{hub_leaf}"
    return f"server_name: LEAF\nhost: 127.0.0.1\nport: {port}\nleafnodes {{ remotes [ {{ url: \"{url}\"{rt} }} ] }}\n"

def make_tls():
    d = make_pki("bench-leaf-pki-")
    j = lambda f: os.path.join(d, f)
    return (f", tls {{ cert_file: \"{j('srv.pem')}\", key_file: \"{j('srv.key')}\" }}",
            f", tls {{ ca_file: \"{j('ca.pem')}\" }}")

HUB_PERMS = ('no_auth_user: app\naccounts { A: { users: [ { user: lu, password: lp, permissions: '
             '{ publish: { allow: ["bench", "probe", "ok.>"], deny: ["secret.>"] }, '
             'subscribe: { allow: [">"], deny: ["hidden.>"] } } }, { user: app, password: p } ] } }\n')

def setup(kind, cand_bin, ref_bin, perms=False):
    hub_leaf, hub_ws = free_port(), free_port()
    if perms and kind == "hub":
        hub = start(cand_bin, hub_conf(free_port(), hub_leaf, hub_ws, HUB_PERMS))
        leaf = start(ref_bin, leaf_conf(free_port(), hub_leaf, hub_ws, "lu:lp@"))
        wait_log(leaf, "Leafnode connection created")
        return hub, leaf
    hub_bin, leaf_bin = (ref_bin, cand_bin) if kind == "leaf" else (cand_bin, ref_bin)
    hub = start(hub_bin, hub_conf(free_port(), hub_leaf, hub_ws))
    leaf = start(leaf_bin, leaf_conf(free_port(), hub_leaf, hub_ws))
    wait_log(leaf, "Leafnode connection created")
    return hub, leaf

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natsws", default="target/release/natsws")
    ap.add_argument("--nats-server", default="/root/.pyenv/versions/3.11.7/bin/nats-server")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--hub-perms", action="store_true")
    ap.add_argument("--kinds", default="leaf,hub")
    ap.add_argument("--ws", action="store_true")
    a = ap.parse_args()
    global WS
    WS = a.ws
    if a.tls:
        global TLS
        TLS = make_tls()
    rows = []
    for kind in a.kinds.split(","):
        for size, n in ((128, 500_000), (16384, 20_000)):
            res = {}
            for name, b in (("natsws", a.natsws), ("nats-server", a.nats_server)):
                best = 0.0
                for _ in range(a.rounds):
                    hub, leaf = setup(kind, b, a.nats_server, a.hub_perms)
                    try:
                        hp = int(re.search(r"^port: (\d+)", open(hub.args[2]).read(), re.M).group(1))
                        lp = int(re.search(r"^port: (\d+)", open(leaf.args[2]).read(), re.M).group(1))
                        # Publisher on the leaf side for "hub", on the candidate leaf for "leaf".
                        best = max(best, run_once(lp, hp, size, n))
                    finally:
                        hub.kill(); leaf.kill(); hub.wait(); leaf.wait()
                res[name] = best
            rows.append((kind, size, res["natsws"], res["nats-server"]))
    link = ("TLS " if a.tls else "") + ("WebSocket" if a.ws else "TCP")
    print(f"Leafnode link over {link}, best of {a.rounds} rounds:\n")
    print("| candidate as | payload | natsws msgs/s | nats-server msgs/s | ratio |")
    print("|---|---|---|---|---|")
    for kind, size, x, y in rows:
        print(f"| {kind} of nats-server | {size} B | {x:,.0f} | {y:,.0f} | {x / y:.2f}x |")

if __name__ == "__main__":
    main()

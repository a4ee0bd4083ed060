"""Shared pieces of scripts/bench-leaf.py and scripts/bench-tls.py: free
loopback ports, a throw-away CA and server certificate for 127.0.0.1, and
the timed publish/receive loop both measure with."""
import os, socket, subprocess, tempfile, threading, time


def free_port():
    """A port the kernel picked on 127.0.0.1, released for a server."""
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def make_pki(prefix):
    """A directory with ca.pem and srv.pem/srv.key (SAN IP:127.0.0.1), made with openssl."""
    d = tempfile.mkdtemp(prefix=prefix)
    run = lambda *a: subprocess.run(a, cwd=d, check=True, capture_output=True, timeout=60)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=bench")
    open(os.path.join(d, "ext"), "w").write("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext")
    return d


def pump(pub, sub, size, n):
    """Publishes n messages of size bytes on `bench` from pub (in ~64 KiB
    batches, on a thread) while reading sub until every `MSG bench 1 …`
    arrived; returns delivered messages per second. sub must already
    have `SUB bench 1` in place on the path the messages take."""
    sub.settimeout(30)
    payload = b"a" * size
    one = b"PUB bench %d\r\n" % size + payload + b"\r\n"
    per = max(1, 65536 // len(one))
    batch = one * per
    expect = n * len(b"MSG bench 1 %d\r\n" % size + payload + b"\r\n")

    def publish():
        left = n
        while left > 0:
            k = min(per, left)
            pub.sendall(batch if k == per else one * k)
            left -= k

    t0 = time.time()
    th = threading.Thread(target=publish); th.start()
    got = 0
    while got < expect:
        b = sub.recv(1 << 20)
        if not b: raise SystemExit("subscriber closed")
        got += len(b)
    dt = time.time() - t0
    th.join(); sub.close(); pub.close()
    return n / dt

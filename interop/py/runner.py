"""The interop scenarios (interop/scenarios.json) for nats-py, over TCP or WebSocket.

Run by interop/matrix.mjs with INTEROP_CFG (JSON: transport, urls, creds, control, caFile,
ids, prefix); prints one JSON line per scenario: {"id", "status", "detail", "ms"}.
WebSocket needs nats-py's aiohttp extra (pip install 'nats-py[aiohttp]').
"""

import asyncio
import json
import os
import ssl
import sys
import time
import urllib.request

import nats
from nats import errors


class CheckError(Exception):
    """A scenario's expectation did not hold; the message is the cell's detail."""


def check(cond, what):
    if not cond:
        raise CheckError(what)


def prng(length, seed):
    """Deterministic pseudo-random bytes (xorshift32), the same as scenarios.mjs."""
    out = bytearray(length)
    x = seed or 1
    for i in range(length):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


class Ctx:
    def __init__(self, cfg):
        self.cfg = cfg
        self.conns = []
        self.ssl = ssl.create_default_context(cafile=cfg["caFile"])

    async def connect(self, url, **kw):
        if url.startswith(("tls://", "wss://")):
            kw["tls"] = self.ssl
        kw.setdefault("allow_reconnect", False)
        nc = await asyncio.wait_for(nats.connect(servers=[url], name="interop-nats-py", **kw), 10)
        self.conns.append(nc)
        return nc

    def subj(self, tag):
        return f"{self.cfg['prefix']}.{tag}"

    async def restart(self):
        def post():
            req = urllib.request.Request(self.cfg["control"] + "/restart", method="POST")
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status

        status = await asyncio.to_thread(post)
        check(status == 204, f"restart: HTTP {status}")

    async def close_all(self):
        for nc in self.conns:
            if not nc.is_closed:
                try:
                    await nc.close()
                except Exception:  # noqa: BLE001 - cleanup after a failed scenario
                    pass


async def round_trip(ctx, nc, tag):
    sub = await nc.subscribe(ctx.subj(tag))
    await nc.flush()
    await nc.publish(ctx.subj(tag), f"hello {tag}".encode())
    m = await sub.next_msg(timeout=5)
    check(m.data == f"hello {tag}".encode(), f"{tag}: payload {m.data!r}")
    await sub.unsubscribe()


async def expect_auth_failure(ctx, url, **kw):
    seen = []

    async def on_error(e):
        seen.append(e)

    try:
        nc = await ctx.connect(url, error_cb=on_error, max_reconnect_attempts=0, connect_timeout=5, **kw)
    except Exception as e:  # noqa: BLE001 - the error is what is checked
        texts = [repr(x) + str(x) for x in [e, *seen]]
        check(
            any(isinstance(x, errors.AuthorizationError) or "authorization violation" in t.lower()
                for x, t in zip([e, *seen], texts)),
            f"bad credentials: expected Authorization Violation, got {texts}",
        )
        return
    await nc.close()
    raise CheckError("bad credentials: connect succeeded")


async def s_connect(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["default"])
    info = nc._server_info  # nats-py keeps INFO here; only parts of it are public
    check(isinstance(info.get("server_id"), str) and info["server_id"], "INFO without server_id")
    check(nc.max_payload > 0, f"max_payload {nc.max_payload}")
    await asyncio.wait_for(nc.flush(), 5)
    await nc.close()
    check(nc.is_closed, "not closed")


async def s_pubsub(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["default"])
    sub = await nc.subscribe(ctx.subj("ps"))
    await nc.flush()
    for i in range(100):
        await nc.publish(ctx.subj("ps"), str(i).encode())
    for i in range(100):
        m = await sub.next_msg(timeout=5)
        check(m.data == str(i).encode(), f"message {i} is {m.data!r}")


async def s_request(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["default"])

    async def responder(m):
        await m.respond(m.data[::-1])

    await nc.subscribe(ctx.subj("svc"), cb=responder)
    await nc.flush()
    r = await nc.request(ctx.subj("svc"), b"interop", timeout=5)
    check(r.data == b"poretni", f"reply {r.data!r}")


async def s_headers(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["default"])
    sub = await nc.subscribe(ctx.subj("hdr"))
    await nc.flush()
    # nats-py headers are a dict: one value per key, so X-Multi carries only "a" (docs/interop.md).
    await nc.publish(ctx.subj("hdr"), b"with headers", headers={"X-Interop": "1", "X-Multi": "a"})
    m = await sub.next_msg(timeout=5)
    check(m.headers is not None, "message without headers")
    check(m.headers.get("X-Interop") == "1", f"X-Interop {m.headers.get('X-Interop')!r}")
    check(m.headers.get("X-Multi") == "a", f"X-Multi {m.headers.get('X-Multi')!r}")
    check(m.data == b"with headers", "payload")


async def s_no_responders(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["default"])
    t0 = time.monotonic()
    try:
        await nc.request(ctx.subj("nobody"), b"x", timeout=5)
    except errors.NoRespondersError:
        check(time.monotonic() - t0 < 2.5, "no responders only after a timeout")
        return
    except Exception as e:  # noqa: BLE001
        raise CheckError(f"expected no responders, got {e!r}") from e
    raise CheckError("request to nobody got a reply")


async def s_queue(ctx):
    a = await ctx.connect(ctx.cfg["urls"]["default"])
    b = await ctx.connect(ctx.cfg["urls"]["default"])
    seen = []
    counts = [0, 0]
    done = asyncio.Event()

    def member(k):
        async def cb(m):
            seen.append(m.data)
            counts[k] += 1
            if len(seen) == 100:
                done.set()
        return cb

    await a.subscribe(ctx.subj("q"), queue="workers", cb=member(0))
    await b.subscribe(ctx.subj("q"), queue="workers", cb=member(1))
    await a.flush()
    await b.flush()
    for i in range(100):
        await a.publish(ctx.subj("q"), str(i).encode())
    await asyncio.wait_for(done.wait(), 10)
    await a.flush()
    await b.flush()
    check(len(seen) == 100 and len(set(seen)) == 100, f"queue group delivered {len(seen)} ({len(set(seen))} distinct)")
    check(counts[0] > 0 and counts[1] > 0, f"queue group split {counts}")


async def s_unsub_max(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["default"])
    sub = await nc.subscribe(ctx.subj("max"))
    await sub.unsubscribe(limit=3)
    fence = await nc.subscribe(ctx.subj("fence"))
    await nc.flush()
    for i in range(5):
        await nc.publish(ctx.subj("max"), str(i).encode())
    await nc.publish(ctx.subj("fence"), b"")
    # The fence arrives after every message published before it on this connection.
    await fence.next_msg(timeout=5)
    got = []
    while sub.pending_msgs > 0:
        got.append((await sub.next_msg(timeout=1)).data)
    check(got == [b"0", b"1", b"2"], f"got {got}")


async def s_drain(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["default"])
    got = []

    async def cb(m):
        got.append(m.data)

    await nc.subscribe(ctx.subj("drain"), cb=cb)
    await nc.flush()
    for i in range(50):
        await nc.publish(ctx.subj("drain"), str(i).encode())
    await asyncio.wait_for(nc.drain(), 10)
    check(len(got) == 50, f"drained {len(got)}/50")
    check(nc.is_closed, "not closed after drain")


async def s_reconnect(ctx):
    events = []
    reconnected = asyncio.Event()

    async def on_disconnect():
        events.append("disconnect")

    async def on_reconnect():
        events.append("reconnect")
        reconnected.set()

    nc = await ctx.connect(
        ctx.cfg["urls"]["restart"], allow_reconnect=True, max_reconnect_attempts=-1,
        reconnect_time_wait=0.1, ping_interval=60,
        disconnected_cb=on_disconnect, reconnected_cb=on_reconnect,
    )
    sub = await nc.subscribe(ctx.subj("rc"))
    await nc.flush()
    await ctx.restart()
    await asyncio.wait_for(reconnected.wait(), 20)
    check("disconnect" in events, f"events {events}")
    await nc.publish(ctx.subj("rc"), b"after")
    m = await sub.next_msg(timeout=5)
    check(m.data == b"after", "payload after reconnect")


async def s_auth_user(ctx):
    c = ctx.cfg["creds"]
    nc = await ctx.connect(ctx.cfg["urls"]["users"], user=c["user"], password=c["pass"])
    await round_trip(ctx, nc, "user")
    await expect_auth_failure(ctx, ctx.cfg["urls"]["users"], user=c["user"], password=c["pass"] + "-wrong")


async def s_auth_token(ctx):
    c = ctx.cfg["creds"]
    nc = await ctx.connect(ctx.cfg["urls"]["token"], token=c["token"])
    await round_trip(ctx, nc, "token")
    await expect_auth_failure(ctx, ctx.cfg["urls"]["token"], token=c["token"] + "-wrong")


async def s_tls(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["tls"])
    await round_trip(ctx, nc, "tls")


async def s_large(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["default"])
    sub = await nc.subscribe(ctx.subj("big"))
    await nc.flush()
    data = prng(200 * 1024, 7)
    await nc.publish(ctx.subj("big"), data)
    m = await sub.next_msg(timeout=10)
    check(m.data == data, f"200 KiB payload differs (got {len(m.data)} bytes)")


async def s_compression(ctx):
    nc = await ctx.connect(ctx.cfg["urls"]["compression"])
    sub = await nc.subscribe(ctx.subj("z"))
    await nc.flush()
    payloads = [prng(n, i + 11) for i, n in enumerate([10, 4096, 200 * 1024])]
    payloads.append(("natsws compression " * (64 * 1024 // 19)).encode())
    for p in payloads:
        await nc.publish(ctx.subj("z"), p)
    for i, p in enumerate(payloads):
        m = await sub.next_msg(timeout=10)
        check(m.data == p, f"compressed message {i} ({len(p)} B) differs")


BODIES = {name[2:]: fn for name, fn in globals().items() if name.startswith("s_")}


async def run_one(cfg, sid):
    ctx = Ctx(cfg)
    t0 = time.monotonic()
    try:
        body = BODIES.get(sid)
        if body is None:
            raise CheckError(f"no body for scenario {sid}")
        await asyncio.wait_for(body(ctx), 45)
        result = {"status": "pass"}
    except CheckError as e:
        result = {"status": "fail", "detail": str(e)}
    except Exception as e:  # noqa: BLE001 - any error fails the cell with its text
        result = {"status": "fail", "detail": f"{type(e).__name__}: {e}"}
    await ctx.close_all()
    result["ms"] = int((time.monotonic() - t0) * 1000)
    return result


async def main():
    cfg = json.loads(os.environ["INTEROP_CFG"])
    for sid in cfg["ids"]:
        r = await run_one(cfg, sid)
        print(json.dumps({"id": sid, **r}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)

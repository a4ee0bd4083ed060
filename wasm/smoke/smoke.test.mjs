// Smoke test of the packed npm package: scripts/test-wasm.sh installs the `npm pack`
// tarball into a fresh temporary folder (type: module), copies this file there and runs
// `node --test`. Everything is imported from "natsws-wasm" exactly as a user would.
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import init, {
  ClientDecoder,
  ServerDecoder,
  Sublist,
  WsDecoder,
  WsRole,
  acceptKey,
  buildHeaders,
  closeCodeIsValid,
  encodeConnect,
  encodeHmsg,
  encodeHpub,
  encodeMsg,
  encodePing,
  encodePub,
  encodeSub,
  encodeUnsub,
  filterMatches,
  parseHeaders,
  validateFilter,
  validateSubject,
  version,
  wsFrameBatch,
  wsWriteClose,
  wsWriteFrame,
  wsWritePing,
} from "natsws-wasm";

const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);
const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
};

/** Runs `f`, which must throw; returns the error. */
function thrown(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail("expected an exception");
}

test("package metadata: version matches package.json, default export resolves", async () => {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve("natsws-wasm/package.json"), "utf8"));
  assert.equal(version(), pkg.version);
  const exports = await init();
  assert.ok(exports.memory instanceof WebAssembly.Memory);
});

test("ServerDecoder decodes a MSG split across pushes", () => {
  const d = new ServerDecoder();
  const bytes = enc("MSG foo.bar 9 reply.to 5\r\nhello\r\nPING\r\n");
  assert.deepEqual(d.push(bytes.subarray(0, 17)), []);
  assert.ok(d.buffered > 0);
  const ops = d.push(bytes.subarray(17));
  assert.equal(ops.length, 2);
  const [msg, ping] = ops;
  assert.equal(msg.op, "MSG");
  assert.equal(msg.subject, "foo.bar");
  assert.equal(msg.sid, "9");
  assert.equal(msg.reply, "reply.to");
  assert.ok(msg.payload instanceof Uint8Array);
  assert.equal(dec(msg.payload), "hello");
  assert.deepEqual(ping, { op: "PING" });
  assert.equal(d.buffered, 0);
});

test("ServerDecoder: INFO, HMSG, +OK, -ERR, PONG", () => {
  const hdr = buildHeaders([["A", "1"], ["A", "2"]]);
  const stream = concat([
    enc('INFO {"server_id":"X","max_payload":1048576} \r\n'),
    encodeHmsg("s", "1", hdr, enc("p")),
    enc("+OK\r\n-ERR 'Unknown Protocol Operation'\r\nPONG\r\n"),
  ]);
  const ops = new ServerDecoder().push(stream);
  assert.deepEqual(
    ops.map((o) => o.op),
    ["INFO", "HMSG", "+OK", "-ERR", "PONG"],
  );
  assert.equal(JSON.parse(ops[0].json).server_id, "X");
  assert.deepEqual(parseHeaders(ops[1].headers).fields, [["A", "1"], ["A", "2"]]);
  assert.equal(dec(ops[1].payload), "p");
  assert.equal(ops[3].text, "'Unknown Protocol Operation'");
});

test("decoder errors are named after the core variant, carry errText and are sticky", () => {
  const d = new ServerDecoder();
  const e = thrown(() => d.push(enc("PONG\r\nFOO bar\r\n")));
  assert.ok(e instanceof Error);
  assert.equal(e.name, "UnknownOp");
  assert.equal(e.message, "unknown protocol operation");
  assert.equal(e.layer, "proto");
  assert.equal(e.errText, "Unknown Protocol Operation");
  assert.equal(e.closedReason, "Protocol Violation");
  assert.deepEqual(e.ops, [{ op: "PONG" }]);
  assert.ok(d.isPoisoned);
  assert.equal(thrown(() => d.push(enc("PING\r\n"))).name, "UnknownOp");

  const small = new ServerDecoder(undefined, 4);
  const big = thrown(() => small.push(enc("MSG a 1 5\r\n")));
  assert.equal(big.name, "MaxPayloadExceeded");
  assert.equal(big.errText, "Maximum Payload Violation");
});

test("ClientDecoder decodes what the encoders write", () => {
  const hdr = buildHeaders([["K", "v"]], 503, "No Responders");
  const stream = concat([
    encodeConnect({ verbose: false, pedantic: false, headers: true, name: "smoke" }),
    encodeSub("foo.*", "1"),
    encodeSub("foo.>", "2", "workers"),
    encodePub("foo.bar", enc("hi"), "inbox.1"),
    encodeHpub("foo.bar", hdr, enc("body")),
    encodeUnsub("1", 5),
    encodeUnsub("2"),
    encodePing(),
  ]);
  const d = new ClientDecoder();
  // One byte at a time gives the same ops.
  const ops = [];
  for (let i = 0; i < stream.length; i++) ops.push(...d.push(stream.subarray(i, i + 1)));
  assert.deepEqual(
    ops.map((o) => o.op),
    ["CONNECT", "SUB", "SUB", "PUB", "HPUB", "UNSUB", "UNSUB", "PING"],
  );
  const connect = JSON.parse(ops[0].json);
  assert.equal(connect.verbose, false);
  assert.equal(connect.headers, true);
  assert.equal(connect.name, "smoke");
  assert.equal(connect.echo, true, "core's default is written");
  assert.deepEqual([ops[1].subject, ops[1].queue, ops[1].sid], ["foo.*", undefined, "1"]);
  assert.deepEqual([ops[2].subject, ops[2].queue, ops[2].sid], ["foo.>", "workers", "2"]);
  assert.deepEqual([ops[3].subject, ops[3].reply, dec(ops[3].payload)], ["foo.bar", "inbox.1", "hi"]);
  const h = parseHeaders(ops[4].headers);
  assert.equal(h.status, 503);
  assert.equal(h.description, "No Responders");
  assert.deepEqual(h.fields, [["K", "v"]]);
  assert.equal(ops[5].maxMsgs, 5);
  assert.equal(ops[6].maxMsgs, undefined);

  const noHeaders = new ClientDecoder();
  noHeaders.setHeaders(false);
  assert.equal(thrown(() => noHeaders.push(encodeHpub("a", hdr, enc("")))).name, "HeadersNotSupported");
});

test("encoders: exact bytes and argument errors", () => {
  assert.equal(dec(encodePub("a.b", enc("xyz"))), "PUB a.b 3\r\nxyz\r\n");
  assert.equal(dec(encodeMsg("a.b", "7", enc(""), "r")), "MSG a.b 7 r 0\r\n\r\n");
  assert.equal(dec(encodeSub("a.>", "1", "q")), "SUB a.> q 1\r\n");
  assert.equal(dec(encodeUnsub("1", 10)), "UNSUB 1 10\r\n");
  assert.equal(thrown(() => encodeSub("a..b", "1")).name, "EmptyToken");
  assert.equal(thrown(() => encodeSub("a.>.b", "1")).name, "FullWildcardNotLast");
  assert.equal(thrown(() => encodePub("a b", enc(""))).name, "Whitespace");
  assert.equal(thrown(() => encodePub("", enc(""))).name, "Empty");
  assert.ok(thrown(() => encodeUnsub("1", 1.5)) instanceof RangeError);
  const bad = thrown(() => encodeConnect('{"verbose":"yes"}'));
  assert.equal(bad.name, "InvalidJson");
  assert.equal(bad.errText, undefined, "nats-server closes without -ERR");
  assert.equal(thrown(() => buildHeaders([["bad name", "v"]])).name, "InvalidName");
});

test("RFC 6455: accept key (§1.3) and the masked Hello (§5.7) in the server role", () => {
  assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const frame = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
  assert.deepEqual(wsWriteFrame(1, true, false, enc("Hello"), Uint8Array.of(0x37, 0xfa, 0x21, 0x3d)), frame);
  const d = new WsDecoder(WsRole.Server);
  const events = [...d.push(frame.subarray(0, 3)), ...d.push(frame.subarray(3))];
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "data");
  assert.equal(dec(events[0].payload), "Hello");
  assert.equal(events[0].fin, true);
  assert.equal(events[0].text, true);
});

test("WsDecoder errors carry the close code; client role rejects masked frames", () => {
  const server = new WsDecoder(WsRole.Server);
  const e = thrown(() => server.push(Uint8Array.of(0x82, 0x01, 0x61)));
  assert.equal(e.name, "MaskBitMissing");
  assert.equal(e.layer, "ws");
  assert.equal(e.closeCode, 1002);
  const client = new WsDecoder(WsRole.Client);
  const ping = wsWritePing(enc("p"), Uint8Array.of(1, 2, 3, 4));
  assert.equal(thrown(() => client.push(ping)).name, "MaskedFrameFromServer");
  const unmasked = new WsDecoder(WsRole.Client);
  assert.deepEqual(unmasked.push(wsWritePing(enc("p"))).map((x) => x.type), ["ping"]);
  const limited = new WsDecoder(WsRole.Client);
  limited.maxMessage = 3;
  const tooBig = thrown(() => limited.push(wsWriteFrame(2, true, false, enc("four"))));
  assert.equal(tooBig.name, "MessageTooBig");
  assert.equal(tooBig.closeCode, 1009);
  assert.equal(thrown(() => wsWriteClose(1005, "")).name, "InvalidCloseCode");
  assert.equal(thrown(() => wsWriteFrame(9, true, false, enc(""))).name, "ApiMisuse");
  assert.ok(closeCodeIsValid(4000));
  assert.ok(!closeCodeIsValid(1006));
});

test("wsFrameBatch cuts browser frames and masks each with a key from JS", () => {
  const payload = new Uint8Array(10000).map((_, i) => i % 256);
  let keys = 0;
  const batch = wsFrameBatch(payload, 4096, () => {
    keys++;
    return crypto.getRandomValues(new Uint8Array(4));
  });
  assert.equal(keys, 3, "10000 bytes in 4096-byte frames");
  const d = new WsDecoder(WsRole.Server);
  const events = d.push(batch);
  assert.deepEqual(events.map((e) => e.payload.length), [4096, 4096, 1808]);
  assert.ok(events.every((e) => e.type === "data" && e.fin && !e.text));
  assert.deepEqual(concat(events.map((e) => e.payload)), payload);
  assert.ok(thrown(() => wsFrameBatch(payload, 4096, new Uint8Array(8))) instanceof RangeError);
  const close = new WsDecoder(WsRole.Client).push(wsWriteClose(1000, "bye"));
  assert.deepEqual(close, [{ type: "close", code: 1000, reason: "bye" }]);
});

test("subjects and the Sublist", () => {
  validateSubject("foo.bar");
  validateFilter("foo.*.>");
  assert.equal(thrown(() => validateSubject("foo.*")).name, "WildcardInSubject");
  assert.equal(thrown(() => validateSubject("foo..bar")).layer, "subject");
  assert.ok(filterMatches("foo.>", "foo.bar.baz"));
  assert.ok(!filterMatches("foo.>", "foo"));

  const s = new Sublist();
  const a = { name: "a" };
  s.insert("foo.*", a);
  s.insert("foo.bar", 2);
  s.insert("foo.>", 3, "q");
  s.insert("foo.bar", 4, "q");
  assert.equal(s.size, 4);
  const m = s.match("foo.bar");
  assert.equal(m.plain.length, 2);
  assert.ok(m.plain.includes(a), "JS objects come back by identity");
  assert.ok(m.plain.includes(2));
  assert.equal(m.queues.length, 1);
  assert.equal(m.queues[0].name, "q");
  assert.deepEqual([...m.queues[0].members].sort(), [3, 4]);
  assert.equal(s.remove("foo.*", { name: "a" }), false, "a different object is not removed");
  assert.equal(s.remove("foo.*", a), true);
  assert.deepEqual(s.match("foo.bar").plain, [2]);
  assert.equal(thrown(() => s.insert("foo.>.x", 1)).name, "FullWildcardNotLast");
});

test("the in-page server is exported: a raw client gets INFO, +OK and PONG", async () => {
  const { InPageServer, InPageWebSocket, installWebSocket } = await import("natsws-wasm");
  assert.equal(typeof installWebSocket, "function");
  const server = new InPageServer({ server_name: "smoke" });
  try {
    const ws = new InPageWebSocket(server.url);
    ws.binaryType = "arraybuffer";
    let text = "";
    const done = new Promise((resolve) => {
      ws.onmessage = (ev) => {
        text += dec(new Uint8Array(ev.data));
        if (text.startsWith("INFO ") && text.endsWith("\r\n") && !text.includes("PONG")) ws.send("CONNECT {}\r\nPING\r\n");
        if (text.includes("PONG\r\n")) resolve();
      };
    });
    await done;
    assert.match(text, /^INFO \{"server_id":"N[A-Z2-7]{55}","server_name":"smoke",/);
    assert.ok(text.endsWith("+OK\r\nPONG\r\n"), JSON.stringify(text));
    ws.close();
  } finally {
    server.close();
  }
});

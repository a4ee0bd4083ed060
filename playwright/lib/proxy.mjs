// A transparent TCP proxy in front of a websocket port that records what crossed the wire:
// the HTTP upgrade request and response heads, byte counts, and the header of every frame
// (FIN, RSV1, opcode, payload length) in both directions. It never changes a byte.
import net from 'node:net';

/** Incremental RFC 6455 frame-header scanner over one direction of a connection. */
class FrameScanner {
  constructor() { this.buf = Buffer.alloc(0); this.skip = 0; this.frames = []; this.bytes = 0; }
  push(chunk) {
    this.bytes += chunk.length;
    let data = chunk;
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      data = data.subarray(n);
    }
    this.buf = Buffer.concat([this.buf, data]);
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buf.length);
        this.skip -= n;
        this.buf = this.buf.subarray(n);
        if (this.skip > 0) return;
      }
      const b = this.buf;
      if (b.length < 2) return;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); off = 10; }
      if (masked) off += 4;
      if (b.length < off) return;
      this.frames.push({ fin: (b[0] & 0x80) !== 0, rsv1: (b[0] & 0x40) !== 0, opcode: b[0] & 0x0f, masked, len });
      this.buf = b.subarray(off);
      this.skip = len;
    }
  }
}

/** One side's HTTP head, then frames. */
class Direction {
  constructor() { this.head = null; this.pending = Buffer.alloc(0); this.scanner = new FrameScanner(); }
  push(chunk) {
    if (this.head === null) {
      this.pending = Buffer.concat([this.pending, chunk]);
      const end = this.pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.pending.subarray(0, end).toString('latin1');
      const rest = this.pending.subarray(end + 4);
      this.pending = null;
      if (rest.length) this.scanner.push(rest);
      return;
    }
    this.scanner.push(chunk);
  }
  /** Header lines of the HTTP head as [name-lower, value] pairs (first line excluded). */
  headers() {
    return (this.head || '').split('\r\n').slice(1).map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
    });
  }
  header(name) { const h = this.headers().find(([k]) => k === name.toLowerCase()); return h ? h[1] : undefined; }
  get statusLine() { return (this.head || '').split('\r\n')[0]; }
  get frames() { return this.scanner.frames; }
  /** Bytes after the HTTP head. */
  get frameBytes() { return this.scanner.bytes; }
}

/** Starts a proxy on 127.0.0.1 to `targetPort`. Resolves with { port, conns, close }. */
export function startProxy(targetPort) {
  const conns = [];
  const sockets = new Set();
  const srv = net.createServer((client) => {
    const rec = { up: new Direction(), down: new Direction() };
    conns.push(rec);
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client); sockets.add(upstream);
    client.on('data', (d) => { rec.up.push(d); upstream.write(d); });
    upstream.on('data', (d) => { rec.down.push(d); client.write(d); });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end); upstream.on('close', end);
    client.on('error', end); upstream.on('error', end);
  });
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve({
      port: srv.address().port,
      conns,
      close: () => new Promise((r) => { for (const s of sockets) s.destroy(); srv.close(() => r()); }),
    }));
  });
}

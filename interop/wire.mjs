// What each browser engine puts on the wire, observed through the recording proxy
// (playwright/lib/proxy.mjs) in front of a compression: true websocket listener: the upgrade
// request's headers, the extension offered and the one accepted, and the frames of a small
// and a 200 KiB PUB. matrix.mjs prints the facts into docs/interop.md; the server must
// answer both PUBs (a PONG after them), so the observation also checks the server copes.
import { startProxy } from '../playwright/lib/proxy.mjs';

/** Opens a page in `browser`, talks raw NATS through a proxy to `wsPort`; resolves with the facts. */
export async function observeWire(browser, pageUrl, wsPort) {
  const proxy = await startProxy(wsPort);
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    await page.goto(pageUrl);
    const seen = await page.evaluate((url) => new Promise((resolve, reject) => {
      const te = new TextEncoder();
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      let text = '';
      let stage = 0;
      const t = setTimeout(() => reject(new Error(`no answer; got ${JSON.stringify(text.slice(0, 200))}`)), 15000);
      ws.onmessage = (ev) => {
        text += new TextDecoder().decode(new Uint8Array(ev.data));
        if (stage === 0 && text.includes('\r\n')) {
          stage = 1;
          ws.send(te.encode('CONNECT {"verbose":false}\r\nPING\r\n'));
        } else if (stage === 1 && text.includes('PONG\r\n')) {
          stage = 2;
          text = '';
          ws.send(te.encode('PUB wire.small 5\r\nhello\r\n'));
          const big = new Uint8Array(200 * 1024);
          let x = 7;
          for (let i = 0; i < big.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; big[i] = x & 0xff; }
          const head = te.encode(`PUB wire.big ${big.length}\r\n`);
          const msg = new Uint8Array(head.length + big.length + 2);
          msg.set(head); msg.set(big, head.length); msg.set(te.encode('\r\n'), head.length + big.length);
          ws.send(msg);
          ws.send(te.encode('PING\r\n'));
        } else if (stage === 2 && text.includes('PONG\r\n')) {
          clearTimeout(t);
          const extensions = ws.extensions;
          ws.close(1000);
          resolve({ extensions });
        }
      };
      ws.onerror = () => { clearTimeout(t); reject(new Error('WebSocket error')); };
    }), `ws://127.0.0.1:${proxy.port}`);
    const c = proxy.conns[0];
    // Client frames after the handshake: [0] CONNECT+PING, [1] small PUB, [2..] the big PUB, then PING.
    const data = c.up.frames.filter((f) => f.opcode !== 8);
    const small = data[1];
    const big = data.slice(2, data.length - 1);
    return {
      offered: c.up.header('sec-websocket-extensions') || '(none)',
      accepted: c.down.header('sec-websocket-extensions') || '(none)',
      scriptExtensions: seen.extensions,
      extraHeaders: c.up.headers().map(([k]) => k).filter((k) => k.startsWith('sec-fetch-') || k === 'accept').join(', ') || '(none)',
      smallRsv1: small ? small.rsv1 : null,
      bigFrames: big.length,
      bigLargest: Math.max(0, ...big.map((f) => f.len)),
      bigRsv1: big.length ? big[0].rsv1 : null,
    };
  } finally {
    await context.close().catch(() => {});
    await proxy.close();
  }
}

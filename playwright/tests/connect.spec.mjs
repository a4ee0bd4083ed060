// Connecting from the browser, and the INFO the browser sees.
import net from 'node:net';
import { test, expect, CLIENTS, defaultServer } from '../lib/fixtures.mjs';

/** The first line a plain TCP client receives (the INFO), parsed. */
function tcpInfo(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        s.destroy();
        const line = buf.slice(0, i);
        if (!line.startsWith('INFO ')) return reject(new Error(`not an INFO: ${line}`));
        resolve(JSON.parse(line.slice(5)));
      }
    });
    s.on('error', reject);
  });
}

test('raw browser WebSocket receives INFO as the first bytes, in binary frames', async ({ clientPage }) => {
  const got = await clientPage.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const chunks = [];
    const types = [];
    await new Promise((resolve, reject) => {
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onmessage = (ev) => {
        types.push(typeof ev.data === 'string' ? 'text' : 'binary');
        chunks.push(typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data));
        if (chunks.join('').includes('\r\n')) resolve();
      };
    });
    const protocol = ws.protocol;
    ws.close();
    return { text: chunks.join(''), types, protocol };
  }, defaultServer.wsUrl);
  expect(got.types.every((t) => t === 'binary')).toBe(true);
  expect(got.protocol).toBe(''); // no subprotocol is ever chosen for NATS clients
  expect(got.text.startsWith('INFO {')).toBe(true);
  const line = got.text.slice(0, got.text.indexOf('\r\n'));
  const info = JSON.parse(line.slice(5));
  expect(info.port).toBe(defaultServer.ports.ws);
});

for (const lib of CLIENTS) {
  test(`${lib}: connects and sees the websocket listener's INFO`, async ({ clientPage }) => {
    const info = await clientPage.evaluate(async ([lib, url]) => {
      const nc = await pw.connect(lib, { servers: url });
      await nc.flush();
      const rtt = await nc.rtt();
      return { info: nc.info, server: nc.getServer(), rtt: typeof rtt };
    }, [lib, defaultServer.wsUrl]);
    const tcp = await tcpInfo(defaultServer.ports.client);

    expect(info.rtt).toBe('number');
    expect(info.server).toBe(`127.0.0.1:${defaultServer.ports.ws}`);
    const i = info.info;
    // Same server as the TCP port, but host/port describe the websocket listener.
    expect(i.server_id).toBe(tcp.server_id);
    expect(i.server_id).toMatch(/^[A-Z0-9]{20,}$/);
    expect(i.server_name).toBe('natsws-pw');
    expect(i.version).toBe(tcp.version);
    expect(i.proto).toBe(1);
    expect(i.headers).toBe(true);
    expect(i.max_payload).toBe(1048576);
    expect(i.host).toBe('127.0.0.1');
    expect(i.port).toBe(defaultServer.ports.ws);
    expect(tcp.port).toBe(defaultServer.ports.client);
    expect(i.client_ip).toBe('127.0.0.1');
    expect(typeof i.client_id).toBe('number');
    expect(i.client_id).toBeGreaterThan(0);
    expect(i.tls_required).toBeUndefined();
    expect(i.tls_available).toBeUndefined();
    expect(i.auth_required).toBeUndefined();
    expect(i.connect_urls).toBeUndefined();
    expect(i.ws_connect_urls).toBeUndefined();

    // The server lists the browser as a websocket client, by the name it sent in CONNECT.
    const connz = await defaultServer.monitor(`/connz?cid=${i.client_id}`);
    expect(connz.connections).toHaveLength(1);
    const c = connz.connections[0];
    expect(c.name).toBe(`pw-${lib}`);
    expect(c.lang).toBe('nats.ws');
    expect(c.ip).toBe('127.0.0.1');
    expect(c.kind).toBe('Client');
    expect(c.type).toBe('websocket');
  });
}

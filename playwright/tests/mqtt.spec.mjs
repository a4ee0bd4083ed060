// mqtt.js 5 (its browser bundle) in Chromium over WebSocket at `/mqtt`, next to NATS clients
// on the same subjects: topic `a/b` ↔ subject `a.b`, the `Nmqtt-Pub` header, retained
// messages, wills and QoS 2. One server (fixtures/mqtt.conf) for the file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, expect } from '../lib/fixtures.mjs';
import { NatsServer, freePort } from '../lib/server.mjs';

let server;
let storeDir;

test.beforeAll(async () => {
  storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'natsws-pw-mqtt-store-'));
  server = new NatsServer({
    fixture: 'mqtt.conf', name: 'mqtt', vars: { MQTT_PORT: freePort, STORE_DIR: storeDir },
  });
  await server.start();
});

test.afterAll(async () => {
  await server?.dispose();
  if (storeDir) fs.rmSync(storeDir, { recursive: true, force: true });
});

/** Loads mqtt.js into `page` and installs `window.mq`: promise helpers with timeouts. */
async function withMqtt(page) {
  await page.addScriptTag({ url: '/mqtt.js' });
  await page.evaluate(() => {
    const clients = [];
    const timeout = (p, ms, what) => Promise.race([p, new Promise((_, rej) => {
      setTimeout(() => rej(new Error(`timeout: ${what}`)), ms);
    })]);
    window.mq = {
      clients,
      timeout,
      /** Connects and resolves on CONNACK; rejects on error, close or after 10 s. */
      connect(url, opts) {
        const c = window.mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10000, ...opts });
        clients.push(c);
        c.on('error', () => {}); // errors surface through the promises below
        return timeout(new Promise((res, rej) => {
          c.once('connect', (ack) => res(c));
          c.once('error', rej);
          c.once('close', () => rej(new Error('closed before CONNACK')));
        }), 10000, 'connect').then(() => c);
      },
      /** Resolves with the SUBACK grants. */
      subscribe: (c, topic, opts) => timeout(c.subscribeAsync(topic, opts), 10000, `subscribe ${topic}`),
      /** Resolves when the publish is done: mqtt.js resolves QoS 1 on PUBACK, QoS 2 on PUBCOMP. */
      publish: (c, topic, payload, opts) => timeout(c.publishAsync(topic, payload, opts), 10000, `publish ${topic}`),
      /** Resolves with the next message on `topic`: { topic, payload (string), qos, retain }. */
      next: (c, topic) => timeout(new Promise((res) => {
        const on = (t, payload, packet) => {
          if (t !== topic) return;
          c.removeListener('message', on);
          res({ topic: t, payload: new TextDecoder().decode(payload), qos: packet.qos, retain: packet.retain });
        };
        c.on('message', on);
      }), 10000, `message on ${topic}`),
      /** Listens for the next message on `topic` of client `i` now; `window.mq.armed[name]` is its promise. */
      arm(name, i, topic) { window.mq.armed[name] = window.mq.next(clients[i], topic); },
      armed: {},
      endAll: () => Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => {}))),
    };
  });
}

test.afterEach(async ({ clientPage }) => {
  await clientPage.evaluate(() => window.mq?.endAll()).catch(() => {});
});

test('mqtt.js subscribes a/b and receives what nats.ws publishes on a.b', async ({ clientPage }) => {
  await withMqtt(clientPage);
  const got = await clientPage.evaluate(async ({ mqttUrl, wsUrl }) => {
    const c = await window.mq.connect(mqttUrl, { clientId: 'pw-sub-ab' });
    const grants = await window.mq.subscribe(c, 'a/b', { qos: 1 });
    const next = window.mq.next(c, 'a/b');
    const nc = await window.pw.connect('nats.ws', { servers: wsUrl });
    nc.publish('a.b', window.pw.te.encode('from nats.ws'));
    return { grants: grants.map((g) => g.qos), msg: await next };
  }, { mqttUrl: `${server.wsUrl}/mqtt`, wsUrl: server.wsUrl });
  expect(got.grants).toEqual([1]);
  // NATS publishes reach MQTT subscribers as QoS 0.
  expect(got.msg).toEqual({ topic: 'a/b', payload: 'from nats.ws', qos: 0, retain: false });
});

test('mqtt.js QoS 1 publish reaches a NATS subscriber with Nmqtt-Pub: 1', async ({ clientPage, tcp }) => {
  await withMqtt(clientPage);
  const nc = await tcp(server.natsUrl);
  const sub = nc.subscribe('sensors.>', { max: 1 });
  await nc.flush();
  const received = (async () => { for await (const m of sub) return m; })();
  await clientPage.evaluate(async ({ mqttUrl }) => {
    const c = await window.mq.connect(mqttUrl, { clientId: 'pw-pub-q1' });
    await window.mq.publish(c, 'sensors/1', '20', { qos: 1 });
  }, { mqttUrl: `${server.wsUrl}/mqtt` });
  const m = await Promise.race([received, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout: NATS message')), 10000))]);
  expect(m.subject).toBe('sensors.1');
  expect(new TextDecoder().decode(m.data)).toBe('20');
  expect(m.headers?.get('Nmqtt-Pub')).toBe('1');
  expect(m.reply).toBeFalsy();
});

test('a retained message from one mqtt.js client reaches a later subscriber', async ({ clientPage }) => {
  await withMqtt(clientPage);
  const got = await clientPage.evaluate(async ({ mqttUrl }) => {
    const a = await window.mq.connect(mqttUrl, { clientId: 'pw-retain-pub' });
    await window.mq.publish(a, 'retained/t', 'kept', { qos: 1, retain: true });
    const b = await window.mq.connect(mqttUrl, { clientId: 'pw-retain-sub' });
    const next = window.mq.next(b, 'retained/t');
    await window.mq.subscribe(b, 'retained/t', { qos: 1 });
    const first = await next;
    // Clearing it: an empty retained publish; a third subscriber then gets nothing retained,
    // only the live message that follows.
    await window.mq.publish(a, 'retained/t', '', { qos: 1, retain: true });
    const c = await window.mq.connect(mqttUrl, { clientId: 'pw-retain-sub2' });
    const after = window.mq.next(c, 'retained/t');
    await window.mq.subscribe(c, 'retained/t', { qos: 1 });
    await window.mq.publish(a, 'retained/t', 'live', { qos: 1 });
    return { first, after: await after };
  }, { mqttUrl: `${server.wsUrl}/mqtt` });
  expect(got.first).toEqual({ topic: 'retained/t', payload: 'kept', qos: 1, retain: true });
  expect(got.after).toEqual({ topic: 'retained/t', payload: 'live', qos: 1, retain: false });
});

test('the will of a dropped mqtt.js client reaches mqtt.js and NATS subscribers', async ({ clientPage, openPage, tcp }) => {
  await withMqtt(clientPage);
  const nc = await tcp(server.natsUrl);
  const sub = nc.subscribe('will.t', { max: 1 });
  await nc.flush();
  const natsGot = (async () => { for await (const m of sub) return m; })();
  const mqttUrl = `${server.wsUrl}/mqtt`;
  await clientPage.evaluate(async ({ mqttUrl }) => {
    const s = await window.mq.connect(mqttUrl, { clientId: 'pw-will-sub' });
    await window.mq.subscribe(s, 'will/t', { qos: 1 });
    window.mq.arm('dropped', 0, 'will/t');
  }, { mqttUrl });
  const armed = (name) => clientPage.evaluate((n) => window.mq.armed[n], name);

  // Case 1: the socket is destroyed (no DISCONNECT) in another page.
  const other = await openPage();
  await withMqtt(other);
  await other.evaluate(async ({ mqttUrl }) => {
    const w = await window.mq.connect(mqttUrl, {
      clientId: 'pw-will-dropped', will: { topic: 'will/t', payload: 'dropped', qos: 1, retain: false },
    });
    w.stream.destroy();
  }, { mqttUrl });
  expect(await armed('dropped')).toEqual({ topic: 'will/t', payload: 'dropped', qos: 1, retain: false });
  const m = await Promise.race([natsGot, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout: NATS will')), 10000))]);
  expect(new TextDecoder().decode(m.data)).toBe('dropped');
  expect(m.headers?.get('Nmqtt-Pub')).toBe('1');

  // Case 2: the page holding the client is closed.
  await clientPage.evaluate(() => window.mq.arm('closed', 0, 'will/t'));
  const third = await openPage();
  await withMqtt(third);
  await third.evaluate(async ({ mqttUrl }) => {
    await window.mq.connect(mqttUrl, {
      clientId: 'pw-will-closed', will: { topic: 'will/t', payload: 'page closed', qos: 0 },
    });
  }, { mqttUrl });
  await third.close();
  expect(await armed('closed')).toEqual({ topic: 'will/t', payload: 'page closed', qos: 0, retain: false });

  // A clean DISCONNECT discards the will: a live message sent after it is the next one seen.
  await clientPage.evaluate(() => window.mq.arm('clean', 0, 'will/t'));
  await other.evaluate(async ({ mqttUrl }) => {
    const w = await window.mq.connect(mqttUrl, {
      clientId: 'pw-will-clean', will: { topic: 'will/t', payload: 'must not arrive', qos: 1 },
    });
    await w.endAsync();
    const p = await window.mq.connect(mqttUrl, { clientId: 'pw-will-after' });
    await window.mq.publish(p, 'will/t', 'after clean end', { qos: 1 });
  }, { mqttUrl });
  expect(await armed('clean')).toEqual({ topic: 'will/t', payload: 'after clean end', qos: 1, retain: false });
});

test('QoS 2 round trip mqtt.js to mqtt.js', async ({ clientPage }) => {
  await withMqtt(clientPage);
  const got = await clientPage.evaluate(async ({ mqttUrl }) => {
    const s = await window.mq.connect(mqttUrl, { clientId: 'pw-q2-sub' });
    const grants = await window.mq.subscribe(s, 'q2/t', { qos: 2 });
    const next = window.mq.next(s, 'q2/t');
    const p = await window.mq.connect(mqttUrl, { clientId: 'pw-q2-pub' });
    await window.mq.publish(p, 'q2/t', 'exactly once', { qos: 2 });
    const msg = await next;
    // Exactly once: a following QoS 2 message is the next one, not a duplicate.
    const next2 = window.mq.next(s, 'q2/t');
    await window.mq.publish(p, 'q2/t', 'second', { qos: 2 });
    return { grants: grants.map((g) => g.qos), msg, msg2: await next2 };
  }, { mqttUrl: `${server.wsUrl}/mqtt` });
  expect(got.grants).toEqual([2]);
  expect(got.msg).toEqual({ topic: 'q2/t', payload: 'exactly once', qos: 2, retain: false });
  expect(got.msg2).toEqual({ topic: 'q2/t', payload: 'second', qos: 2, retain: false });
});

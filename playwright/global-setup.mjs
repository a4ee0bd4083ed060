// Global setup: bundles the page, serves it on two loopback origins, and starts the
// default NATS server. Everything is handed to the workers through NATSWS_PW (JSON).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NatsServer, logDir } from './lib/server.mjs';
import { buildPage, serveStatic } from './lib/web.mjs';

export default async function globalSetup() {
  fs.rmSync(logDir, { recursive: true, force: true });
  const server = new NatsServer({ fixture: 'default.conf', name: 'default' }); // throws if no binary
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natsws-pw-page-'));
  await buildPage(dir);
  // Two HTTP servers with the same files: two distinct origins for the allowed_origins test.
  const web = await serveStatic(dir);
  const otherWeb = await serveStatic(dir);
  const teardown = async () => {
    await server.dispose();
    await web.close();
    await otherWeb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await server.start();
  } catch (e) {
    await teardown();
    throw e;
  }
  console.log(`[natsws-pw] server ${server.bin} client=${server.ports.client} ws=${server.ports.ws} http=${server.ports.http}; page http://127.0.0.1:${web.port} and :${otherWeb.port}; server logs in ${logDir}`);
  process.env.NATSWS_PW = JSON.stringify({
    pageDir: dir,
    pageUrl: `http://127.0.0.1:${web.port}/index.html`,
    otherPageUrl: `http://127.0.0.1:${otherWeb.port}/index.html`,
    server: { bin: server.bin, ports: server.ports },
  });
  return teardown;
}

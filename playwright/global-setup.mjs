// Global setup: bundles the page, serves it on two loopback origins, and starts the
// default NATS server. Everything is handed to the workers through NATSWS_PW (JSON).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NatsServer, describeBinary, logDir } from './lib/server.mjs';
import { buildPage, serveStatic } from './lib/web.mjs';

export default async function globalSetup() {
  fs.rmSync(logDir, { recursive: true, force: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natsws-pw-page-'));
  await buildPage(dir);
  // Two HTTP servers with the same files: two distinct origins for the allowed_origins test.
  const web = await serveStatic(dir);
  const otherWeb = await serveStatic(dir);
  const server = await new NatsServer({ fixture: 'default.conf', name: 'default' }).start();
  console.log(`[natsws-pw] server ${describeBinary(server.bin)} client=${server.ports.client} ws=${server.ports.ws} http=${server.ports.http}; page http://127.0.0.1:${web.port} and :${otherWeb.port}; server logs in ${logDir}`);
  process.env.NATSWS_PW = JSON.stringify({
    pageDir: dir,
    pageUrl: `http://127.0.0.1:${web.port}/index.html`,
    otherPageUrl: `http://127.0.0.1:${otherWeb.port}/index.html`,
    server: { bin: server.bin, ports: server.ports },
  });
  return async () => {
    await server.dispose();
    await web.close();
    await otherWeb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
}

// Native natsws (or, with NATSWS_SERVER_BIN, any nats-server binary) for the comparison
// runs: the playwright harness's NatsServer with the config rendered from suite.mjs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NatsServer, freePort } from '../../playwright/lib/server.mjs';
import { nativeConf } from './suite.mjs';

/** A NatsServer whose config is `nativeConf(name)` instead of a playwright fixture. */
class SuiteServer extends NatsServer {
  constructor(name) {
    super({ name: `inpage-${name}` });
    this.confName = name;
  }

  async init() {
    this.ports = { client: await freePort(), ws: await freePort(), http: await freePort() };
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `natsws-inpage-${this.confName}-`));
    this.confPath = path.join(this.dir, 'natsws.conf');
    fs.writeFileSync(this.confPath, nativeConf(this.confName, this.ports));
    return this;
  }
}

/** Starts the native servers for every config; resolves with { target, servers, dispose }. */
export async function startNative(names = ['default', 'users', 'token']) {
  const servers = {};
  try {
    for (const n of names) servers[n] = await new SuiteServer(n).start();
  } catch (e) {
    for (const s of Object.values(servers)) await s.dispose();
    throw e;
  }
  const urls = Object.fromEntries(names.map((n) => [n, servers[n].wsUrl]));
  return {
    servers,
    target: { urls, restart: () => servers.default.restart() },
    async dispose() {
      for (const s of Object.values(servers)) await s.dispose();
    },
  };
}

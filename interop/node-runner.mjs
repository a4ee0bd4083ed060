// Runs the interop scenarios (scenarios.mjs) with one Node client, as a child of matrix.mjs:
//   node interop/node-runner.mjs nats | transport-node | nats-core-node
// The configuration comes in INTEROP_CFG (JSON: see scenarios.mjs, plus `ids`); one JSON
// line per scenario goes to stdout: {"id", "status", "detail", "ms"}. The harness sets
// NODE_EXTRA_CA_CERTS to the test CA, so wss:// from the `ws` package trusts it too.
import { runOne, makeLib } from './scenarios.mjs';

const name = process.argv[2];
const cfg = JSON.parse(process.env.INTEROP_CFG || 'null');
if (!cfg) throw new Error('INTEROP_CFG missing: run through interop/matrix.mjs');

let mod;
if (name === 'nats') {
  mod = await import('nats');
} else if (name === 'transport-node') {
  mod = await import('@nats-io/transport-node');
} else if (name === 'nats-core-node') {
  if (typeof globalThis.WebSocket === 'undefined') {
    // Node 20 has no global WebSocket; nats-core's wsconnect uses the global one.
    globalThis.WebSocket = (await import('ws')).WebSocket;
  }
  mod = await import('@nats-io/nats-core');
} else {
  throw new Error(`unknown client ${name}`);
}

// nats.js on TCP: TLS is asked for by the tls option (with the test CA), on the nats:// URL.
if (cfg.transport === 'tcp') {
  cfg.urls.tls = cfg.urls.tls.replace(/^tls:/, 'nats:');
  cfg.tls = { caFile: cfg.caFile };
}

const restart = async () => {
  const r = await fetch(`${cfg.control}/restart`, { method: 'POST' });
  if (!r.ok) throw new Error(`restart: HTTP ${r.status}`);
};

const lib = makeLib(name, mod);
for (const id of cfg.ids) {
  const r = await runOne(lib, id, cfg, restart);
  process.stdout.write(`${JSON.stringify({ id, ...r })}\n`);
}
process.exit(0);

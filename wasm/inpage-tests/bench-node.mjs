// Node figures of the in-page server (bench.mjs) beside the native server binary
// (NATSWS_SERVER_BIN or target/*/natsws) over loopback WebSocket; not asserted.
//
//   node wasm/inpage-tests/bench-node.mjs
import { WebSocket } from 'ws';
import * as natsCore from '@nats-io/nats-core';
import { InPageServer, installWebSocket } from '../pkg/node.js';
import { runBench } from './bench.mjs';
import { startNative } from './native.mjs';

if (typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = WebSocket;
installWebSocket();
const native = await startNative(['default']);
try {
  console.log(`node ${process.version} nats-core in-page: ${JSON.stringify(await runBench(natsCore, InPageServer))}`);
  console.log(`node ${process.version} nats-core native ${native.servers.default.bin} over loopback ws: ${JSON.stringify(await runBench(natsCore, InPageServer, native.target.urls.default))}`);
} finally {
  await native.dispose();
}
process.exit(0);

// The NATS protocol spoken directly over the browser's own WebSocket object, to see the
// server's exact bytes: -ERR texts, close codes and the no-responders status message.
import { test, expect, defaultServer, prefix } from '../lib/fixtures.mjs';

/** Page-side: opens a WebSocket, sends `lines` after the INFO, collects text until `until` appears or the socket closes. */
async function rawExchange(page, url, lines, until) {
  return page.evaluate(async ([url, lines, until]) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const td = new TextDecoder();
    let text = '';
    let sent = false;
    return new Promise((resolve) => {
      const done = (close) => resolve({ text, close });
      ws.onmessage = (ev) => {
        text += typeof ev.data === 'string' ? ev.data : td.decode(ev.data);
        if (!sent && text.includes('\r\n')) {
          sent = true;
          for (const l of lines) ws.send(new TextEncoder().encode(l));
        }
        if (until && text.includes(until)) { ws.close(); done(null); }
      };
      ws.onclose = (ev) => done({ code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
    });
  }, [url, lines, until]);
}

/** The server's complete lines after the first INFO, without any later (async) INFO. */
function opsAfterInfo(text) {
  return text.slice(0, text.lastIndexOf('\r\n')).split('\r\n').slice(1).filter((l) => !l.startsWith('INFO '));
}

test('oversized PUB: -ERR \'Maximum Payload Violation\' then close 1009', async ({ clientPage }, testInfo) => {
  const subj = `${prefix(testInfo)}.raw.big`;
  const r = await rawExchange(clientPage, defaultServer.wsUrl, [
    'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":true}\r\n',
    'PING\r\n',
    `PUB ${subj} 1048577\r\n`,
  ], null);
  expect(opsAfterInfo(r.text)).toEqual(['PONG', "-ERR 'Maximum Payload Violation'"]);
  // (wasClean is not asserted: the server closes TCP without waiting for the browser's close reply.)
  expect({ code: r.close.code, reason: r.close.reason }).toEqual({ code: 1009, reason: 'Maximum Message Payload Exceeded' });
});

test('no responders: the reply inbox receives an HMSG with status 503', async ({ clientPage }, testInfo) => {
  const p = prefix(testInfo);
  const inbox = `_INBOX.${p.replace(/\./g, '_')}`;
  const r = await rawExchange(clientPage, defaultServer.wsUrl, [
    'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":true,"no_responders":true}\r\n',
    `SUB ${inbox} 1\r\n`,
    `PUB ${p}.nobody ${inbox} 2\r\nhi\r\n`,
  ], '\r\n\r\n\r\n');
  const hdr = `NATS/1.0 503\r\nNats-Subject: ${p}.nobody\r\n\r\n`;
  const afterInfo = r.text.slice(r.text.indexOf('\r\n') + 2);
  expect(afterInfo).toBe(`HMSG ${inbox} 1 ${hdr.length} ${hdr.length}\r\n${hdr}\r\n`);
});

test('a text frame is accepted like a binary one; PING gets PONG', async ({ clientPage }) => {
  const r = await clientPage.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let text = '';
    return new Promise((resolve) => {
      ws.onmessage = (ev) => {
        text += typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data);
        if (text.split('\r\n').length === 2) ws.send('CONNECT {"verbose":true}\r\nPING\r\n');
        if (text.includes('\r\nPONG\r\n') && ws.readyState === WebSocket.OPEN) ws.close(1000, 'bye');
      };
      ws.onclose = (ev) => resolve({ text, code: ev.code, reason: ev.reason });
    });
  }, defaultServer.wsUrl);
  expect(opsAfterInfo(r.text)).toEqual(['+OK', 'PONG']);
  // The server echoes the client's close status and reason.
  expect({ code: r.code, reason: r.reason }).toEqual({ code: 1000, reason: 'bye' });
});

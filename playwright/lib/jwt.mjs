// Mints NATS v2 JWTs (operator, account, user) in Node for operator-mode fixtures,
// with the nkeys implementation the npm `nats` client ships (no extra dependency).
//
// A JWT is base64url(header) "." base64url(claims) "." base64url(ed25519 signature by the
// issuer's nkey over "header.claims"), no padding; header {"typ":"JWT","alg":"ed25519-nkey"}.
// Claim names follow nats-io/jwt v2: jti, iat, iss, sub, name, nats {type, version: 2, ...};
// user claims add pub/sub {allow, deny}, bearer_token, allowed_connection_types and the
// limits subs/data/payload; account claims carry `limits` (-1 = unlimited).
import crypto from 'node:crypto';
import { nkeys } from 'nats';

const te = new TextEncoder();
const td = new TextDecoder();

function b64url(bytes) {
  return Buffer.from(bytes).toString('base64url');
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32NoPad(bytes) {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * Encodes and signs `nats` claims of `type` for subject `sub`, issued by key pair `issuer`.
 * `jti` is the base32 SHA-512/256 of the other standard claims, as nats-io/jwt computes it.
 */
export function encodeJwt(issuer, { sub, name, type, nats = {} }) {
  const header = { typ: 'JWT', alg: 'ed25519-nkey' };
  const std = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub };
  const jti = base32NoPad(crypto.createHash('sha512-256').update(JSON.stringify(std)).digest());
  const claims = { jti, ...std, nats: { ...nats, type, version: 2 } };
  const signed = `${b64url(te.encode(JSON.stringify(header)))}.${b64url(te.encode(JSON.stringify(claims)))}`;
  return `${signed}.${b64url(issuer.sign(te.encode(signed)))}`;
}

/** Decodes the claims of a JWT without checking its signature (for assertions). */
export function decodeClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** A self-signed operator: { kp, pub, jwt }. */
export function mintOperator(name = 'pw-operator') {
  const kp = nkeys.createOperator();
  const pub = kp.getPublicKey();
  return { kp, pub, jwt: encodeJwt(kp, { sub: pub, name, type: 'operator' }) };
}

/** An account signed by `operator.kp`, without limits: { kp, pub, jwt }. */
export function mintAccount(operator, name = 'pw-account') {
  const kp = nkeys.createAccount();
  const pub = kp.getPublicKey();
  const limits = {
    subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1,
  };
  return { kp, pub, jwt: encodeJwt(operator.kp, { sub: pub, name, type: 'account', nats: { limits } }) };
}

/**
 * A user issued by `account.kp`: { kp, pub, seed (string "SU…"), jwt }.
 * Options: `pub`/`sub` allow lists (undefined = no restriction), `bearer` (bearer_token:
 * the server skips the nonce signature), `types` (allowed_connection_types).
 */
export function mintUser(account, { name = 'pw-user', pub, sub, bearer = false, types } = {}) {
  const kp = nkeys.createUser();
  const upub = kp.getPublicKey();
  const nats = { subs: -1, data: -1, payload: -1 };
  if (pub) nats.pub = { allow: pub };
  if (sub) nats.sub = { allow: sub };
  if (bearer) nats.bearer_token = true;
  if (types) nats.allowed_connection_types = types;
  return { kp, pub: upub, seed: td.decode(kp.getSeed()), jwt: encodeJwt(account.kp, { sub: upub, name, type: 'user', nats }) };
}

/** A user nkey (no JWT), for `authorization { users: [{ nkey: … }] }`: { pub, seed }. */
export function userNkey() {
  const kp = nkeys.createUser();
  return { pub: kp.getPublicKey(), seed: td.decode(kp.getSeed()) };
}

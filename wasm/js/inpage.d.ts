// Types of the natsws-wasm in-page server (inpage.js).

/** nats-server `permissions` (publish/subscribe: a subject, a list, or allow/deny lists). */
export interface InPagePermissions {
  publish?: string | string[] | { allow?: string | string[]; deny?: string | string[] };
  subscribe?: string | string[] | { allow?: string | string[]; deny?: string | string[] };
  /** `true` (1 response within 2 min) or `{ max, expires }` (expires: seconds or "1m"). */
  allow_responses?: boolean | { max?: number; expires?: number | string };
}

/** One `authorization.users` entry. */
export interface InPageUser {
  user: string;
  password?: string;
  permissions?: InPagePermissions;
  /** e.g. ["WEBSOCKET"]: in-page clients authenticate as WEBSOCKET connections. */
  allowed_connection_types?: string[];
}

/** Options: nats-server config keys, in the JSON shape of a config file. Unknown keys throw. */
export interface InPageServerOptions {
  /** Bytes; default 1048576. */
  max_payload?: number;
  /** Bytes; default 4096. */
  max_control_line?: number;
  /** Seconds or a Go duration ("2m", "500ms"); default 2m. */
  ping_interval?: number | string;
  /** Unanswered server PINGs before "Stale Connection"; default 2. */
  ping_max?: number;
  /** true: no headers (HPUB refused, no_responders impossible); default false. */
  no_header_support?: boolean;
  /** Per connection; 0 = unlimited (default). */
  max_subscriptions?: number;
  server_name?: string;
  no_auth_user?: string;
  /** The nats-server `authorization {}` block. */
  authorization?: {
    user?: string;
    password?: string;
    token?: string;
    /** Seconds or a Go duration; default 2 s. */
    timeout?: number | string;
    users?: InPageUser[];
    default_permissions?: InPagePermissions;
  };
}

/** A `/connz` connection entry (nats-server's shape). */
export interface InPageConnInfo {
  cid: number;
  kind: "Client";
  type: "websocket";
  ip: string;
  port: number;
  start: string;
  last_activity?: string;
  stop?: string;
  reason?: string;
  rtt?: string;
  uptime: string;
  idle?: string;
  pending_bytes?: number;
  in_msgs?: number;
  out_msgs?: number;
  in_bytes?: number;
  out_bytes?: number;
  subscriptions?: number;
  name?: string;
  lang?: string;
  version?: string;
  authorized_user?: string;
  account?: string;
  subscriptions_list?: string[];
}

export interface InPageConnz {
  server_id: string;
  now: string;
  num_connections: number;
  total: number;
  offset: number;
  limit: number;
  connections: InPageConnInfo[];
}

/** A `/subsz?subs=1` subscription entry. */
export interface InPageSubInfo {
  account: string;
  subject: string;
  qgroup?: string;
  sid: string;
  msgs: number;
  max?: number;
  cid: number;
}

export interface InPageSubsz {
  server_id: string;
  now: string;
  num_subscriptions: number;
  num_cache: number;
  num_inserts: number;
  num_removes: number;
  num_matches: number;
  cache_hit_rate: number;
  max_fanout: number;
  avg_fanout: number;
  total: number;
  offset: number;
  limit: number;
  subscriptions_list?: InPageSubInfo[];
}

/** Headers for InPageServer#publish: a plain object, a Map, or nats headers (keys()/values(k)). */
export type InPageHeaders =
  | Record<string, string | string[]>
  | Map<string, string | string[]>
  | { keys(): Iterable<string>; values(k: string): string[] };

/** A NATS server inside the page or the Node process (natsws-core compiled to wasm). */
export class InPageServer {
  constructor(options?: InPageServerOptions, where?: { url?: string; seed?: number });
  /** Where InPageWebSocket finds it (host and port count); default ws://natsws-inpage-N:4222. */
  readonly url: string;
  readonly serverId: string;
  readonly closed: boolean;
  /**
   * nats-core 3.x: `wsconnect({ servers: server.url, wsFactory: server.wsFactory })`. The
   * socket is an InPageWebSocket (typed `any` so it fits nats-core's DOM `WebSocket` type
   * whether or not the project compiles with the DOM library).
   */
  readonly wsFactory: (url: string, opts?: unknown) => Promise<{ socket: any; encrypted: boolean }>;
  /** The server clock in ms. */
  now(): number;
  /** Stops the clock: ping/stale/auth timers fire only through advanceTime. */
  freezeTime(): void;
  /** Moves the clock by `ms`, firing the timers due; resolves after the deliveries. */
  advanceTime(ms: number): Promise<void>;
  resumeTime(): void;
  /** Resolves once everything queued so far is handed to the clients. */
  flush(): Promise<void>;
  /** A raw connection (plain NATS protocol bytes). */
  connect(): InPageWebSocket;
  /** Publishes as the server; returns how many subscriptions received it. */
  publish(subject: string, data?: Uint8Array | string, opts?: { reply?: string; headers?: InPageHeaders }): number;
  /** Server close: `-ERR '<err>'` when given, then close frame for `reason` (default "Kicked"). */
  closeClient(cid: number, opts?: { err?: string; reason?: string }): boolean;
  /** Network drop: the client sees error + close 1006, the server "Client Closed". */
  dropClient(cid: number): boolean;
  /** `auth: true` adds `authorized_user` and `account` (nats-server `auth=1`). */
  connz(opts?: { state?: "open" | "closed" | "any"; subs?: boolean; auth?: boolean }): InPageConnz;
  subsz(opts?: { subs?: boolean; test?: string }): InPageSubsz;
  /** Closes every client ("Server Shutdown", 1001) and frees the URL. */
  close(): void;
}

/** WebSocket look-alike routed to the InPageServer registered for its URL. */
export class InPageWebSocket {
  constructor(url: string | URL, protocols?: string | string[]);
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
  readonly url: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly readyState: 0 | 1 | 2 | 3;
  readonly bufferedAmount: number;
  /** The server's connection id, once open. */
  readonly cid: number | undefined;
  binaryType: "arraybuffer" | "blob";
  onopen: ((ev: { type: "open" }) => void) | null;
  onmessage: ((ev: { type: "message"; data: ArrayBuffer | Blob }) => void) | null;
  onclose: ((ev: { type: "close"; code: number; reason: string; wasClean: boolean }) => void) | null;
  onerror: ((ev: { type: "error"; message: string }) => void) | null;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (ev: any) => void): void;
  removeEventListener(type: string, listener: (ev: any) => void): void;
  dispatchEvent(ev: { type: string }): boolean;
}

/** Installs InPageWebSocket as target.WebSocket (default globalThis); returns the undo function. */
export function installWebSocket(target?: object): () => void;

/** The in-page server registered for `url`'s host and port, if any. */
export function inPageServerFor(url: string): InPageServer | undefined;

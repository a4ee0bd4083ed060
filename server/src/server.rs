//! The running server's top floor: binds the listeners, starts the pool of
//! event loops and the monitor, stops them, and runs lame duck mode.
//!
//! Threading (see `../shared/ARCHITECTURE.md`): `threads` event-loop threads,
//! each with its own `mio::Poll` and a slab of connections. Loop 0 also owns
//! the listeners and hands accepted sockets to the loops round-robin. The
//! state they share is in `crate::shared`.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::net::EventLoop;
use crate::settings::Settings;
use crate::shared::{Addrs, LoopHandle, Shared, VERSION};
use crate::sink::{ConnShared, Kill};

/// Lame duck mode (nats-protocol.md §5, nats-server `lameDuckMode`), run on
/// its own thread after SIGUSR2; returns when every client has been closed
/// (the caller then shuts the server down) or at once when `stop` is set
/// (SIGINT meanwhile; the caller shuts down). In order:
/// 1. logs `Entering lame duck mode, stop accepting new clients`; every
///    loop closes its listeners (new connections are refused, `/healthz`
///    fails) and sends an INFO with `"ldm":true` to clients that take
///    asynchronous INFO (protocol 1, after their first PONG);
/// 2. with no clients, returns;
/// 3. waits `lame_duck_grace_period`, logs `Closing existing clients`;
/// 4. closes the clients one at a time (reason Server Shutdown, WebSocket
///    close 1001), spread over `lame_duck_duration` minus the grace period:
///    the interval is that time over the number of clients, at most 1 s,
///    each pause drawn at random from [interval/2, interval), so that the
///    clients do not all reconnect at once.
pub fn lame_duck(shared: &Shared, stop: &AtomicBool) {
    shared.lame_duck.store(true, Ordering::Release);
    crate::info!("Entering lame duck mode, stop accepting new clients");
    crate::system::events::server_event(shared, "LAMEDUCK");
    for l in &shared.loops {
        let _ = l.waker.wake();
    }
    // Wait for every loop to have closed its listeners and sent the INFO.
    {
        let mut acks = shared.ldm_acks.lock().expect("ldm");
        while *acks < shared.loops.len() && !stop.load(Ordering::Acquire) {
            acks = shared.ldm_cv.wait(acks).expect("ldm");
        }
    }
    let clients: Vec<Arc<ConnShared>> = shared
        .conns
        .lock()
        .expect("conns")
        .values()
        .cloned()
        .collect();
    if clients.is_empty() || stop.load(Ordering::Acquire) {
        return;
    }
    let settings = shared.settings();
    let opts = &*settings;
    let pause = |d: Duration| -> bool {
        // Interruptible sleep: false when stopped.
        let until = Instant::now() + d;
        let mut acks = shared.ldm_acks.lock().expect("ldm");
        loop {
            if stop.load(Ordering::Acquire) {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            acks = shared.ldm_cv.wait_timeout(acks, left).expect("ldm").0;
        }
    };
    if !opts.lame_duck_grace_period.is_zero() {
        if !pause(opts.lame_duck_grace_period) {
            return;
        }
        crate::info!("Closing existing clients");
    }
    let spread = opts
        .lame_duck_duration
        .saturating_sub(opts.lame_duck_grace_period)
        .max(Duration::from_secs(1));
    let interval =
        (spread / clients.len() as u32).clamp(Duration::from_micros(1), Duration::from_secs(1));
    for (i, c) in clients.iter().enumerate() {
        shared.kill(c, Kill::Shutdown);
        if i + 1 == clients.len() {
            break;
        }
        let nanos = interval.as_nanos() as u64;
        let jitter = Duration::from_nanos(fastrand::u64(nanos / 2..nanos.max(nanos / 2 + 1)));
        if !pause(jitter) {
            return;
        }
    }
}

/// Wakes [`lame_duck`] out of its waits (after setting its `stop`).
pub fn stop_lame_duck(shared: &Shared) {
    let _acks = shared.ldm_acks.lock().expect("ldm");
    shared.ldm_cv.notify_all();
}

/// A started server: its addresses, and a handle to stop it.
pub struct Running {
    /// Shared state (addresses, counters).
    pub shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Asks every loop to close its connections (WebSocket: close frame 1001)
    /// and exit, then waits for them.
    pub fn shutdown(self) {
        // Before any client is closed, so that system subscribers get it.
        crate::system::events::server_event(&self.shared, "SHUTDOWN");
        self.shared.sys.stop();
        self.shared.shutdown.store(true, Ordering::Release);
        for l in &self.shared.loops {
            let _ = l.waker.wake();
        }
        for t in self.threads {
            let _ = t.join();
        }
        self.shared.mqtt.stop_committer();
    }

    /// Waits until the loops exit (after a shutdown started elsewhere).
    pub fn wait(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn bind(addr: SocketAddr, what: &str) -> std::io::Result<StdListener> {
    StdListener::bind(addr).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("error listening on {what} port {addr}: {e}"),
        )
    })
}

/// Generates a server id: an `N…` public nkey, new each start (spec §1.5).
fn server_id() -> String {
    nkeys::KeyPair::new_server().public_key()
}

/// Binds the listeners and starts the loops. Returns once the server is
/// ready (`Server is ready` logged).
pub fn start(settings: Settings) -> std::io::Result<Running> {
    start_with(settings, |_| {})
}

/// [`start`], calling `setup` with the server's shared state before any
/// listener serves (what must hold from the first request on, such as
/// [`crate::reload::install`]: `/varz` and a SIGHUP right after `Server is
/// ready` see the config file).
pub fn start_with(
    settings: Settings,
    setup: impl FnOnce(&Arc<Shared>),
) -> std::io::Result<Running> {
    let client = bind(settings.client_addr, "client")?;
    client.set_nonblocking(true)?;
    let ws = match &settings.websocket {
        Some(w) => {
            let l = bind(w.addr, "websocket")?;
            l.set_nonblocking(true)?;
            Some(l)
        }
        None => None,
    };
    let mqtt = match &settings.mqtt {
        Some(m) => {
            let l = bind(m.addr, "mqtt")?;
            l.set_nonblocking(true)?;
            Some(l)
        }
        None => None,
    };
    let http = match settings.http_addr {
        Some(a) => Some(bind(a, "monitoring")?),
        None => None,
    };
    let threads = settings.threads.max(1);
    let mut polls = Vec::with_capacity(threads);
    let mut loops = Vec::with_capacity(threads);
    for _ in 0..threads {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), crate::net::WAKER)?;
        polls.push(poll);
        loops.push(LoopHandle {
            waker,
            inbox: Mutex::new(Vec::new()),
            accepted: Mutex::new(Vec::new()),
            solicited: Mutex::new(Vec::new()),
        });
    }
    let id = server_id();
    let name = settings.server_name.clone().unwrap_or_else(|| id.clone());
    let shared = Arc::new(Shared::new(
        settings,
        loops,
        Addrs {
            client: client.local_addr()?,
            ws: ws.as_ref().map(|l| l.local_addr()).transpose()?,
            http: http.as_ref().map(|l| l.local_addr()).transpose()?,
            mqtt: mqtt.as_ref().map(|l| l.local_addr()).transpose()?,
        },
        id,
        name,
    ));
    setup(&shared);
    crate::session::mqtt_store::open(&shared)?;
    crate::imports::install_settings(&shared.accounts, &shared.settings());

    crate::system::requests::register(&shared);
    crate::system::requests::spawn_heartbeat(&shared)?;
    crate::info!("Starting natsws");
    crate::info!("  Version:  {VERSION}");
    crate::info!("  Name:     {}", shared.server_name);
    crate::info!("  ID:       {}", shared.server_id);
    if let Some(h) = http {
        let scheme = if shared.settings().https_tls.is_some() {
            "https"
        } else {
            "http"
        };
        crate::info!(
            "Starting {scheme} monitor on {}",
            shared.http_addr.expect("bound")
        );
        crate::monitor::spawn(h, shared.clone())?;
    }
    if let (Some(a), Some(w)) = (shared.ws_addr, &shared.settings().websocket) {
        if w.tls.is_some() {
            crate::info!("Listening for websocket clients on wss://{a}");
        } else {
            crate::info!("Listening for websocket clients on ws://{a}");
            crate::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
        }
    }
    if let Some(a) = shared.mqtt_addr {
        let tls = shared
            .settings()
            .mqtt
            .as_ref()
            .is_some_and(|m| m.tls.is_some());
        let scheme = if tls { "tls" } else { "mqtt" };
        crate::info!("Listening for MQTT clients on {scheme}://{a}");
    }
    crate::info!("Listening for client connections on {}", shared.client_addr);
    crate::net::bind_leaf_listener(&shared)?;
    if shared.settings().proxy_protocol {
        crate::info!("PROXY protocol enabled for client connections");
    }
    if shared.settings().tls.is_some() {
        crate::info!("TLS required for client connections");
    }

    let mut handles = Vec::new();
    let mut listeners = Some((client, ws, mqtt));
    for (idx, poll) in polls.into_iter().enumerate() {
        let shared = shared.clone();
        let l = if idx == 0 { listeners.take() } else { None };
        let event_loop = EventLoop::new(idx, poll, shared, l)?;
        handles.push(
            std::thread::Builder::new()
                .name(format!("natsws-loop-{idx}"))
                .spawn(move || {
                    // A bug must not leave the server running without this
                    // loop's connections: fail fast, as nats-server does.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| event_loop.run()))
                        .is_err()
                    {
                        crate::log::log(
                            crate::log::Level::Fatal,
                            format_args!("event loop {idx} panicked; exiting"),
                        );
                        std::process::exit(2);
                    }
                })?,
        );
    }
    crate::info!("Server is ready");
    // The leafnode dialers start after `Server is ready`, so their first
    // log lines (a failed dial, the link created) always follow it.
    crate::net::start_remotes(&shared);
    Ok(Running {
        shared,
        threads: handles,
    })
}

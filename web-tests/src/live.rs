//! A browser `WebSocket` as an async byte-message stream, and a NATS client
//! connection on top of it that uses core's decoder and encoders.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use js_sys::{ArrayBuffer, Uint8Array};
use natsws_core::proto::{self, Limits, ServerDecoder, ServerOp};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

/// What the event handlers collected and not yet taken.
#[derive(Default)]
struct Inbox {
    open: bool,
    messages: VecDeque<Vec<u8>>,
    closed: Option<Closed>,
    waker: Option<Waker>,
}

impl Inbox {
    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// How the WebSocket ended: the close event's code and reason (1006 and an
/// empty reason when it failed without a close frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close status (RFC 6455 §7.4).
    pub code: u16,
    /// The close reason.
    pub reason: String,
}

/// Why [`NatsConn::next_op`] returned no op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextError {
    /// The WebSocket closed.
    Closed(Closed),
    /// The server's bytes were not valid NATS (core's decoder error).
    Proto(proto::Error),
}

impl fmt::Display for NextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextError::Closed(c) => write!(f, "websocket closed: {} {:?}", c.code, c.reason),
            NextError::Proto(e) => write!(f, "nats decode error: {e}"),
        }
    }
}

/// A browser `WebSocket` (binary type `arraybuffer`) whose messages are
/// read with `recv().await`. Closes the socket when dropped.
pub struct WsConn {
    ws: WebSocket,
    inbox: Rc<RefCell<Inbox>>,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl WsConn {
    /// Opens `url` and waits for the `open` event.
    ///
    /// # Errors
    /// The constructor's exception text, or [`Closed`] if the socket closed
    /// before opening (e.g. a refused handshake).
    pub async fn open(url: &str) -> Result<WsConn, String> {
        let ws = WebSocket::new(url).map_err(|e| format!("new WebSocket({url}): {e:?}"))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let inbox = Rc::new(RefCell::new(Inbox::default()));

        let i = Rc::clone(&inbox);
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            let mut b = i.borrow_mut();
            b.open = true;
            b.wake();
        });
        let i = Rc::clone(&inbox);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let data = ev.data();
            let bytes = if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
                Uint8Array::new(buf).to_vec()
            } else {
                // A text frame (natsws sends binary; kept for completeness).
                data.as_string().unwrap_or_default().into_bytes()
            };
            let mut b = i.borrow_mut();
            b.messages.push_back(bytes);
            b.wake();
        });
        let i = Rc::clone(&inbox);
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |ev: CloseEvent| {
            let mut b = i.borrow_mut();
            b.closed = Some(Closed {
                code: ev.code(),
                reason: ev.reason(),
            });
            b.wake();
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));

        let conn = WsConn {
            ws,
            inbox,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        };
        poll_fn(|cx| {
            let mut b = conn.inbox.borrow_mut();
            if b.open {
                return Poll::Ready(Ok(()));
            }
            if let Some(c) = &b.closed {
                return Poll::Ready(Err(format!("{url} closed before opening: {c:?}")));
            }
            b.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await?;
        Ok(conn)
    }

    /// Sends `bytes` as one binary message.
    ///
    /// # Errors
    /// The exception text if the socket is not open.
    pub fn send(&self, bytes: &[u8]) -> Result<(), String> {
        self.ws
            .send_with_u8_array(bytes)
            .map_err(|e| format!("send: {e:?}"))
    }

    /// The next binary message, in order.
    ///
    /// # Errors
    /// [`Closed`] once the socket has closed and every message before the
    /// close was taken.
    pub async fn recv(&self) -> Result<Vec<u8>, Closed> {
        poll_fn(|cx| {
            let mut b = self.inbox.borrow_mut();
            if let Some(m) = b.messages.pop_front() {
                return Poll::Ready(Ok(m));
            }
            if let Some(c) = &b.closed {
                return Poll::Ready(Err(c.clone()));
            }
            b.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

impl Drop for WsConn {
    fn drop(&mut self) {
        // Detach the handlers before their closures are freed.
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// One server op, owned (core's [`ServerOp`] borrows from the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `INFO`: the raw JSON.
    Info(Vec<u8>),
    /// `MSG` (`headers: None`) or `HMSG`.
    Msg {
        /// Subject.
        subject: String,
        /// Subscription id.
        sid: String,
        /// Reply subject.
        reply: Option<String>,
        /// The header block of an HMSG.
        headers: Option<Vec<u8>>,
        /// Payload.
        payload: Vec<u8>,
    },
    /// `+OK`.
    Ok,
    /// `-ERR`: the raw text, quotes included.
    Err(String),
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl From<ServerOp<'_>> for Op {
    fn from(op: ServerOp<'_>) -> Op {
        match op {
            ServerOp::Info(j) => Op::Info(j.to_vec()),
            ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
            } => Op::Msg {
                subject: text(subject),
                sid: text(sid),
                reply: reply.map(text),
                headers: None,
                payload: payload.to_vec(),
            },
            ServerOp::Hmsg {
                subject,
                sid,
                reply,
                headers,
                payload,
            } => Op::Msg {
                subject: text(subject),
                sid: text(sid),
                reply: reply.map(text),
                headers: Some(headers.to_vec()),
                payload: payload.to_vec(),
            },
            ServerOp::Ok => Op::Ok,
            ServerOp::Err(t) => Op::Err(text(t)),
            ServerOp::Ping => Op::Ping,
            ServerOp::Pong => Op::Pong,
        }
    }
}

/// A NATS client connection over a browser WebSocket: the WebSocket
/// messages' payloads are one byte stream (spec `websocket.md` §4.1) fed to
/// core's [`ServerDecoder`]; ops that span messages are reassembled.
pub struct NatsConn {
    ws: WsConn,
    dec: ServerDecoder,
    buf: Vec<u8>,
}

impl NatsConn {
    /// Opens a WebSocket to `url` (no NATS bytes exchanged yet).
    ///
    /// # Errors
    /// As [`WsConn::open`].
    pub async fn open(url: &str) -> Result<NatsConn, String> {
        Ok(NatsConn {
            ws: WsConn::open(url).await?,
            dec: ServerDecoder::new(Limits::default()),
            buf: Vec::new(),
        })
    }

    /// Sends NATS bytes (any number of encoded ops) as one message.
    ///
    /// # Errors
    /// As [`WsConn::send`].
    pub fn send(&self, bytes: &[u8]) -> Result<(), String> {
        self.ws.send(bytes)
    }

    /// The next op from the server.
    ///
    /// # Errors
    /// [`NextError::Closed`] when the socket closed with no complete op
    /// left; [`NextError::Proto`] for bytes core cannot decode.
    pub async fn next_op(&mut self) -> Result<Op, NextError> {
        loop {
            match self.dec.decode(&self.buf) {
                Ok(Some((op, used))) => {
                    let op = Op::from(op);
                    self.buf.drain(..used);
                    return Ok(op);
                }
                Ok(None) => {}
                Err(e) => return Err(NextError::Proto(e)),
            }
            let more = self.ws.recv().await.map_err(NextError::Closed)?;
            self.buf.extend_from_slice(&more);
        }
    }
}

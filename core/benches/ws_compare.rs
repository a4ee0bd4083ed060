//! natsws-core's WebSocket frame codec side by side with tungstenite's and
//! fastwebsockets' on the same inputs, in one criterion run.
//! Run: `cargo bench -p natsws-core --bench ws_compare` (add `-- --quick`
//! for criterion's quick mode).
//!
//! Groups (throughput is counted in payload + header bytes of the batch for
//! `decode`, payload bytes for `encode` and `unmask`):
//!
//! - `unmask/{128,4096,65536}`: XOR of a buffer with a 4-byte key, in place.
//!   - `natsws`: `natsws_core::ws::mask::apply_mask` (safe code, 8-byte
//!     words, the compiler vectorises).
//!   - `fastwebsockets`: `fastwebsockets::unmask` (unsafe `align_to_mut`,
//!     `u32` words). tungstenite's `apply_mask` is private; its source is
//!     the same algorithm (fastwebsockets' copy of tungstenite's
//!     `apply_mask_fast32`), so this row stands for both.
//!
//! - `decode/{128,4096,65536}`: a 256 KiB buffer of back-to-back masked
//!   (client→server) binary FIN frames of that payload size is decoded in
//!   the server role; every payload is unmasked and its length summed. The
//!   decoder object is created once and reused across iterations (each
//!   iteration ends on a frame boundary). No side validates UTF-8 (binary
//!   frames: natsws has `validate_utf8` off, as nats-server; tungstenite and
//!   fastwebsockets only validate text). No side allocates per frame except
//!   as noted.
//!   Every library reads the frames from the same in-memory stream
//!   (`Mem`), which copies them into the library's read buffer: the stand-in
//!   for the kernel's copy out of the socket, one memcpy of the batch that
//!   every row pays.
//!   - `natsws`: reads the stream in 64 KiB pieces into one read buffer, as
//!     `server/src/worker.rs` reads its socket, and runs
//!     `Decoder::decode_into` (the server's read path) over each piece: the
//!     read buffer stays untouched and every payload is unmasked while it is
//!     appended to one output buffer (cleared, capacity kept). Frames cross
//!     the 64 KiB pieces; the decoder resumes across them.
//!   - `natsws-inplace`: the same reads, then `Decoder::decode` over the
//!     read buffer, unmasking in place and borrowing the payload (no second
//!     copy; what tungstenite and fastwebsockets do).
//!   - `tungstenite`: `WebSocket::read` (role server, default config) over an
//!     in-memory `std::io::Read` stream: copies stream → its `BytesMut` read
//!     buffer (which it zero-fills before each read), parses the header,
//!     `split_to` + `freeze` the payload (refcounted, no copy), unmasks it,
//!     returns `Message::Binary(Bytes)`.
//!   - `fastwebsockets`: `WebSocket::read_frame` (role server, defaults:
//!     auto close/pong, unmask on) over an in-memory `tokio::io::AsyncRead`
//!     stream, driven by one `block_on` per iteration on a tokio
//!     current-thread runtime (the stream never returns Pending): copies
//!     stream → its `BytesMut`, parses, `split_to` the payload, unmasks.
//!
//! - `encode/{128,4096,65536}`: 256 KiB worth of messages of that size are
//!   framed as unmasked (server→client) binary FIN frames, appended to one
//!   output buffer that is cleared (capacity kept) each iteration. natsws
//!   and the two `-frame` rows copy from the same payload buffer into the
//!   same output buffer (memcpy speed depends on the addresses).
//!   - `natsws`: `codec::frame_batch(payload, out, Framing::SINGLE, None)`
//!     per message (the server's path): header + one copy of the payload
//!     into `out`.
//!   - `tungstenite-frame`: `Frame::message(bytes.clone(), Binary, true)
//!     .format(&mut out)`: a refcount increment for the `Bytes`, header
//!     written with two `write_all`s, one copy of the payload into `out`.
//!   - `tungstenite-ws`: `WebSocket::write(Message::Binary(bytes.clone()))`
//!     per message, `flush` at the end, over an in-memory `std::io::Write`:
//!     frames into its own write buffer (copy 1), which it hands to the
//!     stream when above 128 KiB (copy 2) — its real send path.
//!   - `fastwebsockets-frame`: `Frame::binary(Payload::Borrowed(p))`,
//!     `fmt_head` into a stack array, then header + one copy of the payload
//!     into `out` (no allocation).
//!   - `fastwebsockets-ws`: `WebSocket::write_frame(Frame::binary(Borrowed))`
//!     per message over an in-memory `AsyncWrite` on the current-thread
//!     runtime, defaults (vectored writes above 1024 B: header and payload
//!     go straight to the stream, one copy; at or below 1024 B it formats
//!     into its write buffer, copy 1, then `write_all`s it, copy 2).
//!
//! - `send/{128,4096,65536}`: the same messages framed as server frames and
//!   handed to a socket stand-in (`Mem::sink`: the in-memory stream in a
//!   mode that takes plain and vectored writes and only counts the bytes;
//!   the kernel's copy into the socket is the same for every library and is
//!   left out). This is the encode that matters for a
//!   server: with vectored writes the payload is never copied in user space.
//!   - `natsws`: as `server/src/worker.rs` sends: below 2 KiB the frame is
//!     built in a write buffer (header + copy) and written; from 2 KiB on
//!     only the header is encoded (`FrameHeader::encode`) and header +
//!     payload go out in one `write_vectored`.
//!   - `tungstenite-ws`: `WebSocket::write` + `flush` (it has no vectored
//!     path: frames are copied into its write buffer, then written).
//!   - `fastwebsockets-ws`: `WebSocket::write_frame`, defaults (vectored
//!     above 1024 B, else copied into its write buffer and written).
#![allow(missing_docs)]

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use criterion::{black_box, Criterion, Throughput};
use natsws_core::ws::codec::{frame_batch, write_frame, Framing};
use natsws_core::ws::frame::FrameHeader;
use natsws_core::ws::mask::apply_mask;
use natsws_core::ws::{Decoder, DecoderConfig, Event, OpCode};
use tokio::io::ReadBuf;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const SIZES: [usize; 3] = [128, 4096, 65536];
const BATCH: usize = 256 * 1024;
/// The server's read buffer (`server/src/worker.rs` `READ_BUF`): natsws
/// reads the stream in pieces of this size, as the server reads its socket.
const READ_BUF: usize = 64 * 1024;

/// In-memory duplex stream: reads from `input` (position `pos`), appends
/// writes to `output`. Never blocks. Shared through `Rc<RefCell>` so the
/// bench can rewind it while a WebSocket owns it (fastwebsockets has no
/// `get_mut`); tungstenite gets the same type, so both pay the same
/// borrow check per read/write call.
struct MemInner {
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
    /// Socket stand-in for the `send` group: writes are counted in
    /// `discarded`, not copied (the kernel's copy into a socket is the same
    /// for every library and is left out).
    discard: bool,
    discarded: usize,
}

impl MemInner {
    fn put(&mut self, b: &[u8]) {
        if self.discard {
            self.discarded += black_box(b).len();
        } else {
            self.output.extend_from_slice(b);
        }
    }
}

#[derive(Clone)]
struct Mem(Rc<RefCell<MemInner>>);

impl Mem {
    fn new(input: Vec<u8>) -> Self {
        Mem(Rc::new(RefCell::new(MemInner {
            input,
            pos: 0,
            output: Vec::with_capacity(BATCH + 64 * 1024),
            discard: false,
            discarded: 0,
        })))
    }
    /// A write-only stand-in that counts bytes (see `MemInner::discard`).
    fn sink() -> Self {
        let m = Mem::new(Vec::new());
        m.0.borrow_mut().discard = true;
        m
    }
    /// Bytes counted by a [`sink`](Self::sink) since the last call.
    fn take_discarded(&self) -> usize {
        std::mem::take(&mut self.0.borrow_mut().discarded)
    }
    fn rewind(&self) {
        let mut m = self.0.borrow_mut();
        m.pos = 0;
        m.output.clear();
    }
    fn output_len(&self) -> usize {
        self.0.borrow().output.len()
    }
}

impl io::Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut m = self.0.borrow_mut();
        let m = &mut *m;
        let n = buf.len().min(m.input.len() - m.pos);
        buf[..n].copy_from_slice(&m.input[m.pos..m.pos + n]);
        m.pos += n;
        Ok(n)
    }
}

impl io::Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().put(buf);
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut m = self.0.borrow_mut();
        bufs.iter().for_each(|b| m.put(b));
        Ok(bufs.iter().map(|b| b.len()).sum())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Mem {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut m = self.0.borrow_mut();
        let m = &mut *m;
        let n = buf.remaining().min(m.input.len() - m.pos);
        buf.put_slice(&m.input[m.pos..m.pos + n]);
        m.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Mem {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(io::Write::write(self.get_mut(), buf))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(io::Write::write_vectored(self.get_mut(), bufs))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn runtime() -> Rc<tokio::runtime::Runtime> {
    Rc::new(
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
    )
}

fn payload(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| b"MSG foo.bar 1 5\r\nhello\r\n"[i % 24])
        .collect()
}

/// One benchmark: `group/name`, bytes per iteration, the iteration.
struct Case {
    group: &'static str,
    name: String,
    bytes: u64,
    run: Box<dyn FnMut()>,
}

fn case(group: &'static str, name: String, bytes: usize, run: impl FnMut() + 'static) -> Case {
    Case {
        group,
        name,
        bytes: bytes as u64,
        run: Box::new(run),
    }
}

fn unmask_cases(v: &mut Vec<Case>) {
    for size in SIZES {
        let mut buf = payload(size);
        v.push(case("unmask", format!("natsws/{size}"), size, move || {
            apply_mask(black_box(&mut buf), KEY, 0);
        }));
        let mut buf = payload(size);
        v.push(case(
            "unmask",
            format!("fastwebsockets/{size}"),
            size,
            move || fastwebsockets::unmask(black_box(&mut buf), KEY),
        ));
    }
}

/// Back-to-back masked binary FIN frames of `size`-byte payloads, about
/// [`BATCH`] bytes of payload in all. Returns (bytes, frame count).
fn masked_batch(size: usize) -> (Vec<u8>, usize) {
    let p = payload(size);
    let frames = (BATCH / size).max(1);
    let mut out = Vec::new();
    for _ in 0..frames {
        write_frame(&mut out, OpCode::BINARY, true, false, &p, Some(KEY)).unwrap();
    }
    (out, frames)
}

/// Rewinds `mem` and reads all of it through `rbuf` (as the server reads
/// its socket), handing each piece read to `f`.
fn read_pieces(mem: &mut Mem, rbuf: &mut [u8], mut f: impl FnMut(&mut [u8])) {
    mem.rewind();
    loop {
        let n = io::Read::read(mem, rbuf).unwrap();
        if n == 0 {
            break;
        }
        f(&mut rbuf[..n]);
    }
}

fn decode_cases(v: &mut Vec<Case>) {
    let rt = runtime();
    for size in SIZES {
        let (pristine, frames) = masked_batch(size);
        let want = frames * size;
        let bytes = pristine.len();

        let mut dec = Decoder::new(DecoderConfig::server());
        let mut mem = Mem::new(pristine.clone());
        let mut rbuf = vec![0u8; READ_BUF];
        let mut out: Vec<u8> = Vec::with_capacity(want);
        v.push(case("decode", format!("natsws/{size}"), bytes, move || {
            out.clear();
            let mut total = 0usize;
            read_pieces(&mut mem, &mut rbuf, |piece| {
                let mut pos = 0;
                while pos < piece.len() {
                    let (k, ev) = dec.decode_into(&piece[pos..], &mut out).unwrap();
                    if let Some(Event::Data { payload, .. }) = ev {
                        total += payload.len();
                    }
                    pos += k;
                }
            });
            assert_eq!(total, want);
            black_box(&out);
        }));

        let mut dec = Decoder::new(DecoderConfig::server());
        let mut mem = Mem::new(pristine.clone());
        let mut rbuf = vec![0u8; READ_BUF];
        v.push(case(
            "decode",
            format!("natsws-inplace/{size}"),
            bytes,
            move || {
                let mut total = 0usize;
                read_pieces(&mut mem, &mut rbuf, |piece| {
                    let mut pos = 0;
                    while pos < piece.len() {
                        let (k, ev) = dec.decode(&mut piece[pos..]).unwrap();
                        if let Some(Event::Data { payload, .. }) = ev {
                            total += black_box(payload).len();
                        }
                        pos += k;
                    }
                });
                assert_eq!(total, want);
                black_box(total);
            },
        ));

        // The floor: the same reads, then one in-place unmask of each whole
        // payload with the header positions known in advance (no parsing,
        // no state): what no decoder that copies out of a stream and then
        // unmasks can beat.
        let mut mem = Mem::new(pristine.clone());
        let mut rbuf = vec![0u8; pristine.len()];
        let head = pristine.len() / frames - size;
        v.push(case(
            "decode",
            format!("floor-read+unmask/{size}"),
            bytes,
            move || {
                mem.rewind();
                let mut got = 0;
                loop {
                    let n = io::Read::read(&mut mem, &mut rbuf[got..(got + READ_BUF).min(bytes)])
                        .unwrap();
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
                for f in rbuf.chunks_exact_mut(head + size) {
                    apply_mask(&mut f[head..], KEY, 0);
                }
                black_box(&rbuf);
            },
        ));

        let mem = Mem::new(pristine.clone());
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            mem.clone(),
            tungstenite::protocol::Role::Server,
            None,
        );
        v.push(case(
            "decode",
            format!("tungstenite/{size}"),
            bytes,
            move || {
                mem.rewind();
                let mut total = 0usize;
                for _ in 0..frames {
                    match ws.read().unwrap() {
                        tungstenite::Message::Binary(p) => total += p.len(),
                        m => panic!("unexpected {m:?}"),
                    }
                }
                assert_eq!(total, want);
                black_box(total);
            },
        ));

        let mem = Mem::new(pristine);
        let mut fws =
            fastwebsockets::WebSocket::after_handshake(mem.clone(), fastwebsockets::Role::Server);
        let rt = rt.clone();
        v.push(case(
            "decode",
            format!("fastwebsockets/{size}"),
            bytes,
            move || {
                rt.block_on(async {
                    mem.rewind();
                    let mut total = 0usize;
                    for _ in 0..frames {
                        let f = fws.read_frame().await.unwrap();
                        assert_eq!(f.opcode, fastwebsockets::OpCode::Binary);
                        total += f.payload.len();
                    }
                    assert_eq!(total, want);
                    black_box(total);
                })
            },
        ));
    }
}

fn encode_cases(v: &mut Vec<Case>) {
    let rt = runtime();
    for size in SIZES {
        let p = payload(size);
        let frames = (BATCH / size).max(1);
        let bytes = frames * size;
        let cap = BATCH + 64 * 1024;

        // The `-frame` rows and natsws copy the same payload buffer into the
        // same output buffer, so every library's memcpy sees the same
        // addresses (source/destination alignment and 4 KiB aliasing move
        // memcpy speed by up to 30% between allocations).
        let shared = tungstenite::Bytes::from(p.clone());
        let shared_out = Rc::new(RefCell::new(Vec::<u8>::with_capacity(cap)));

        let (out, pl) = (shared_out.clone(), shared.clone());
        v.push(case("encode", format!("natsws/{size}"), bytes, move || {
            let out = &mut *out.borrow_mut();
            out.clear();
            for _ in 0..frames {
                frame_batch(black_box(&pl[..]), out, Framing::SINGLE, None);
            }
            black_box(out.len());
        }));

        // The floor: the payload copies alone, no headers.
        let (out, pl) = (shared_out.clone(), shared.clone());
        v.push(case(
            "encode",
            format!("floor-memcpy/{size}"),
            bytes,
            move || {
                let out = &mut *out.borrow_mut();
                out.clear();
                for _ in 0..frames {
                    out.extend_from_slice(black_box(&pl[..]));
                }
                black_box(out.len());
            },
        ));

        let (out, b) = (shared_out.clone(), shared.clone());
        v.push(case(
            "encode",
            format!("tungstenite-frame/{size}"),
            bytes,
            move || {
                use tungstenite::protocol::frame::coding::{Data, OpCode as TOp};
                use tungstenite::protocol::frame::Frame;
                let out = &mut *out.borrow_mut();
                out.clear();
                for _ in 0..frames {
                    Frame::message(black_box(&b).clone(), TOp::Data(Data::Binary), true)
                        .format(out)
                        .unwrap();
                }
                black_box(out.len());
            },
        ));

        let b = tungstenite::Bytes::from(p.clone());
        let mem = Mem::new(Vec::new());
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            mem.clone(),
            tungstenite::protocol::Role::Server,
            None,
        );
        v.push(case(
            "encode",
            format!("tungstenite-ws/{size}"),
            bytes,
            move || {
                mem.rewind();
                for _ in 0..frames {
                    ws.write(tungstenite::Message::Binary(black_box(&b).clone()))
                        .unwrap();
                }
                ws.flush().unwrap();
                black_box(mem.output_len());
            },
        ));

        let (out, pl) = (shared_out, shared);
        v.push(case(
            "encode",
            format!("fastwebsockets-frame/{size}"),
            bytes,
            move || {
                use fastwebsockets::{Frame, Payload};
                let out = &mut *out.borrow_mut();
                out.clear();
                for _ in 0..frames {
                    let mut f = Frame::binary(Payload::Borrowed(black_box(&pl[..])));
                    let mut head = [0u8; 16];
                    let n = f.fmt_head(&mut head);
                    out.extend_from_slice(&head[..n]);
                    out.extend_from_slice(&f.payload);
                }
                black_box(out.len());
            },
        ));

        let mem = Mem::new(Vec::new());
        let mut fws =
            fastwebsockets::WebSocket::after_handshake(mem.clone(), fastwebsockets::Role::Server);
        let rt = rt.clone();
        v.push(case(
            "encode",
            format!("fastwebsockets-ws/{size}"),
            bytes,
            move || {
                use fastwebsockets::{Frame, Payload};
                rt.block_on(async {
                    mem.rewind();
                    for _ in 0..frames {
                        fws.write_frame(Frame::binary(Payload::Borrowed(black_box(&p))))
                            .await
                            .unwrap();
                    }
                    black_box(mem.output_len());
                })
            },
        ));
    }
}

/// Server frames sent to a socket (see the module docs, `send`).
fn send_cases(v: &mut Vec<Case>) {
    let rt = runtime();
    for size in SIZES {
        let p = payload(size);
        let frames = (BATCH / size).max(1);
        let bytes = frames * size;

        // natsws as the server sends: below 2 KiB the frame is built in
        // the connection's write buffer (header + copy) and written; from
        // 2 KiB on, the header alone is encoded and header + payload go out
        // in one vectored write.
        let (mut sink, pl) = (Mem::sink(), p.clone());
        let mut wbuf = Vec::with_capacity(BATCH + 64 * 1024);
        v.push(case("send", format!("natsws/{size}"), bytes, move || {
            use std::io::Write as _;
            for _ in 0..frames {
                let pl = black_box(&pl);
                if pl.len() >= 2048 {
                    let mut h = [0u8; natsws_core::ws::MAX_FRAME_HEADER];
                    let n = FrameHeader {
                        fin: true,
                        rsv1: false,
                        opcode: OpCode::BINARY,
                        len: pl.len() as u64,
                        mask: None,
                    }
                    .encode(&mut h);
                    let sent = sink
                        .write_vectored(&[io::IoSlice::new(&h[..n]), io::IoSlice::new(pl)])
                        .unwrap();
                    assert_eq!(sent, n + pl.len());
                } else {
                    wbuf.clear();
                    frame_batch(pl, &mut wbuf, Framing::SINGLE, None);
                    sink.write_all(&wbuf).unwrap();
                }
            }
            assert!(sink.take_discarded() > bytes);
        }));

        let b = tungstenite::Bytes::from(p.clone());
        let sink = Mem::sink();
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            sink.clone(),
            tungstenite::protocol::Role::Server,
            None,
        );
        v.push(case(
            "send",
            format!("tungstenite-ws/{size}"),
            bytes,
            move || {
                for _ in 0..frames {
                    ws.write(tungstenite::Message::Binary(black_box(&b).clone()))
                        .unwrap();
                }
                ws.flush().unwrap();
                assert!(sink.take_discarded() > bytes);
            },
        ));

        let sink = Mem::sink();
        let mut fws =
            fastwebsockets::WebSocket::after_handshake(sink.clone(), fastwebsockets::Role::Server);
        let rt = rt.clone();
        v.push(case(
            "send",
            format!("fastwebsockets-ws/{size}"),
            bytes,
            move || {
                use fastwebsockets::{Frame, Payload};
                rt.block_on(async {
                    for _ in 0..frames {
                        fws.write_frame(Frame::binary(Payload::Borrowed(black_box(&p))))
                            .await
                            .unwrap();
                    }
                });
                assert!(sink.take_discarded() > bytes);
            },
        ));
    }
}

fn all_cases() -> Vec<Case> {
    let mut v = Vec::new();
    unmask_cases(&mut v);
    decode_cases(&mut v);
    encode_cases(&mut v);
    send_cases(&mut v);
    v
}

fn benches(c: &mut Criterion) {
    let mut cases = all_cases();
    for group in ["unmask", "decode", "encode", "send"] {
        let mut g = c.benchmark_group(group);
        for cs in cases.iter_mut().filter(|c| c.group == group) {
            g.throughput(Throughput::Bytes(cs.bytes));
            let run = &mut cs.run;
            g.bench_function(&cs.name, |b| b.iter(&mut *run));
        }
        g.finish();
    }
}

/// Instruction-count mode for a loaded machine (wall-clock numbers are
/// noise there): `WS_COMPARE_ITERS=n <bench binary> group/name` runs that
/// one case `n` times without criterion; under
/// `valgrind --tool=callgrind`, (Ir(n) − Ir(0)) / n is the cost of one
/// iteration.
fn count_mode(n: usize, filter: &str) {
    for mut cs in all_cases() {
        if format!("{}/{}", cs.group, cs.name) == filter {
            for _ in 0..n {
                (cs.run)();
            }
            return;
        }
    }
    panic!("no case {filter}");
}

/// Min-time mode: `WS_COMPARE_MIN=n <bench binary>` times every case in
/// `n` samples and prints the fastest per iteration (on a loaded machine
/// preemption only ever adds time, so the minimum is the stable figure). A
/// sample runs the case enough times back to back to last at least 20 µs,
/// so cases much shorter than that are not timed at the clock's
/// resolution.
fn min_mode(n: usize) {
    for mut cs in all_cases() {
        let t = std::time::Instant::now();
        (cs.run)();
        let once = t.elapsed().as_nanos().max(1);
        let reps = (20_000 / once + 1) as u32;
        let mut best = std::time::Duration::MAX;
        for _ in 0..n {
            let t = std::time::Instant::now();
            for _ in 0..reps {
                (cs.run)();
            }
            best = best.min(t.elapsed() / reps);
        }
        let gbs = cs.bytes as f64 / best.as_secs_f64() / 1e9;
        println!("{}/{} min {:?} {:.2} GB/s", cs.group, cs.name, best, gbs);
    }
}

fn main() {
    if let Ok(n) = std::env::var("WS_COMPARE_MIN") {
        min_mode(n.parse().expect("WS_COMPARE_MIN"));
        return;
    }
    if let Ok(n) = std::env::var("WS_COMPARE_ITERS") {
        let filter = std::env::args().nth(1).expect("case name");
        count_mode(n.parse().expect("WS_COMPARE_ITERS"), &filter);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}

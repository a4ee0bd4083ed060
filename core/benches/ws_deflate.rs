//! permessage-deflate cost (RFC 7692, no context takeover), the path of a
//! server with compression negotiated. Run:
//! `cargo bench -p natsws-core --features deflate --bench ws_deflate`.
//!
//! - `deflate/batch/{1,4,16}`: `Deflater::frame_batch` of N × ~1 KiB
//!   JSON-like NATS `MSG` lines compressed as one message (one flush of the
//!   server's write buffer), unmasked, into a reused output buffer.
//! - `inflate/{1,4,16}`: `Inflater::inflate` of one client message holding
//!   N × ~1 KiB JSON-like `PUB` lines (compressed once in setup), into a
//!   reused buffer.
//!
//! Throughput is in uncompressed bytes. On a loaded machine use the
//! min-time or instruction-count modes documented on `main`.
#![allow(missing_docs)]
use criterion::{black_box, Criterion, Throughput};
use natsws_core::ws::codec::Framing;
use natsws_core::ws::deflate::{Deflater, Inflater};

/// `n` NATS lines (`MSG`/`PUB` per `verb`) each with a ~1 KiB JSON payload
/// that varies a little from line to line.
fn json_lines(verb: &str, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut body = format!(
            "{{\"id\":{i},\"type\":\"order.created\",\"ts\":\"2024-05-0{}T12:{:02}:{:02}Z\",\"customer\":{{\"id\":\"c-{}\",\"name\":\"Customer {}\",\"email\":\"user{}@example.com\",\"tier\":\"gold\"}},\"items\":[",
            i % 9 + 1,
            i % 60,
            (i * 7) % 60,
            1000 + i * 37,
            i,
            i * 13
        );
        let mut k = 0;
        while body.len() < 1000 {
            body.push_str(&format!(
                "{{\"sku\":\"SKU-{:05}\",\"qty\":{},\"price\":{}.{:02}}},",
                (i * 31 + k * 17) % 100000,
                k % 5 + 1,
                (i + k) % 200,
                (k * 7) % 100
            ));
            k += 1;
        }
        body.push_str("{}]}");
        let sid = if verb == "MSG" { " 1" } else { "" };
        out.extend_from_slice(
            format!("{verb} orders.created{sid} {}\r\n{body}\r\n", body.len()).as_bytes(),
        );
    }
    out
}

/// One benchmark: `group/name`, bytes per iteration, the iteration.
struct Case {
    group: &'static str,
    name: String,
    bytes: u64,
    run: Box<dyn FnMut()>,
}

fn all_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for n in [1usize, 4, 16] {
        let batch = json_lines("MSG", n);
        let mut d = Deflater::new();
        let mut out = Vec::with_capacity(64 * 1024);
        v.push(Case {
            group: "deflate",
            name: format!("batch/{n}"),
            bytes: batch.len() as u64,
            run: Box::new(move || {
                out.clear();
                d.frame_batch(black_box(&batch), &mut out, Framing::SINGLE, None);
                black_box(out.len());
            }),
        });
    }
    for n in [1usize, 4, 16] {
        let plain = json_lines("PUB", n);
        let msg = Deflater::new().compress(&plain).to_vec();
        let mut inf = Inflater::new();
        let mut out = Vec::with_capacity(64 * 1024);
        v.push(Case {
            group: "inflate",
            name: format!("{n}"),
            bytes: plain.len() as u64,
            run: Box::new(move || {
                out.clear();
                inf.inflate(black_box(&msg), 1 << 20, &mut out).unwrap();
                assert_eq!(out.len(), plain.len());
                black_box(out.len());
            }),
        });
    }
    v
}

fn benches(c: &mut Criterion) {
    let mut cases = all_cases();
    for group in ["deflate", "inflate"] {
        let mut g = c.benchmark_group(group);
        for cs in cases.iter_mut().filter(|c| c.group == group) {
            g.throughput(Throughput::Bytes(cs.bytes));
            let run = &mut cs.run;
            g.bench_function(&cs.name, |b| b.iter(&mut *run));
        }
        g.finish();
    }
}

/// For a loaded machine, where criterion's means are noise:
/// - `WS_BENCH_ITERS=n <binary> group/name` runs one case `n` times (under
///   `valgrind --tool=callgrind`, (Ir(n) − Ir(0)) / n is one iteration);
/// - `WS_BENCH_MIN=n <binary>` times every case `n` times one iteration at
///   a time and prints the fastest (preemption only ever adds time).
fn main() {
    if let Ok(n) = std::env::var("WS_BENCH_ITERS") {
        let n: usize = n.parse().expect("WS_BENCH_ITERS");
        let filter = std::env::args().nth(1).expect("case name");
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
    if let Ok(n) = std::env::var("WS_BENCH_MIN") {
        let n: usize = n.parse().expect("WS_BENCH_MIN");
        for mut cs in all_cases() {
            let mut best = std::time::Duration::MAX;
            for _ in 0..n {
                let t = std::time::Instant::now();
                (cs.run)();
                best = best.min(t.elapsed());
            }
            let mbs = cs.bytes as f64 / best.as_secs_f64() / 1e6;
            println!("{}/{} min {:?} {:.1} MB/s", cs.group, cs.name, best, mbs);
        }
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}

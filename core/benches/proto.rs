//! Criterion benchmarks (proto). Run: cargo bench -p natsws-core --bench proto
#![allow(missing_docs)]
use core::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use natsws_core::proto::{encode_msg, encode_pub, ClientDecoder, ClientOp};

const OPS: usize = 1000;

/// 1000 PUBs of exactly 128 bytes each (21-byte control line, 105-byte
/// payload, CR LF).
fn pub_stream() -> Vec<u8> {
    let payload = [b'x'; 105];
    let mut v = Vec::with_capacity(128 * OPS);
    for _ in 0..OPS {
        encode_pub(&mut v, b"foo.bar.baz", None, &payload);
    }
    assert_eq!(v.len(), 128 * OPS);
    v
}

fn decode_pubs(c: &mut Criterion) {
    let stream = pub_stream();
    let mut g = c.benchmark_group("proto_decode");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("pub_128b_x1000", |b| {
        b.iter(|| {
            let mut d = ClientDecoder::default();
            let mut rest = black_box(&stream[..]);
            let mut n = 0;
            while let Some((op, used)) = d.decode(rest).unwrap() {
                if let ClientOp::Pub { payload, .. } = op {
                    black_box(payload);
                }
                rest = &rest[used..];
                n += 1;
            }
            assert_eq!(n, OPS);
        });
    });
    g.finish();
}

fn encode_msgs(c: &mut Criterion) {
    let payload = [b'x'; 105];
    let mut out = Vec::with_capacity(160 * OPS);
    let mut g = c.benchmark_group("proto_encode");
    let mut probe = Vec::new();
    encode_msg(
        &mut probe,
        b"foo.bar.baz",
        b"17",
        Some(b"_INBOX.abc"),
        &payload,
    );
    g.throughput(Throughput::Bytes((probe.len() * OPS) as u64));
    g.bench_function("msg_105b_x1000", |b| {
        b.iter(|| {
            out.clear();
            for _ in 0..OPS {
                encode_msg(
                    &mut out,
                    black_box(b"foo.bar.baz"),
                    b"17",
                    Some(b"_INBOX.abc"),
                    black_box(&payload),
                );
            }
            black_box(&out);
        });
    });
    g.finish();
}

criterion_group!(benches, decode_pubs, encode_msgs);
criterion_main!(benches);

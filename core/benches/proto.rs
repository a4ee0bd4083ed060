//! Criterion benchmarks (proto). Run: cargo bench -p natsws-core --bench proto
#![allow(missing_docs)]
use core::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use natsws_core::proto::{encode_msg, encode_pub, ClientDecoder, ClientOp};

const OPS: usize = 1000;

/// 1000 PUBs to `foo.bar.baz` with `payload` bytes each.
fn pub_stream(payload: usize) -> Vec<u8> {
    let payload = vec![b'x'; payload];
    let mut v = Vec::with_capacity((payload.len() + 32) * OPS);
    for _ in 0..OPS {
        encode_pub(&mut v, b"foo.bar.baz", None, &payload);
    }
    v
}

/// Decode of PUB streams with 16 B, 128 B and 1 KiB payloads (issue 2
/// targets: >= 15 M ops/s at 16 B, >= 2 GB/s at 1 KiB, one core). Criterion
/// reports bytes/s; ops/s = bytes/s / (stream bytes / 1000).
fn decode_pubs(c: &mut Criterion) {
    let mut g = c.benchmark_group("proto_decode");
    for size in [16usize, 128, 1024] {
        let stream = pub_stream(size);
        g.throughput(Throughput::Elements(OPS as u64));
        g.bench_function(format!("pub_{size}b_x1000_ops"), |b| {
            b.iter(|| decode_all(black_box(&stream)));
        });
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_function(format!("pub_{size}b_x1000_bytes"), |b| {
            b.iter(|| decode_all(black_box(&stream)));
        });
    }
    g.finish();
}

fn decode_all(stream: &[u8]) {
    let mut d = ClientDecoder::default();
    let mut rest = stream;
    let mut n = 0;
    while let Some((op, used)) = d.decode(rest).unwrap() {
        if let ClientOp::Pub { payload, .. } = op {
            black_box(payload);
        }
        rest = &rest[used..];
        n += 1;
    }
    assert_eq!(n, OPS);
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

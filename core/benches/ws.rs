//! Criterion benchmarks (ws). Run: cargo bench -p natsws-core --bench ws
//!
//! - `unmask/*`: masking XOR throughput, word-at-a-time vs scalar.
//! - `decode/*`: server-role decoding of masked 128 B and 16 KiB frames
//!   (the input is restored from a pristine copy each iteration, since
//!   decoding unmasks in place).
//! - `encode/*`: framing an outbound batch (single frame, browser 4 KiB
//!   frames) and, with `deflate`, compressed framing.
#![allow(missing_docs)]
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use natsws_core::ws::codec::{frame_batch, Framing};
use natsws_core::ws::mask::{apply_mask, apply_mask_scalar};
use natsws_core::ws::{Decoder, DecoderConfig, Event};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn unmask(c: &mut Criterion) {
    let mut g = c.benchmark_group("unmask");
    for size in [128usize, 16 * 1024] {
        let mut buf = vec![0xa5u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("fast/{size}"), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), KEY, 1))
        });
        g.bench_function(format!("scalar/{size}"), |b| {
            b.iter(|| apply_mask_scalar(black_box(&mut buf), KEY, 1))
        });
    }
    g.finish();
}

fn masked_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    natsws_core::ws::codec::write_frame(
        &mut out,
        natsws_core::ws::OpCode::BINARY,
        true,
        false,
        payload,
        Some(KEY),
    )
    .unwrap();
    out
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for size in [128usize, 16 * 1024] {
        let payload = vec![b'x'; size];
        let frames = (256 * 1024 / size).max(1);
        let pristine: Vec<u8> = (0..frames).flat_map(|_| masked_frame(&payload)).collect();
        let mut buf = pristine.clone();
        g.throughput(Throughput::Bytes(pristine.len() as u64));
        g.bench_function(format!("frames/{size}"), |b| {
            b.iter(|| {
                buf.copy_from_slice(&pristine);
                let mut dec = Decoder::new(DecoderConfig::server());
                let mut pos = 0;
                let mut total = 0usize;
                while pos < buf.len() {
                    let (n, ev) = dec.decode(&mut buf[pos..]).unwrap();
                    if let Some(Event::Data { payload, .. }) = ev {
                        total += payload.len();
                    }
                    pos += n;
                }
                black_box(total)
            })
        });
    }
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let mut out = Vec::with_capacity(1 << 20);
    for size in [128usize, 16 * 1024, 256 * 1024] {
        let batch = vec![b'm'; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("single/{size}"), |b| {
            b.iter(|| {
                out.clear();
                frame_batch(black_box(&batch), &mut out, Framing::SINGLE, None);
            })
        });
        g.bench_function(format!("browser/{size}"), |b| {
            b.iter(|| {
                out.clear();
                frame_batch(black_box(&batch), &mut out, Framing::BROWSER, None);
            })
        });
        #[cfg(feature = "deflate")]
        {
            let text: Vec<u8> = (0..size)
                .map(|i| b"MSG foo.bar 1 5\r\nhello\r\n"[i % 24])
                .collect();
            let mut d = natsws_core::ws::deflate::Deflater::new();
            g.bench_function(format!("deflate/{size}"), |b| {
                b.iter(|| {
                    out.clear();
                    d.frame_batch(black_box(&text), &mut out, Framing::SINGLE, None);
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, unmask, decode, encode);
criterion_main!(benches);

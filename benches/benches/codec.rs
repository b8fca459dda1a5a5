//! Codec micro-benchmarks: encode and decode one `Msg`, protobuf and JSON, raw and through the
//! framing codecs, for a small chat message and one with 4 KiB of content.
//!
//! Run with:
//! ```text
//! cargo bench -p easyim-benches --bench codec -- --warm-up-time 1 --measurement-time 3
//! ```
//! Every benchmark handles one message per iteration, so the reported time is ns/message.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_main, BatchSize, Criterion, Throughput};
use easyim_proto::{Encoded, Format, FormatPolicy, FramedCodec, LinesCodec, Msg};
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

/// A typical chat message: 61 bytes of protobuf.
fn small() -> Msg {
    Msg {
        id: "c-1".into(),
        seq: 7,
        from_user_id: "1630381388895096832".into(),
        to_user_id: "1630381388895666".into(),
        status: 1,
        content: "hello there".into(),
        ..Msg::default()
    }
}

/// A message with 4 KiB of content (mixed ASCII and multi-byte text, as JSON escapes neither).
fn large() -> Msg {
    let mut content = String::new();
    while content.len() < 4096 {
        content.push_str("lorem ipsum dolor sit amet 你好 ");
    }
    content.truncate(content.floor_char_boundary_compat(4096));
    Msg {
        content,
        timestamp: 1_764_374_400_123,
        conv_seq: 123_456,
        ..small()
    }
}

/// `str::floor_char_boundary` is unstable; this is it for our use.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for String {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    for (name, msg) in [("small", small()), ("4k", large())] {
        g.bench_function(format!("{name}/protobuf/raw"), |b| {
            b.iter(|| black_box(black_box(&msg).encode_to_vec()))
        });
        g.bench_function(format!("{name}/json/raw"), |b| {
            b.iter(|| black_box(serde_json::to_vec(black_box(&msg)).unwrap()))
        });
        // What a connection does: encode once (Encoded), then frame it into its write buffer.
        g.bench_function(format!("{name}/protobuf/framed"), |b| {
            let mut codec = FramedCodec::default();
            let mut dst = BytesMut::with_capacity(8192);
            // The clone into `Encoded` is setup, not measured.
            b.iter_batched(
                || Encoded::new(msg.clone()),
                |enc| {
                    dst.clear();
                    codec
                        .encode(enc.payload(Format::Protobuf).clone(), &mut dst)
                        .unwrap();
                    black_box(&dst);
                    enc
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function(format!("{name}/json/lines"), |b| {
            let mut codec = LinesCodec::default();
            let mut dst = BytesMut::with_capacity(8192);
            // The clone into `Encoded` is setup, not measured.
            b.iter_batched(
                || Encoded::new(msg.clone()),
                |enc| {
                    dst.clear();
                    codec
                        .encode(enc.payload(Format::Json).clone(), &mut dst)
                        .unwrap();
                    black_box(&dst);
                    enc
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (name, msg) in [("small", small()), ("4k", large())] {
        let pb = msg.encode_to_vec();
        let json = serde_json::to_vec(&msg).unwrap();
        let mut framed = BytesMut::new();
        FramedCodec::default().encode(&pb[..], &mut framed).unwrap();
        let mut lines = BytesMut::new();
        LinesCodec::default().encode(&json[..], &mut lines).unwrap();

        g.bench_function(format!("{name}/protobuf/raw"), |b| {
            b.iter(|| black_box(Msg::decode(black_box(&pb[..])).unwrap()))
        });
        g.bench_function(format!("{name}/json/raw"), |b| {
            b.iter(|| black_box(serde_json::from_slice::<Msg>(black_box(&json)).unwrap()))
        });
        g.bench_function(format!("{name}/protobuf/framed"), |b| {
            let mut codec = FramedCodec::new(1 << 16, FormatPolicy::Auto);
            b.iter_batched_ref(
                || BytesMut::from(&framed[..]),
                |buf| black_box(codec.decode(buf).unwrap().unwrap()),
                BatchSize::SmallInput,
            )
        });
        g.bench_function(format!("{name}/json/lines"), |b| {
            let mut codec = LinesCodec::new(1 << 16, FormatPolicy::Auto);
            b.iter_batched_ref(
                || BytesMut::from(&lines[..]),
                |buf| black_box(codec.decode(buf).unwrap().unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

// What `criterion_group!` would write, but private: the macro's `pub fn` trips `missing_docs`.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench_encode(&mut c);
    bench_decode(&mut c);
}

criterion_main!(benches);

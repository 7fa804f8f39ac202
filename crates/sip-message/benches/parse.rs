//! Parse and serialise a typical INVITE with SDP.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sip_message::{MessageExt, parse, to_bytes};

const INVITE: &[u8] = include_bytes!("../tests/corpus/invite.sip");

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("invite_with_sdp");
    group.throughput(Throughput::Bytes(INVITE.len() as u64));
    group.bench_function("parse", |b| b.iter(|| parse(black_box(INVITE))));
    let msg = parse(INVITE).expect("benchmark input parses");
    group.bench_function("to_bytes", |b| b.iter(|| to_bytes(black_box(&msg))));
    group.bench_function("parse_read_print", |b| {
        b.iter(|| {
            let msg = parse(black_box(INVITE)).expect("benchmark input parses");
            black_box((msg.branch(), msg.from_tag(), msg.cseq()));
            to_bytes(&msg)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

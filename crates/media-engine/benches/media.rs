//! Per-frame costs of the media path (20 ms frames).
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use media_engine::codec::CodecKind;
use media_engine::jitter::{JitterBuffer, JitterConfig};
use media_engine::mixer::{ParticipantId, mix};
use std::hint::black_box;
use std::time::Duration;

fn speechish(n: usize, rate: f64) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            (6000.0 * (std::f64::consts::TAU * 220.0 * t).sin()
                + 3000.0 * (std::f64::consts::TAU * 1330.0 * t).sin()) as i16
        })
        .collect()
}

fn codecs(c: &mut Criterion) {
    for kind in [CodecKind::Pcmu, CodecKind::Pcma] {
        let mut codec = kind.new_codec().expect("g711");
        let pcm = speechish(160, 8000.0);
        let (mut payload, mut out) = (Vec::with_capacity(160), Vec::with_capacity(160));
        c.bench_function(&format!("{kind:?} encode+decode 20ms"), |b| {
            b.iter(|| {
                payload.clear();
                out.clear();
                codec.encode(black_box(&pcm), &mut payload).expect("encode");
                codec.decode(black_box(&payload), &mut out).expect("decode");
            })
        });
    }
    let mut opus = CodecKind::Opus.new_codec().expect("opus");
    let pcm = speechish(960, 48000.0);
    let mut payload = Vec::with_capacity(1500);
    c.bench_function("Opus encode 20ms", |b| {
        b.iter(|| {
            payload.clear();
            opus.encode(black_box(&pcm), &mut payload).expect("encode");
        })
    });
    let mut out = Vec::with_capacity(960);
    c.bench_function("Opus decode 20ms", |b| {
        b.iter(|| {
            out.clear();
            opus.decode(black_box(&payload), &mut out).expect("decode");
        })
    });
}

fn jitter(c: &mut Criterion) {
    let mut jb = JitterBuffer::new(JitterConfig::new(8000));
    let mut k: u32 = 0;
    let payload = vec![0xFFu8; 160];
    c.bench_function("jitter push+pop", |b| {
        b.iter(|| {
            let now = Duration::from_millis(u64::from(k) * 20);
            jb.push(now, k as u16, k.wrapping_mul(160), payload.clone());
            black_box(jb.pop(now + Duration::from_millis(5)));
            k += 1;
        })
    });
}

fn mixer(c: &mut Criterion) {
    let frames: Vec<Vec<i16>> = (0..3)
        .map(|i| speechish(160, 8000.0 + f64::from(i)))
        .collect();
    for n in [2usize, 3] {
        let ids: Vec<ParticipantId> = (0..n as u32).map(ParticipantId).collect();
        let mut outs = vec![vec![0i16; 160]; n];
        c.bench_function(&format!("mixer {n} participants 20ms@8k"), |b| {
            b.iter(|| {
                let inputs: Vec<(ParticipantId, &[i16])> = ids
                    .iter()
                    .zip(&frames)
                    .map(|(id, f)| (*id, f.as_slice()))
                    .collect();
                let mut outputs: Vec<(ParticipantId, &mut [i16])> = ids
                    .iter()
                    .zip(outs.iter_mut())
                    .map(|(id, o)| (*id, o.as_mut_slice()))
                    .collect();
                mix(black_box(&inputs), &mut outputs).expect("same length");
            })
        });
    }
}

fn resampling(c: &mut Criterion) {
    for (from, to) in [(48000u32, 8000u32), (8000, 48000)] {
        let mut r = media_engine::resample::Resampler::new(from, to, 20).expect("supported");
        let pcm = speechish(r.input_frames(), f64::from(from));
        let mut out = Vec::with_capacity(r.output_frames());
        c.bench_function(&format!("resample {from}->{to} 20ms"), |b| {
            b.iter(|| {
                out.clear();
                r.process(black_box(&pcm), &mut out).expect("frame");
            })
        });
    }
}

criterion_group!(benches, codecs, jitter, mixer, resampling);
criterion_main!(benches);

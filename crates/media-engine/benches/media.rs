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

/// One direction of an anchored bridge, per 20 ms PCMU packet: the same-codec relay (parse,
/// account, rewrite) against the transcoding path (parse, jitter buffer, decode, resample to
/// 48 kHz and back, encode, write).
fn bridge(c: &mut Criterion) {
    use media_engine::RtpRelay;
    use media_engine::rtp::{RtpReceiver, RtpSender};
    let mut inbound = RtpSender::new(0x1111, 0, 8000, 1, 1);
    let mut codec = CodecKind::Pcmu.new_codec().expect("g711");
    let (mut payload, mut packet) = (Vec::new(), Vec::new());
    codec
        .encode(&speechish(160, 8000.0), &mut payload)
        .expect("encode");
    let packets: Vec<Vec<u8>> = (0..256)
        .map(|i| {
            inbound
                .write_audio(Duration::from_millis(20 * i), &payload, 160, &mut packet)
                .expect("write");
            packet.clone()
        })
        .collect();

    let mut receiver = RtpReceiver::new(8000);
    let mut sender = RtpSender::new(0x2222, 0, 8000, 9, 9);
    let mut relay = RtpRelay::new();
    let mut out = Vec::with_capacity(256);
    let mut i = 0usize;
    c.bench_function("bridge PCMU->PCMU relay per packet", |b| {
        b.iter(|| {
            let now = Duration::from_millis(20 * i as u64);
            let p = receiver
                .receive(now, black_box(&packets[i % packets.len()]))
                .expect("rtp");
            relay
                .relay(now, &p, 160, &mut sender, &mut out)
                .expect("relay");
            i += 1;
        })
    });

    let mut receiver = RtpReceiver::new(8000);
    let mut sender = RtpSender::new(0x3333, 0, 8000, 9, 9);
    let mut jitter = JitterBuffer::new(JitterConfig::new(8000));
    let mut up = media_engine::resample::Resampler::new(8000, 48000, 20).expect("up");
    let mut down = media_engine::resample::Resampler::new(48000, 8000, 20).expect("down");
    let (mut pcm, mut wide, mut narrow, mut enc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut i = 0usize;
    c.bench_function("bridge PCMU->PCMU transcode per packet", |b| {
        b.iter(|| {
            let now = Duration::from_millis(20 * i as u64);
            let p = receiver
                .receive(now, black_box(&packets[i % packets.len()]))
                .expect("rtp");
            jitter.push(now, p.sequence, p.timestamp, p.payload.to_vec());
            if let media_engine::Playout::Frame(frame) = jitter.pop(now) {
                pcm.clear();
                codec.decode(&frame, &mut pcm).expect("decode");
            } else {
                pcm.resize(160, 0);
            }
            wide.clear();
            up.process(&pcm, &mut wide).expect("up");
            narrow.clear();
            down.process(&wide, &mut narrow).expect("down");
            enc.clear();
            codec.encode(&narrow, &mut enc).expect("encode");
            sender.write_audio(now, &enc, 160, &mut out).expect("write");
            i += 1;
        })
    });
}

criterion_group!(benches, codecs, jitter, mixer, resampling, bridge);
criterion_main!(benches);

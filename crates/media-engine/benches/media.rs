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

/// Half a packet interval: the playout tick's phase against arrivals in the bridge benches.
const HALF_FRAME: Duration = Duration::from_millis(10);

/// Copies a recorded packet into `out`, renumbered as packet `i` of a stream of
/// `samples`-sample frames, so that replaying a few recorded packets forms one stream with no
/// jump back (which the jitter buffer would drop as late). The console, too, copies each
/// datagram out of its socket buffer.
fn renumber(packet: &[u8], i: usize, samples: u32, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(packet);
    out[2..4].copy_from_slice(&(i as u16).to_be_bytes());
    out[4..8].copy_from_slice(&(i as u32).wrapping_mul(samples).to_be_bytes());
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
    let mut scratch = Vec::with_capacity(1500);
    let mut i = 0usize;
    c.bench_function("bridge PCMU->PCMU transcode per packet", |b| {
        b.iter(|| {
            let now = Duration::from_millis(20 * i as u64);
            renumber(&packets[i % packets.len()], i, 160, &mut scratch);
            let p = receiver.receive(now, black_box(&scratch)).expect("rtp");
            jitter.push(now, p.sequence, p.timestamp, p.payload.to_vec());
            // Played 10 ms after it arrived (at arrival the buffer would not start).
            if let media_engine::Playout::Frame(frame) = jitter.pop(now + HALF_FRAME) {
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

/// One call of a transcoding bridge, per 20 ms, both directions, as the console's media task
/// runs it: PCMU in → jitter buffer → decode → Opus encode → out, and Opus in → jitter buffer →
/// decode → PCMU encode → out. Opus, told G.711's band, runs its PCM at 8 kHz: no resampling.
fn transcode_call(c: &mut Criterion) {
    use media_engine::rtp::{RtpReceiver, RtpSender};
    fn packets(kind: CodecKind, pt: u8) -> Vec<Vec<u8>> {
        let mut codec = kind.new_codec().expect("codec");
        let rate = kind.clock_rate();
        let n = kind.samples_per_frame();
        let speech = speechish(n * 256, f64::from(rate));
        let mut sender = RtpSender::new(0x1111, pt, rate, 1, 1);
        let (mut payload, mut packet) = (Vec::new(), Vec::new());
        speech
            .chunks(n)
            .enumerate()
            .map(|(i, frame)| {
                payload.clear();
                codec.encode(frame, &mut payload).expect("encode");
                sender
                    .write_audio(
                        Duration::from_millis(20 * i as u64),
                        &payload,
                        n as u32,
                        &mut packet,
                    )
                    .expect("write");
                packet.clone()
            })
            .collect()
    }
    struct Direction {
        packets: Vec<Vec<u8>>,
        receiver: RtpReceiver,
        jitter: JitterBuffer,
        decoder: Box<dyn media_engine::AudioCodec>,
        resampler: media_engine::resample::Resampler,
        encoder: Box<dyn media_engine::AudioCodec>,
        sender: RtpSender,
        out_samples: u32,
        in_samples: u32,
        scratch: Vec<u8>,
    }
    impl Direction {
        fn new(from: CodecKind, from_pt: u8, to: CodecKind, to_pt: u8) -> Self {
            let mut encoder = to.new_codec().expect("codec");
            let mut decoder = from.new_codec().expect("codec");
            // As the console does in a bridge: the wider codec is told the narrower one's
            // band, which runs Opus at 8 kHz against G.711 (no resampling left).
            let band = from.clock_rate().min(to.clock_rate()) / 2;
            encoder.limit_bandwidth(Some(band));
            decoder.limit_bandwidth(Some(band));
            Self {
                packets: packets(from, from_pt),
                receiver: RtpReceiver::new(from.clock_rate()),
                jitter: JitterBuffer::new(JitterConfig::new(from.clock_rate())),
                resampler: media_engine::resample::Resampler::new(
                    decoder.pcm_rate(),
                    encoder.pcm_rate(),
                    20,
                )
                .expect("resampler"),
                decoder,
                encoder,
                sender: RtpSender::new(0x2222, to_pt, to.clock_rate(), 9, 9),
                out_samples: to.samples_per_frame() as u32,
                in_samples: from.samples_per_frame() as u32,
                scratch: Vec::with_capacity(1500),
            }
        }
        fn step(
            &mut self,
            i: usize,
            pcm: &mut Vec<i16>,
            wide: &mut Vec<i16>,
            enc: &mut Vec<u8>,
            out: &mut Vec<u8>,
        ) {
            let now = Duration::from_millis(20 * i as u64);
            renumber(
                &self.packets[i % self.packets.len()],
                i,
                self.in_samples,
                &mut self.scratch,
            );
            let p = self
                .receiver
                .receive(now, black_box(&self.scratch))
                .expect("rtp");
            self.jitter
                .push(now, p.sequence, p.timestamp, p.payload.to_vec());
            pcm.clear();
            match self.jitter.pop(now + HALF_FRAME) {
                media_engine::Playout::Frame(frame) => {
                    self.decoder.decode(&frame, pcm).expect("decode");
                }
                _ => self.decoder.conceal(pcm),
            }
            wide.clear();
            self.resampler.process(pcm, wide).expect("resample");
            enc.clear();
            self.encoder.encode(wide, enc).expect("encode");
            self.sender
                .write_audio(now, enc, self.out_samples, out)
                .expect("write");
        }
    }
    let mut to_opus = Direction::new(CodecKind::Pcmu, 0, CodecKind::Opus, 111);
    let mut to_pcmu = Direction::new(CodecKind::Opus, 111, CodecKind::Pcmu, 0);
    let (mut pcm, mut wide, mut enc, mut out) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut i = 0usize;
    c.bench_function(
        "bridge PCMU<->Opus transcode per call per 20ms (both directions)",
        |b| {
            b.iter(|| {
                to_opus.step(i, &mut pcm, &mut wide, &mut enc, &mut out);
                to_pcmu.step(i, &mut pcm, &mut wide, &mut enc, &mut out);
                i += 1;
            })
        },
    );
}

criterion_group!(
    benches,
    codecs,
    jitter,
    mixer,
    resampling,
    bridge,
    transcode_call
);
criterion_main!(benches);

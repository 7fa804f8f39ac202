//! Plays a 440 Hz tone through `AudioEngine` into PulseAudio's null sink and records it back from
//! the sink's monitor, across a device switch and the removal of the sink in use.
//!
//! Runs only with `SWITCHBOARD_PULSE_TEST=1` and a daemon started by
//! `crates/audio-io/scripts/pulse-null-sink.sh` (scripts/test.sh does both). Without it the test
//! prints that it was skipped and passes.
//!
//! Timing is not asserted: cpal's ALSA path through PulseAudio has run at ~40 % of real time on
//! these machines. The test checks that streams open, callbacks arrive, and samples round-trip
//! with the right frequency.

use std::process::Command;
use std::time::{Duration, Instant};

use audio_io::{AudioChoice, AudioConfig, AudioEngine, ENGINE_RATE};

const TONE_HZ: f64 = 440.0;

fn enabled() -> bool {
    if std::env::var("SWITCHBOARD_PULSE_TEST").as_deref() == Ok("1") {
        return true;
    }
    println!(
        "skipped: set SWITCHBOARD_PULSE_TEST=1 and run crates/audio-io/scripts/pulse-null-sink.sh"
    );
    false
}

/// Goertzel power of `freq` in `x` (sampled at `rate`), normalised by length.
fn goertzel(x: &[f64], rate: f64, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (x.len() as f64).powi(2)
}

/// A phase-continuous sine generator at 48 kHz, amplitude 0.5 (-6 dBFS).
struct Tone {
    n: u64,
}

impl Tone {
    fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            let t = self.n as f64 / f64::from(ENGINE_RATE);
            *s = (0.5 * 32767.0 * (2.0 * std::f64::consts::PI * TONE_HZ * t).sin()) as i16;
            self.n += 1;
        }
    }
}

/// Plays the tone and records until `want` non-silent mic samples arrived or `deadline` passed.
/// Returns the recorded non-silent samples (as f64) and the wall time it took.
fn play_and_record(
    engine: &mut AudioEngine,
    tone: &mut Tone,
    want: usize,
    deadline: Duration,
    mut each_tick: impl FnMut(&mut AudioEngine, Duration),
) -> (Vec<f64>, Duration) {
    let frame_len = engine.frame_samples();
    let mut frame = vec![0i16; frame_len];
    let mut pending = 0..0; // unplayed part of `frame`
    let mut mic = vec![0i16; frame_len];
    let mut heard = Vec::new();
    let start = Instant::now();
    while heard.len() < want && start.elapsed() < deadline {
        loop {
            if pending.is_empty() {
                tone.fill(&mut frame);
                pending = 0..frame_len;
            }
            let n = engine.write_speaker(&frame[pending.clone()]);
            pending.start += n;
            if n == 0 || !pending.is_empty() {
                break; // ring full: the device paces us
            }
        }
        loop {
            let n = engine.read_mic(&mut mic);
            if n == 0 {
                break;
            }
            // Keep everything from the first clearly audible sample on.
            for &s in &mic[..n] {
                if !heard.is_empty() || s.unsigned_abs() > 1000 {
                    heard.push(f64::from(s) / 32768.0);
                }
            }
        }
        each_tick(engine, start.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    (heard, start.elapsed())
}

/// Asserts that 440 Hz dominates the recording, window by window (100 ms windows, so a glitch
/// during a device switch spoils one window, not the whole measurement).
fn assert_tone(label: &str, heard: &[f64]) {
    assert!(
        heard.len() >= 4800,
        "{label}: only {} audible samples came back from nullsink.monitor",
        heard.len()
    );
    let rate = f64::from(ENGINE_RATE);
    let others = [220.0, 330.0, 400.0, 480.0, 550.0, 880.0, 1000.0, 2000.0];
    let windows: Vec<(f64, f64)> = heard
        .chunks_exact(4800)
        .map(|w| {
            let p440 = goertzel(w, rate, TONE_HZ);
            let worst = others
                .iter()
                .map(|&f| goertzel(w, rate, f))
                .fold(0.0f64, f64::max);
            (p440, worst)
        })
        .collect();
    let good = windows.iter().filter(|(p, w)| *p > 100.0 * *w).count();
    let best_ratio = windows
        .iter()
        .map(|(p, w)| p / w.max(1e-30))
        .fold(0.0f64, f64::max);
    println!(
        "{label}: {} samples; 440 Hz dominates {good}/{} windows of 100 ms (best ratio {best_ratio:.0})",
        heard.len(),
        windows.len()
    );
    assert!(
        good * 10 >= windows.len() * 6,
        "{label}: 440 Hz does not dominate the recording"
    );
}

fn pactl(args: &[&str]) -> Option<String> {
    let out = Command::new("pactl").args(args).output().ok()?;
    if !out.status.success() {
        println!(
            "pactl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn tone_round_trips_through_null_sink_across_device_switches() {
    if !enabled() {
        return;
    }
    let devices = audio_io::list_devices().expect("list devices");
    for d in &devices {
        println!(
            "device {:<40} {:<28} in={} out={} default_in={} default_out={} {:?} {:?}",
            d.id,
            d.name,
            d.is_input,
            d.is_output,
            d.is_default_input,
            d.is_default_output,
            d.default_input,
            d.default_output
        );
    }
    assert!(
        devices
            .iter()
            .any(|d| d.id.ends_with("nullsink.monitor") && d.is_input),
        "nullsink.monitor is not listed; is the daemon from pulse-null-sink.sh running?"
    );

    let mut engine = AudioEngine::open(AudioConfig {
        choice: AudioChoice::Default,
        input: Some("nullsink.monitor".to_owned()),
        output: None, // the default sink is nullsink
        ring: None,
        frame_ms: 20,
    })
    .expect("open");
    println!("opened: {:?}", engine.devices());
    assert!(!engine.is_headless());
    assert!(engine.devices().input.is_some() && engine.devices().output.is_some());
    if let Some(ev) = engine.poll_event() {
        panic!("unexpected event at open: {ev:?}");
    }

    // 1. About one second of tone, played and recorded back.
    let mut tone = Tone { n: 0 };
    let (heard, took) = play_and_record(
        &mut engine,
        &mut tone,
        48_000,
        Duration::from_secs(15),
        |_, _| {},
    );
    let stats = engine.stats();
    println!(
        "round trip: {} samples in {took:?} ({:.0} % of real time); {stats:?}",
        heard.len(),
        100.0 * heard.len() as f64 / 48_000.0 / took.as_secs_f64()
    );
    assert_tone("round trip", &heard);
    assert!(stats.input_level_dbfs > -12.0, "mic level {stats:?}");

    // 2. Switch the output mid-stream (to the same sink, by id): the tone keeps coming back.
    engine.set_output(Some("nullsink")).expect("switch output");
    let (heard, _) = play_and_record(
        &mut engine,
        &mut tone,
        48_000,
        Duration::from_secs(10),
        |_, _| {},
    );
    assert_tone("after switch", &heard);

    // 3. Unload the sink we play to. PulseAudio (>= 14) moves the stream to another sink by
    //    itself; cpal may or may not report it. Either way the tone must reach nullsink.
    let Some(module) = pactl(&[
        "load-module",
        "module-null-sink",
        "sink_name=doomed",
        "rate=48000",
    ]) else {
        println!("pactl load-module failed; device-loss part skipped");
        return;
    };
    engine.set_output(Some("doomed")).expect("switch to doomed");
    assert_eq!(
        engine.devices().output.as_deref(),
        Some("pulseaudio:doomed")
    );
    let _ = play_and_record(
        &mut engine,
        &mut tone,
        usize::MAX,
        Duration::from_millis(300),
        |_, _| {},
    );
    assert!(pactl(&["unload-module", &module]).is_some());
    let mut events = Vec::new();
    let (heard, _) = play_and_record(
        &mut engine,
        &mut tone,
        48_000,
        Duration::from_secs(10),
        |e, _| events.extend(std::iter::from_fn(|| e.poll_event())),
    );
    println!(
        "after unloading the sink: events {events:?}; now {:?}",
        engine.devices()
    );
    assert_tone("after unload", &heard);

    // Not tested: killing our sink input on the server (`pacmd kill-sink-input`). Measured
    // here, cpal 0.18.2's PulseAudio host neither reports it nor stops calling back, and the
    // next stream operation on that client failed or hung; see ADR 0007.
    println!("final stats: {:?}", engine.stats());
}

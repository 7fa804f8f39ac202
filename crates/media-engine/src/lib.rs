//! Switchboard's media engine: pure processing over packets and sample buffers.
//!
//! No sockets, no clocks, no audio devices: every function takes the current time (a
//! `Duration` since an epoch the runtime chooses) or a buffer, and returns what to send or
//! play. `console-runtime` owns the I/O and drives these pieces.
//!
//! # The pieces
//! - [`sdp`]: RFC 3264 offer/answer for one audio stream → [`sdp::Negotiated`] (codec, payload
//!   types, remote address, direction; hold/resume).
//! - [`rtp`]: RTP sender/receiver state with RFC 3550 statistics, RTCP SR/RR and RTT,
//!   [`rtp::CallQuality`] with an E-model MOS.
//! - [`jitter`]: the adaptive jitter buffer.
//! - [`codec`]: [`codec::AudioCodec`] for G.711 (with [`g711`] tables and PLC) and Opus
//!   (FEC/PLC).
//! - [`resample`]: device rate ↔ codec rate.
//! - [`mixer`]: the bridge (mix-minus plus listeners) used for the console's own leg, for
//!   conferences and for supervisor listen-in.
//! - [`tones`]: call-progress tones from `assets/tones.toml`, in-band DTMF, and Goertzel.
//! - [`dtmf`]: RFC 4733 telephone-event send/receive and SIP INFO dtmf-relay.
//!
//! # How the runtime drives a call
//! One media task per call, woken every 20 ms by its clock (or by a device callback):
//!
//! 1. **Receive**: for every datagram on the RTP socket, [`rtp::RtpReceiver::receive`]; if the
//!    payload type is telephone-event, feed [`dtmf::DtmfReceiver::receive`] (emit `call.dtmf`
//!    for each digit it returns); otherwise [`jitter::JitterBuffer::push`]. RTCP datagrams go
//!    to [`rtp::RtcpSession::receive`].
//! 2. **Play** (every 20 ms): [`jitter::JitterBuffer::pop`] → `Frame` → `codec.decode`;
//!    `Conceal` → `codec.decode_fec(peek_next)` or `codec.conceal`; `Empty` → silence (or the
//!    local ringback from [`tones::ToneGenerator`]). Resample to the device/bridge rate.
//! 3. **Mix**: [`mixer::mix`] the legs and the console headset.
//! 4. **Send**: resample the participant's mix to the codec rate; ask
//!    [`dtmf::DtmfSender::poll`] with [`rtp::RtpSender::next_timestamp`]: a packet goes out via
//!    [`rtp::RtpSender::write_event`], otherwise `codec.encode` and
//!    [`rtp::RtpSender::write_audio`]. On hold (`sendonly` peer / `inactive`) skip sending with
//!    [`rtp::RtpSender::skip`], which also marks the next talk spurt.
//! 5. **Report**: every ~5 s [`rtp::RtcpSession::build_report`]; about once a second
//!    [`rtp::CallQuality::new`] for the `call.stats` event.
//!
//! Everything is deterministic, so tests run whole calls in virtual time.

pub mod codec;
pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod mixer;
pub mod relay;
pub mod resample;
pub mod rtp;
pub mod sdp;
pub mod tones;

pub use codec::{AudioCodec, CodecError, CodecKind};
pub use jitter::{JitterBuffer, JitterConfig, Playout};
pub use mixer::{ParticipantId, mix};
pub use relay::RtpRelay;
pub use rtp::{CallQuality, RtcpSession, RtpReceiver, RtpSender};
pub use sdp::{Direction, LocalCapabilities, Negotiated, SdpError};
pub use tones::{ToneGenerator, ToneKind, goertzel};

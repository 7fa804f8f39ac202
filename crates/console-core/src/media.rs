//! Media of each call as the console decides it: SDP offer/answer with `media_engine::sdp`
//! (RFC 3264), and the [`MediaCommand`]s the runtime's media worker carries out (open the RTP
//! socket, start/update/stop the stream, tones, DTMF). Media reports back with
//! [`MediaEvent`]s (received DTMF, quality figures), which become `call.dtmf` and `call.stats`.

use crate::audio::{AudioRole, AudioStatus};
use crate::console::Console;
use crate::error::ConsoleError;
use crate::event::EventBody;
use crate::model::{CallId, CallQuality};
use media_engine::sdp::{self, Direction, LocalCapabilities, Negotiated, SdpError};
use media_engine::{CodecKind, ToneKind};
use std::net::SocketAddr;
use std::time::Instant;

/// What the runtime's media worker must do for a call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MediaCommand {
    /// Bind the call's RTP (and RTCP, port + 1) socket at `local`: our SDP now names it.
    Open {
        /// The call.
        call: CallId,
        /// Our media address.
        local: SocketAddr,
    },
    /// Start or change the stream after an offer/answer.
    Configure {
        /// The call.
        call: CallId,
        /// Where the peer wants RTP (symmetric RTP may correct it once packets arrive).
        remote: SocketAddr,
        /// The negotiated codec.
        codec: CodecKind,
        /// Its payload type.
        payload_type: u8,
        /// telephone-event payload type, if negotiated.
        dtmf_payload_type: Option<u8>,
        /// Whether we send and/or receive (hold stops both ways).
        direction: Direction,
    },
    /// Send this tone to the peer instead of the microphone (`None`: back to normal).
    Tone {
        /// The call.
        call: CallId,
        /// The tone, from the configured region.
        tone: Option<ToneKind>,
    },
    /// Send DTMF digits (RFC 4733 telephone-events).
    Dtmf {
        /// The call.
        call: CallId,
        /// Digits `0-9 * # A-D`.
        digits: String,
    },
    /// Stop (or resume) sending the microphone.
    Mute {
        /// The call.
        call: CallId,
        /// Muted?
        muted: bool,
    },
    /// Mix a bridge's two legs into the console's own output (supervisor listen-in), or stop.
    Listen {
        /// Either leg of the bridge.
        call: CallId,
        /// Listening?
        on: bool,
    },
    /// Bridge two calls' media (anchored transfer): each hears the other, not the attendant.
    Bridge {
        /// One leg.
        a: CallId,
        /// The other leg.
        b: CallId,
    },
    /// The call is over: stop and release the sockets.
    Close {
        /// The call.
        call: CallId,
    },
    /// Play this tone to the attendant instead of what the call receives (ringback while an
    /// outbound call rings without early media), or stop (`None`).
    LocalTone {
        /// The call.
        call: CallId,
        /// The tone, from the configured region.
        tone: Option<ToneKind>,
    },
    /// Play a tone to the attendant's headset whatever the calls do (the dial tone of an open,
    /// empty dial pad), or stop (`None`).
    AttendantTone {
        /// The tone, from the configured region.
        tone: Option<ToneKind>,
    },
    /// Sound the ring alert (an inbound call waits) on the ring device, or stop it.
    RingAlert {
        /// Ringing?
        on: bool,
    },
}

/// What the media worker reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// A DTMF digit arrived as an RFC 4733 telephone-event.
    Dtmf {
        /// The call.
        call: CallId,
        /// The digit.
        digit: char,
    },
    /// Quality figures (about once a second while media flows).
    Quality {
        /// The call.
        call: CallId,
        /// The figures.
        quality: CallQuality,
    },
    /// The sound devices were opened or switched: what is in use now.
    AudioDevices(AudioStatus),
    /// A sound device disappeared.
    AudioDeviceLost {
        /// Its role.
        role: AudioRole,
        /// Its id.
        device: String,
        /// The device used instead (the system default), or `None`: that role has no device.
        fell_back_to: Option<String>,
    },
}

/// Per-call media negotiation state.
#[derive(Debug, Clone)]
pub(crate) struct MediaState {
    /// Our side: codecs in preference order, address, port, SDP session id/version.
    pub(crate) caps: LocalCapabilities,
    /// The last completed offer/answer.
    pub(crate) negotiated: Option<Negotiated>,
    /// We sent an offer and wait for the answer (initial INVITE, late offer, re-INVITE).
    pub(crate) offer_pending: bool,
}

impl Console {
    /// New media state for a call on `ip` with a fresh port; tells the runtime to bind it.
    pub(crate) fn media_open(&mut self, id: &CallId, ip: std::net::IpAddr) -> MediaState {
        let port = self.allocate_rtp_port();
        let session_id = u64::from(rand::random::<u32>());
        self.media_out.push_back(MediaCommand::Open {
            call: id.clone(),
            local: SocketAddr::new(ip, port),
        });
        MediaState {
            caps: LocalCapabilities {
                codecs: self.config.codecs.clone(),
                dtmf: true,
                ip,
                port,
                ptime: 20,
                session_id,
                session_version: session_id,
            },
            negotiated: None,
            offer_pending: false,
        }
    }

    /// An offer for this call (initial, late, or a hold/resume re-offer with `direction`).
    pub(crate) fn media_offer(&mut self, id: &CallId, direction: Direction) -> Vec<u8> {
        let Some(state) = self.calls.get_mut(id).and_then(|e| e.media.as_mut()) else {
            return Vec::new();
        };
        state.caps.session_version += 1;
        state.offer_pending = true;
        sdp::create_offer(&state.caps, direction).into_bytes()
    }

    /// Answers the peer's `offer`; `wanted` limits our direction (send-only while we hold).
    pub(crate) fn media_answer(
        &mut self,
        id: &CallId,
        offer: &[u8],
        wanted: Direction,
    ) -> Result<Vec<u8>, SdpError> {
        let Some(state) = self.calls.get_mut(id).and_then(|e| e.media.as_mut()) else {
            return Err(SdpError::NoAudio);
        };
        state.caps.session_version += 1;
        let text = String::from_utf8_lossy(offer);
        let negotiated = sdp::answer_with_direction(&text, &state.caps, wanted)?;
        let body = negotiated
            .answer_sdp
            .clone()
            .unwrap_or_default()
            .into_bytes();
        state.negotiated = Some(negotiated);
        state.offer_pending = false;
        self.media_configure(id);
        Ok(body)
    }

    /// Processes the peer's answer to our pending offer.
    pub(crate) fn media_process_answer(&mut self, id: &CallId, answer: &[u8]) {
        let Some(state) = self.calls.get_mut(id).and_then(|e| e.media.as_mut()) else {
            return;
        };
        if answer.is_empty() || !state.offer_pending {
            return;
        }
        let text = String::from_utf8_lossy(answer);
        match sdp::process_answer(&state.caps, &text) {
            Ok(negotiated) => {
                state.negotiated = Some(negotiated);
                state.offer_pending = false;
                self.media_configure(id);
            }
            Err(error) => {
                tracing::warn!(call = %id, %error, "unusable SDP answer; no media for this call");
            }
        }
    }

    /// Early media (183 with SDP): the answer to our offer, provisional.
    pub(crate) fn media_early(&mut self, id: &CallId, answer: &[u8]) {
        let Some(state) = self.calls.get(id).and_then(|e| e.media.as_ref()) else {
            return;
        };
        if answer.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(answer);
        if let Ok(negotiated) = sdp::process_answer(&state.caps, &text) {
            if let Some(state) = self.calls.get_mut(id).and_then(|e| e.media.as_mut()) {
                state.negotiated = Some(negotiated);
            }
            self.media_configure(id);
        }
    }

    /// Tells the worker the stream parameters of the last negotiation.
    fn media_configure(&mut self, id: &CallId) {
        let Some(entry) = self.calls.get_mut(id) else {
            return;
        };
        let Some(n) = entry.media.as_ref().and_then(|m| m.negotiated.clone()) else {
            return;
        };
        entry.call.codec = Some(codec_label(n.codec));
        // Our hold offers a=sendonly (RFC 6337), but we have no music on hold: while we hold,
        // media stops both ways.
        let we_hold = entry.pending_hold == Some(true)
            || (entry.call.held_by == Some(crate::model::HoldSide::Local)
                && entry.pending_hold.is_none());
        let direction = if we_hold {
            Direction::Inactive
        } else {
            n.direction
        };
        self.media_out.push_back(MediaCommand::Configure {
            call: id.clone(),
            remote: n.remote_addr,
            codec: n.codec,
            payload_type: n.payload_type,
            dtmf_payload_type: n.dtmf_payload_type,
            direction,
        });
    }

    /// Plays (or stops) a tone towards the caller.
    pub(crate) fn media_tone(&mut self, id: &CallId, tone: Option<ToneKind>) {
        self.media_out.push_back(MediaCommand::Tone {
            call: id.clone(),
            tone,
        });
    }

    /// The call ended: release its media.
    pub(crate) fn media_close(&mut self, id: &CallId) {
        self.media_out
            .push_back(MediaCommand::Close { call: id.clone() });
    }

    /// `Command::SendDtmf`.
    pub(crate) fn send_dtmf(&mut self, id: &CallId, digits: &str) -> Result<(), ConsoleError> {
        let entry = self.live(id)?;
        if !entry.call.state.is_established() {
            return Err(ConsoleError::WrongState {
                call: id.clone(),
                state: format!("{:?}", entry.call.state).to_lowercase(),
                action: "send DTMF on a call that is not established",
            });
        }
        let digits: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.is_empty()
            || digits.len() > 64
            || !digits
                .chars()
                .all(|c| c.is_ascii_digit() || "*#ABCDabcd".contains(c))
        {
            return Err(ConsoleError::BadRequest(
                "digits must be 1 to 64 of 0-9 * # A-D".into(),
            ));
        }
        let negotiated_dtmf = entry
            .media
            .as_ref()
            .and_then(|m| m.negotiated.as_ref())
            .and_then(|n| n.dtmf_payload_type);
        if negotiated_dtmf.is_none() {
            return Err(ConsoleError::WrongState {
                call: id.clone(),
                state: "no-telephone-event".into(),
                action: "send RFC 4733 DTMF: the peer did not negotiate telephone-event",
            });
        }
        self.media_out.push_back(MediaCommand::Dtmf {
            call: id.clone(),
            digits: digits.to_ascii_uppercase(),
        });
        Ok(())
    }

    /// Feeds a report from the media worker.
    pub fn handle_media_event(&mut self, now: Instant, event: MediaEvent) {
        match event {
            MediaEvent::Dtmf { call, digit } => self.dtmf_received(now, &call, digit, "rfc4733"),
            MediaEvent::Quality { call, quality } => {
                let Some(entry) = self.calls.get_mut(&call) else {
                    return;
                };
                entry.call.quality = Some(quality.clone());
                let snapshot = entry.call.clone();
                self.emit(
                    now,
                    Some(call),
                    EventBody::CallStats {
                        call: snapshot,
                        quality,
                    },
                );
            }
            MediaEvent::AudioDevices(status) => self.audio_changed(now, status),
            MediaEvent::AudioDeviceLost {
                role,
                device,
                fell_back_to,
            } => self.audio_device_lost(now, role, device, fell_back_to),
        }
    }

    /// A digit arrived (RFC 4733 or SIP INFO).
    pub(crate) fn dtmf_received(&mut self, now: Instant, id: &CallId, digit: char, method: &str) {
        let Some(entry) = self.calls.get(id) else {
            return;
        };
        let call = entry.call.clone();
        tracing::info!(call = %id, %digit, method, "DTMF received");
        self.emit(
            now,
            Some(id.clone()),
            EventBody::CallDtmf {
                call,
                digit: digit.to_string(),
                method: method.to_string(),
            },
        );
        self.bridge_dtmf(id, digit);
    }

    /// Starts or stops the ringback the attendant hears while an outbound call rings: on for a
    /// 180 without early media (the calling side generates it, RFC 3960), off for early media
    /// (the far end's 183 with SDP plays instead) and once answered. Never for an anchored
    /// transfer's target leg: the attendant is not in that call.
    pub(crate) fn local_ringback(&mut self, id: &CallId, on: bool) {
        let Some(entry) = self.calls.get_mut(id) else {
            return;
        };
        let wanted = on
            && entry.call.direction == crate::model::Direction::Outbound
            && entry.anchored_for.is_none();
        if entry.local_ringback == wanted {
            return;
        }
        entry.local_ringback = wanted;
        self.media_out.push_back(MediaCommand::LocalTone {
            call: id.clone(),
            tone: wanted.then_some(ToneKind::Ringback),
        });
    }

    /// Next command for the media worker.
    #[must_use]
    pub fn poll_media(&mut self) -> Option<MediaCommand> {
        if self.media_out.is_empty() && std::mem::take(&mut self.calls_changed) {
            self.update_ring_alert();
        }
        self.media_out.pop_front()
    }
}

/// `PCMU/8000`, `opus/48000`...
pub fn codec_label(codec: CodecKind) -> String {
    format!("{}/{}", codec.encoding_name(), codec.clock_rate())
}

/// The direction attribute of the first audio stream of an SDP (`sendrecv` when absent),
/// `inactive` for a `c=0.0.0.0` hold (RFC 2543 style): how the peer wants the stream.
pub fn direction_of(body: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(body);
    let mut direction = "sendrecv";
    for line in text.lines().map(str::trim) {
        match line {
            "a=sendonly" => direction = "sendonly",
            "a=recvonly" => direction = "recvonly",
            "a=inactive" => direction = "inactive",
            "c=IN IP4 0.0.0.0" => return "inactive",
            _ => {}
        }
    }
    direction
}

//! SDP offer/answer (RFC 3264) for one audio stream, on `sdp-types` for parsing and printing.
//!
//! Rules implemented:
//! - We answer every `m=` line in order; non-audio streams, and audio streams we cannot use
//!   (SRTP profiles, port 0), are rejected with port 0. The first usable `m=audio` is ours.
//! - The answerer keeps the offerer's payload type numbers. Static types 0/8 are recognised by
//!   number; dynamic ones by `a=rtpmap` name and rate (`opus/48000/2`).
//! - Codec choice when answering: the offerer's most preferred codec that we support (RFC 3264
//!   §6.1 lets the answerer pick; following the offerer makes "PCMA preferred by the peer"
//!   work). The answer lists only that codec (plus telephone-event) so both sides send the same.
//! - When our offer is answered: the first codec of the answer that we offered.
//! - telephone-event is negotiated only at the chosen codec's clock rate (8000 or 48000).
//! - Direction: ours mirrors theirs (`sendonly` → `recvonly`, `recvonly` → `sendonly`,
//!   `inactive` → `inactive`) intersected with what we want; `c=0.0.0.0` (RFC 2543 hold)
//!   counts as "do not send to me".

use crate::codec::CodecKind;
use sdp_types::{Attribute, Connection, Media, MediaType, Origin, Session, Time, TransportProto};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Media direction (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Send and receive.
    SendRecv,
    /// Send only (we hold the peer: "music on hold" side).
    SendOnly,
    /// Receive only.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// The direction the other side must take: send and receive swapped.
    #[must_use]
    pub fn mirror(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// Whether this direction includes sending.
    #[must_use]
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this direction includes receiving.
    #[must_use]
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// Builds a direction from its two halves.
    #[must_use]
    pub fn from_parts(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Both directions' common part.
    #[must_use]
    pub fn intersect(self, other: Self) -> Self {
        Self::from_parts(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    /// The SDP attribute name.
    #[must_use]
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// What we can do, in preference order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCapabilities {
    /// Codecs, most preferred first.
    pub codecs: Vec<CodecKind>,
    /// Whether we offer/accept RFC 4733 telephone-event.
    pub dtmf: bool,
    /// Our media address (c= line).
    pub ip: IpAddr,
    /// Our RTP port (RTCP on port + 1).
    pub port: u16,
    /// Packetisation time in ms.
    pub ptime: u32,
    /// `o=` session id (stable for the call).
    pub session_id: u64,
    /// `o=` session version: increment for every new offer or changed answer.
    pub session_version: u64,
}

/// The outcome of a negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The answer to send (from [`answer`]); `None` from [`process_answer`].
    pub answer_sdp: Option<String>,
    /// The codec both sides use.
    pub codec: CodecKind,
    /// Its payload type.
    pub payload_type: u8,
    /// The telephone-event payload type, if both support it at the codec's clock rate.
    pub dtmf_payload_type: Option<u8>,
    /// Where to send RTP (c= and m= port). Port 0: the stream is rejected/disabled;
    /// IP 0.0.0.0: the peer holds us (RFC 2543 style).
    pub remote_addr: SocketAddr,
    /// Our direction for this stream.
    pub direction: Direction,
    /// The peer's `a=ptime`, if given.
    pub remote_ptime: Option<u32>,
}

/// Errors of negotiation, each mapping to a SIP response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is not SDP (peer fault → 400).
    #[error("malformed SDP: {0}")]
    Parse(String),
    /// No usable audio stream (→ 488).
    #[error("no usable audio stream")]
    NoAudio,
    /// No codec in common (→ 488 Not Acceptable Here).
    #[error("no common codec")]
    NoCommonCodec,
    /// The answer does not match our offer (wrong m-line count, codec we did not offer).
    #[error("answer does not match the offer: {0}")]
    AnswerMismatch(String),
}

impl SdpError {
    /// The SIP status code to reply with.
    #[must_use]
    pub fn status_code(&self) -> u16 {
        match self {
            SdpError::Parse(_) | SdpError::AnswerMismatch(_) => 400,
            SdpError::NoAudio | SdpError::NoCommonCodec => 488,
        }
    }
}

/// Builds an offer for `caps` (initial INVITE, re-INVITE for hold/resume, or the late offer in
/// a 200 OK to an INVITE without SDP).
#[must_use]
pub fn create_offer(caps: &LocalCapabilities, direction: Direction) -> String {
    let mut formats: Vec<(u8, Option<CodecKind>, Option<u32>)> = caps
        .codecs
        .iter()
        .map(|&c| (c.default_payload_type(), Some(c), None))
        .collect();
    if caps.dtmf {
        let mut rates: Vec<u32> = caps.codecs.iter().map(|c| c.clock_rate()).collect();
        rates.sort_unstable();
        rates.dedup();
        for rate in rates {
            formats.push((dtmf_default_pt(rate), None, Some(rate)));
        }
    }
    session(caps, caps.port, direction, &formats)
}

/// Answers a remote offer with our direction mirrored from theirs.
///
/// # Errors
/// See [`SdpError`]; [`SdpError::NoCommonCodec`] → 488.
pub fn answer(offer: &str, caps: &LocalCapabilities) -> Result<Negotiated, SdpError> {
    answer_with_direction(offer, caps, Direction::SendRecv)
}

/// Answers a remote offer, also limited by the direction we want (`sendonly` when we hold).
///
/// # Errors
/// See [`SdpError`].
pub fn answer_with_direction(
    offer: &str,
    caps: &LocalCapabilities,
    wanted: Direction,
) -> Result<Negotiated, SdpError> {
    let session = parse(offer)?;
    let index = audio_index(&session).ok_or(SdpError::NoAudio)?;
    let media = &session.medias[index];
    let formats = formats(media);
    // Offerer's order, first one we support.
    let chosen = formats
        .iter()
        .find_map(|(pt, kind)| kind.filter(|k| caps.codecs.contains(k)).map(|k| (*pt, k)))
        .ok_or(SdpError::NoCommonCodec)?;
    let (payload_type, codec) = chosen;
    let dtmf_payload_type = if caps.dtmf {
        find_dtmf(media, codec.clock_rate())
    } else {
        None
    };
    let remote_addr = remote_addr(&session, media)?;
    let remote_dir = effective_direction(&session, media, remote_addr.ip());
    let direction = if media.port == 0 {
        Direction::Inactive
    } else {
        remote_dir.mirror().intersect(wanted)
    };

    // The answer: same m-lines in the same order, ours filled in, others rejected.
    let mut out = base_session(caps);
    for (i, m) in session.medias.iter().enumerate() {
        if i == index && media.port != 0 {
            let mut fmts = vec![(payload_type, Some(codec), None)];
            if let Some(pt) = dtmf_payload_type {
                fmts.push((pt, None, Some(codec.clock_rate())));
            }
            out.add_media(audio_media(caps, caps.port, direction, &fmts));
        } else {
            let mut rejected = Media::new(
                m.try_parse_mediatype().unwrap_or(MediaType::Audio),
                0,
                m.parse_transport_proto(),
                &m.fmt,
            );
            rejected.media.clone_from(&m.media);
            rejected.proto.clone_from(&m.proto);
            out.add_media(rejected);
        }
    }
    Ok(Negotiated {
        answer_sdp: Some(out.to_string()),
        codec,
        payload_type,
        dtmf_payload_type,
        remote_addr,
        direction,
        remote_ptime: ptime(media),
    })
}

/// Processes the answer to an offer we made with `caps` (from [`create_offer`]).
///
/// # Errors
/// [`SdpError::AnswerMismatch`] if the answer picks a codec we did not offer;
/// [`SdpError::NoCommonCodec`] if it lists none we know.
pub fn process_answer(caps: &LocalCapabilities, answer: &str) -> Result<Negotiated, SdpError> {
    let session = parse(answer)?;
    let index = session
        .medias
        .iter()
        .position(|m| m.media.eq_ignore_ascii_case("audio"))
        .ok_or(SdpError::NoAudio)?;
    let media = &session.medias[index];
    let remote_addr = remote_addr(&session, media)?;
    let formats = formats(media);
    let known: Vec<(u8, CodecKind)> = formats
        .iter()
        .filter_map(|(pt, k)| k.map(|k| (*pt, k)))
        .collect();
    let (payload_type, codec) = match known.iter().find(|(_, k)| caps.codecs.contains(k)) {
        Some(&found) => found,
        None if media.port == 0 => {
            // Rejected stream: keep a codec for the record, nothing will flow.
            let codec = caps
                .codecs
                .first()
                .copied()
                .ok_or(SdpError::NoCommonCodec)?;
            (codec.default_payload_type(), codec)
        }
        None if known.is_empty() => return Err(SdpError::NoCommonCodec),
        None => return Err(SdpError::AnswerMismatch("codec not offered".into())),
    };
    let dtmf_payload_type = if caps.dtmf {
        find_dtmf(media, codec.clock_rate())
    } else {
        None
    };
    let direction = if media.port == 0 {
        Direction::Inactive
    } else {
        effective_direction(&session, media, remote_addr.ip()).mirror()
    };
    Ok(Negotiated {
        answer_sdp: None,
        codec,
        payload_type,
        dtmf_payload_type,
        remote_addr,
        direction,
        remote_ptime: ptime(media),
    })
}

fn dtmf_default_pt(rate: u32) -> u8 {
    if rate == 8000 { 101 } else { 102 }
}

fn parse(text: &str) -> Result<Session, SdpError> {
    Session::parse(text.as_bytes()).map_err(|e| SdpError::Parse(e.to_string()))
}

fn audio_index(session: &Session) -> Option<usize> {
    session.medias.iter().position(|m| {
        m.media.eq_ignore_ascii_case("audio")
            && (m.proto.eq_ignore_ascii_case("RTP/AVP") || m.proto.eq_ignore_ascii_case("RTP/AVPF"))
    })
}

/// Payload types of an m-line with the codec each one is (if we know it).
fn formats(media: &Media) -> Vec<(u8, Option<CodecKind>)> {
    media
        .fmt
        .split_ascii_whitespace()
        .filter_map(|f| f.parse::<u8>().ok())
        .map(|pt| {
            let kind = match rtpmap(media, pt) {
                Some((name, rate, channels)) => CodecKind::ALL.into_iter().find(|k| {
                    k.encoding_name().eq_ignore_ascii_case(&name)
                        && k.clock_rate() == rate
                        && (*k != CodecKind::Opus || channels == Some(2))
                }),
                None => match pt {
                    0 => Some(CodecKind::Pcmu),
                    8 => Some(CodecKind::Pcma),
                    _ => None,
                },
            };
            (pt, kind)
        })
        .collect()
}

/// `a=rtpmap:<pt> <name>/<rate>[/<channels>]` for `pt`.
fn rtpmap(media: &Media, pt: u8) -> Option<(String, u32, Option<u8>)> {
    media
        .attributes
        .iter()
        .filter(|a| a.attribute == "rtpmap")
        .find_map(|a| {
            let value = a.value.as_deref()?;
            let (num, rest) = value.split_once(' ')?;
            if num.trim().parse::<u8>().ok()? != pt {
                return None;
            }
            let mut parts = rest.trim().split('/');
            let name = parts.next()?.to_owned();
            let rate = parts.next()?.parse().ok()?;
            let channels = parts.next().and_then(|c| c.parse().ok());
            Some((name, rate, channels))
        })
}

fn find_dtmf(media: &Media, rate: u32) -> Option<u8> {
    formats(media).into_iter().map(|(pt, _)| pt).find(|&pt| {
        rtpmap(media, pt)
            .is_some_and(|(name, r, _)| name.eq_ignore_ascii_case("telephone-event") && r == rate)
    })
}

fn ptime(media: &Media) -> Option<u32> {
    media
        .attributes
        .iter()
        .find(|a| a.attribute == "ptime")
        .and_then(|a| a.value.as_deref()?.trim().parse().ok())
}

fn remote_addr(session: &Session, media: &Media) -> Result<SocketAddr, SdpError> {
    let connection = media
        .connections
        .first()
        .or(session.connection.as_ref())
        .ok_or_else(|| SdpError::Parse("no c= line".into()))?;
    let ip = connection
        .try_address()
        .map_err(|e| SdpError::Parse(e.to_string()))?
        .ip;
    Ok(SocketAddr::new(ip, media.port))
}

fn direction_attr(attrs: &[Attribute]) -> Option<Direction> {
    attrs.iter().find_map(|a| match a.attribute.as_str() {
        "sendrecv" => Some(Direction::SendRecv),
        "sendonly" => Some(Direction::SendOnly),
        "recvonly" => Some(Direction::RecvOnly),
        "inactive" => Some(Direction::Inactive),
        _ => None,
    })
}

/// The peer's direction, with `c=0.0.0.0` meaning it does not want to receive.
fn effective_direction(session: &Session, media: &Media, ip: IpAddr) -> Direction {
    let declared = direction_attr(&media.attributes)
        .or_else(|| direction_attr(&session.attributes))
        .unwrap_or(Direction::SendRecv);
    if ip.is_unspecified() {
        Direction::from_parts(declared.sends(), false)
    } else {
        declared
    }
}

fn base_session(caps: &LocalCapabilities) -> Session {
    let mut s = Session::new(
        Origin::with_ip_addr(caps.session_id, caps.session_version, caps.ip),
        "Switchboard",
    );
    s.set_connection(Connection::from_ip_addr(caps.ip));
    s.add_time(Time::new(0, 0));
    s
}

fn session(
    caps: &LocalCapabilities,
    port: u16,
    direction: Direction,
    formats: &[(u8, Option<CodecKind>, Option<u32>)],
) -> String {
    let mut s = base_session(caps);
    s.add_media(audio_media(caps, port, direction, formats));
    s.to_string()
}

/// An `m=audio` section: formats are (pt, codec) or (pt, telephone-event rate).
fn audio_media(
    caps: &LocalCapabilities,
    port: u16,
    direction: Direction,
    formats: &[(u8, Option<CodecKind>, Option<u32>)],
) -> Media {
    let fmt = formats
        .iter()
        .map(|(pt, _, _)| pt.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let mut m = Media::new(MediaType::Audio, port, TransportProto::RtpAvp, fmt);
    for &(pt, codec, dtmf_rate) in formats {
        if let Some(codec) = codec {
            let map = match codec.rtpmap_channels() {
                Some(ch) => format!("{pt} {}/{}/{ch}", codec.encoding_name(), codec.clock_rate()),
                None => format!("{pt} {}/{}", codec.encoding_name(), codec.clock_rate()),
            };
            m.add_attribute_with_value("rtpmap", map);
            if codec == CodecKind::Opus {
                m.add_attribute_with_value("fmtp", format!("{pt} useinbandfec=1"));
            }
        } else if let Some(rate) = dtmf_rate {
            m.add_attribute_with_value("rtpmap", format!("{pt} telephone-event/{rate}"));
            m.add_attribute_with_value("fmtp", format!("{pt} 0-16"));
        }
    }
    m.add_attribute_with_value("ptime", caps.ptime);
    m.add_attribute(Attribute::new(direction.attribute()));
    m
}

/// The address used on hold in RFC 2543 style offers, for callers that want to recognise it.
pub const HOLD_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

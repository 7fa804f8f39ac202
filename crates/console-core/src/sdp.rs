//! Minimal SDP offer/answer for signalling-only calls (RFC 3264 subset): one audio stream,
//! PCMU/PCMA and telephone-event. The media engine replaces this with full negotiation, real
//! RTP ports and Opus; until then the console answers calls with a valid SDP so peers set the
//! call up.

use std::fmt::Write as _;
use std::net::IpAddr;

/// The offer had no audio codec we support (answer 488).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoCommonCodec;

/// An offer for `ip:port` with PCMU, PCMA and telephone-event.
pub fn offer(ip: IpAddr, port: u16, session_version: u64) -> Vec<u8> {
    render(
        ip,
        port,
        session_version,
        &[(0, "PCMU/8000"), (8, "PCMA/8000")],
        Some(101),
    )
}

/// An offer with an explicit direction: `sendonly` to hold the peer (RFC 3264 §8.4),
/// `sendrecv` to resume.
pub fn offer_with_direction(
    ip: IpAddr,
    port: u16,
    session_version: u64,
    direction: &str,
) -> Vec<u8> {
    let body = offer(ip, port, session_version);
    String::from_utf8_lossy(&body)
        .replace("a=sendrecv", &format!("a={direction}"))
        .into_bytes()
}

/// The direction attribute of the first audio stream of an SDP (`sendrecv` when absent),
/// `inactive` for a `c=0.0.0.0` hold (RFC 2543 style).
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

/// The answer to `offer`. An empty offer (late offer, offer in the ACK) gets our offer.
pub fn answer(
    offer_body: &[u8],
    ip: IpAddr,
    port: u16,
    session_version: u64,
) -> Result<Vec<u8>, NoCommonCodec> {
    let text = String::from_utf8_lossy(offer_body);
    if text.trim().is_empty() {
        return Ok(offer(ip, port, session_version));
    }
    let mut formats: Vec<String> = Vec::new();
    let mut rtpmap: Vec<(String, String)> = Vec::new();
    let mut in_audio = false;
    let mut direction = "sendrecv";
    for line in text.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            let mut parts = m.split_whitespace();
            in_audio = parts.next() == Some("audio") && formats.is_empty();
            if in_audio {
                let _port = parts.next();
                let _proto = parts.next();
                formats = parts.map(str::to_string).collect();
            }
        } else if in_audio {
            if let Some(map) = line.strip_prefix("a=rtpmap:")
                && let Some((pt, enc)) = map.split_once(' ')
            {
                rtpmap.push((pt.to_string(), enc.to_ascii_uppercase()));
            }
            direction = match line {
                "a=sendonly" => "recvonly",
                "a=recvonly" => "sendonly",
                "a=inactive" => "inactive",
                _ => direction,
            };
        }
    }
    let encoding = |pt: &str| -> Option<String> {
        rtpmap
            .iter()
            .find(|(p, _)| p == pt)
            .map(|(_, e)| e.clone())
            .or(match pt {
                "0" => Some("PCMU/8000".into()),
                "8" => Some("PCMA/8000".into()),
                _ => None,
            })
    };
    let codec = formats.iter().find_map(|pt| {
        let enc = encoding(pt)?;
        (enc.starts_with("PCMU/8000") || enc.starts_with("PCMA/8000"))
            .then(|| (pt.parse::<u8>().ok(), enc))
    });
    let Some((Some(pt), enc)) = codec else {
        return Err(NoCommonCodec);
    };
    let dtmf = formats.iter().find_map(|p| {
        let enc = encoding(p)?;
        enc.starts_with("TELEPHONE-EVENT/8000")
            .then(|| p.parse::<u8>().ok())
            .flatten()
    });
    let mut body = render(
        ip,
        port,
        session_version,
        &[(pt, enc.trim_end_matches("/1").trim())],
        dtmf,
    );
    if direction != "sendrecv" {
        let s = String::from_utf8_lossy(&body).replace("a=sendrecv", &format!("a={direction}"));
        body = s.into_bytes();
    }
    Ok(body)
}

fn render(ip: IpAddr, port: u16, version: u64, codecs: &[(u8, &str)], dtmf: Option<u8>) -> Vec<u8> {
    let family = if ip.is_ipv6() { "IP6" } else { "IP4" };
    let mut pts: Vec<String> = codecs.iter().map(|(pt, _)| pt.to_string()).collect();
    if let Some(d) = dtmf {
        pts.push(d.to_string());
    }
    let mut s = String::new();
    let _ = write!(
        s,
        "v=0\r\no=switchboard {version} {version} IN {family} {ip}\r\ns=Switchboard\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {}\r\n",
        pts.join(" ")
    );
    for (pt, enc) in codecs {
        let _ = write!(s, "a=rtpmap:{pt} {}\r\n", enc);
    }
    if let Some(d) = dtmf {
        let _ = write!(
            s,
            "a=rtpmap:{d} telephone-event/8000\r\na=fmtp:{d} 0-16\r\n"
        );
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn answers_pcmu_offer_with_pcmu_and_dtmf() {
        let offer = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let answer =
            String::from_utf8(answer(offer, IP, 20000, 1).expect("common codec")).expect("utf8");
        assert!(answer.contains("m=audio 20000 RTP/AVP 0 101"), "{answer}");
        assert!(answer.contains("a=sendrecv"));
    }

    #[test]
    fn no_common_codec_is_refused() {
        let offer =
            b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 6000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        assert_eq!(answer(offer, IP, 20000, 1), Err(NoCommonCodec));
    }

    #[test]
    fn hold_offer_is_answered_recvonly() {
        let offer = b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 6000 RTP/AVP 8\r\na=sendonly\r\n";
        let answer = String::from_utf8(answer(offer, IP, 20000, 1).expect("pcma")).expect("utf8");
        assert!(answer.contains("m=audio 20000 RTP/AVP 8\r\n"), "{answer}");
        assert!(answer.contains("a=recvonly"), "{answer}");
    }

    #[test]
    fn late_offer_gets_our_offer() {
        let body = String::from_utf8(answer(b"", IP, 20000, 1).expect("offer")).expect("utf8");
        assert!(body.contains("m=audio 20000 RTP/AVP 0 8 101"), "{body}");
    }
}

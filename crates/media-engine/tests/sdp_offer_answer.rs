//! RFC 3264 offer/answer tables.
#![allow(missing_docs)]

use media_engine::codec::CodecKind::{self, Opus, Pcma, Pcmu};
use media_engine::sdp::{
    Direction, LocalCapabilities, SdpError, answer, answer_with_direction, create_offer,
    process_answer,
};
use std::net::SocketAddr;

fn caps(codecs: &[CodecKind]) -> LocalCapabilities {
    LocalCapabilities {
        codecs: codecs.to_vec(),
        dtmf: true,
        ip: "192.0.2.10".parse().expect("ip"),
        port: 40000,
        ptime: 20,
        session_id: 42,
        session_version: 1,
    }
}

fn peer_offer(fmts: &str, maps: &[&str], extra: &[&str], c: &str, port: u16) -> String {
    let mut s = format!(
        "v=0\r\no=peer 1 1 IN IP4 {c}\r\ns=-\r\nc=IN IP4 {c}\r\nt=0 0\r\nm=audio {port} RTP/AVP {fmts}\r\n"
    );
    for m in maps {
        s.push_str(&format!("a=rtpmap:{m}\r\n"));
    }
    for e in extra {
        s.push_str(&format!("a={e}\r\n"));
    }
    s
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket addr")
}

struct Case {
    name: &'static str,
    ours: &'static [CodecKind],
    offer: String,
    codec: Result<(CodecKind, u8), SdpError>,
    dtmf: Option<u8>,
    direction: Direction,
    remote: &'static str,
}

#[test]
fn answer_table() {
    let cases = vec![
        Case {
            name: "plain PCMU with telephone-event",
            ours: &[Pcmu, Pcma],
            offer: peer_offer(
                "0 8 101",
                &["0 PCMU/8000", "8 PCMA/8000", "101 telephone-event/8000"],
                &["sendrecv"],
                "198.51.100.5",
                5004,
            ),
            codec: Ok((Pcmu, 0)),
            dtmf: Some(101),
            direction: Direction::SendRecv,
            remote: "198.51.100.5:5004",
        },
        Case {
            name: "PCMA preferred by the peer wins over our PCMU preference",
            ours: &[Pcmu, Pcma],
            offer: peer_offer(
                "8 0 101",
                &["101 telephone-event/8000"],
                &[],
                "198.51.100.5",
                5004,
            ),
            codec: Ok((Pcma, 8)),
            dtmf: Some(101),
            direction: Direction::SendRecv,
            remote: "198.51.100.5:5004",
        },
        Case {
            name: "no common codec",
            ours: &[Pcmu],
            offer: peer_offer(
                "9 18",
                &["9 G722/8000", "18 G729/8000"],
                &[],
                "198.51.100.5",
                5004,
            ),
            codec: Err(SdpError::NoCommonCodec),
            dtmf: None,
            direction: Direction::Inactive,
            remote: "0.0.0.0:0",
        },
        Case {
            name: "Opus only, dynamic PTs, telephone-event at 48 kHz chosen over 8 kHz",
            ours: &[Opus, Pcmu],
            offer: peer_offer(
                "96 97 98",
                &[
                    "96 opus/48000/2",
                    "97 telephone-event/8000",
                    "98 telephone-event/48000",
                ],
                &["fmtp:96 useinbandfec=1"],
                "198.51.100.7",
                6000,
            ),
            codec: Ok((Opus, 96)),
            dtmf: Some(98),
            direction: Direction::SendRecv,
            remote: "198.51.100.7:6000",
        },
        Case {
            name: "peer holds us with sendonly",
            ours: &[Pcmu],
            offer: peer_offer("0", &[], &["sendonly"], "198.51.100.5", 5004),
            codec: Ok((Pcmu, 0)),
            dtmf: None,
            direction: Direction::RecvOnly,
            remote: "198.51.100.5:5004",
        },
        Case {
            name: "peer holds us with inactive",
            ours: &[Pcmu],
            offer: peer_offer("0", &[], &["inactive"], "198.51.100.5", 5004),
            codec: Ok((Pcmu, 0)),
            dtmf: None,
            direction: Direction::Inactive,
            remote: "198.51.100.5:5004",
        },
        Case {
            name: "RFC 2543 hold with c=0.0.0.0",
            ours: &[Pcmu],
            offer: peer_offer("0", &[], &[], "0.0.0.0", 5004),
            codec: Ok((Pcmu, 0)),
            dtmf: None,
            direction: Direction::RecvOnly,
            remote: "0.0.0.0:5004",
        },
        Case {
            name: "resume after hold",
            ours: &[Pcmu],
            offer: peer_offer("0", &[], &["sendrecv"], "198.51.100.5", 5004),
            codec: Ok((Pcmu, 0)),
            dtmf: None,
            direction: Direction::SendRecv,
            remote: "198.51.100.5:5004",
        },
        Case {
            name: "re-INVITE with a new address and port",
            ours: &[Pcmu],
            offer: peer_offer("0", &[], &[], "203.0.113.9", 7078),
            codec: Ok((Pcmu, 0)),
            dtmf: None,
            direction: Direction::SendRecv,
            remote: "203.0.113.9:7078",
        },
        Case {
            name: "PCMU offered with a dynamic PT and odd case",
            ours: &[Pcmu],
            offer: peer_offer(
                "100 120",
                &["100 pcmu/8000", "120 TELEPHONE-EVENT/8000"],
                &[],
                "198.51.100.5",
                5004,
            ),
            codec: Ok((Pcmu, 100)),
            dtmf: Some(120),
            direction: Direction::SendRecv,
            remote: "198.51.100.5:5004",
        },
        Case {
            name: "Opus at the wrong rate is not Opus",
            ours: &[Opus],
            offer: peer_offer("96", &["96 opus/16000/1"], &[], "198.51.100.5", 5004),
            codec: Err(SdpError::NoCommonCodec),
            dtmf: None,
            direction: Direction::Inactive,
            remote: "0.0.0.0:0",
        },
    ];
    for case in cases {
        let result = answer(&case.offer, &caps(case.ours));
        match (&case.codec, result) {
            (Err(expected), Err(got)) => {
                assert_eq!(&got, expected, "{}", case.name);
                assert_eq!(got.status_code(), 488);
            }
            (Ok((codec, pt)), Ok(n)) => {
                assert_eq!((n.codec, n.payload_type), (*codec, *pt), "{}", case.name);
                assert_eq!(n.dtmf_payload_type, case.dtmf, "{}", case.name);
                assert_eq!(n.direction, case.direction, "{}", case.name);
                assert_eq!(n.remote_addr, addr(case.remote), "{}", case.name);
                let sdp = n.answer_sdp.expect("answers carry SDP");
                // The answer is valid SDP that our own offerer side understands.
                let back = process_answer(&caps(case.ours), &sdp).expect(case.name);
                assert_eq!(back.codec, *codec, "{}", case.name);
                assert_eq!(back.payload_type, *pt, "{}", case.name);
                assert_eq!(back.direction, case.direction.mirror(), "{}", case.name);
                assert!(
                    sdp.contains(&format!("a={}\r\n", case.direction.attribute())),
                    "{}",
                    case.name
                );
                assert!(sdp.contains("a=ptime:20"));
            }
            (expected, got) => panic!("{}: expected {expected:?}, got {got:?}", case.name),
        }
    }
}

#[test]
fn offer_lists_our_codecs_with_opus_fec_and_both_dtmf_rates() {
    let offer = create_offer(&caps(&[Opus, Pcmu, Pcma]), Direction::SendRecv);
    assert!(
        offer.contains("m=audio 40000 RTP/AVP 111 0 8 101 102\r\n"),
        "{offer}"
    );
    assert!(offer.contains("a=rtpmap:111 opus/48000/2\r\n"));
    assert!(offer.contains("a=fmtp:111 useinbandfec=1\r\n"));
    assert!(offer.contains("a=rtpmap:101 telephone-event/8000\r\n"));
    assert!(offer.contains("a=rtpmap:102 telephone-event/48000\r\n"));
    assert!(offer.contains("c=IN IP4 192.0.2.10\r\n"));
    assert!(offer.contains("a=sendrecv\r\n"));
    // Our own offer answered by ourselves (loopback) picks Opus with the 48 kHz event.
    let n = answer(&offer, &caps(&[Pcmu, Opus])).expect("common codec");
    assert_eq!(
        (n.codec, n.payload_type, n.dtmf_payload_type),
        (Opus, 111, Some(102))
    );
}

#[test]
fn we_hold_and_resume_by_offer() {
    let ours = caps(&[Pcmu]);
    let hold = create_offer(&ours, Direction::SendOnly);
    assert!(hold.contains("a=sendonly\r\n"));
    // The peer answers recvonly; we then send only.
    let n = answer(&hold, &caps(&[Pcmu])).expect("peer answers");
    assert_eq!(n.direction, Direction::RecvOnly);
    let sdp = n.answer_sdp.expect("sdp");
    assert_eq!(
        process_answer(&ours, &sdp).expect("ok").direction,
        Direction::SendOnly
    );
    // Inactive hold both ways.
    let hold = create_offer(&ours, Direction::Inactive);
    let n = answer(&hold, &caps(&[Pcmu])).expect("peer answers");
    assert_eq!(n.direction, Direction::Inactive);
    // We hold while the peer re-offers sendrecv: our answer is sendonly.
    let offer = peer_offer("0", &[], &["sendrecv"], "198.51.100.5", 5004);
    let n = answer_with_direction(&offer, &ours, Direction::SendOnly).expect("ok");
    assert_eq!(n.direction, Direction::SendOnly);
    // Resume.
    let resume = create_offer(&ours, Direction::SendRecv);
    let n = answer(&resume, &caps(&[Pcmu])).expect("ok");
    assert_eq!(n.direction, Direction::SendRecv);
}

#[test]
fn late_offer_in_200_answered_in_ack() {
    // INVITE without SDP: we put an offer in the 200 OK; the ACK carries the answer.
    let ours = caps(&[Pcmu, Pcma]);
    let offer = create_offer(&ours, Direction::SendRecv);
    let ack_answer = "v=0\r\no=- 5 5 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\n\
                      m=audio 9000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n";
    assert!(offer.contains("RTP/AVP 0 8 101"));
    let n = process_answer(&ours, ack_answer).expect("valid answer");
    assert_eq!(
        (n.codec, n.payload_type, n.dtmf_payload_type),
        (Pcma, 8, Some(101))
    );
    assert_eq!(n.remote_addr, addr("198.51.100.5:9000"));
    assert_eq!(n.remote_ptime, Some(20));
    assert!(n.answer_sdp.is_none());
    // An answer that picks a codec we did not offer is refused.
    let bad = "v=0\r\no=- 5 5 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\n\
               m=audio 9000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";
    assert!(matches!(
        process_answer(&ours, bad),
        Err(SdpError::AnswerMismatch(_))
    ));
}

#[test]
fn rejected_streams_and_extra_media() {
    let ours = caps(&[Pcmu]);
    // Video is rejected with port 0 and the m-line order is kept.
    let offer = "v=0\r\no=- 1 1 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\n\
                 m=video 5006 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n\
                 m=audio 5004 RTP/AVP 0\r\n";
    let n = answer(offer, &ours).expect("audio usable");
    let sdp = n.answer_sdp.expect("sdp");
    let video = sdp.find("m=video 0 RTP/AVP 96").expect("video rejected");
    let audio = sdp.find("m=audio 40000 RTP/AVP 0").expect("audio accepted");
    assert!(video < audio);
    // An answer rejecting our audio stream (port 0) disables it.
    let rejected = "v=0\r\no=- 1 1 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\n\
                    m=audio 0 RTP/AVP 0\r\n";
    let n = process_answer(&ours, rejected).expect("rejection is an answer");
    assert_eq!(n.remote_addr.port(), 0);
    assert_eq!(n.direction, Direction::Inactive);
    // Garbage and SRTP-only offers.
    assert_eq!(
        answer("hello", &ours).map_err(|e| e.status_code()),
        Err(400)
    );
    let srtp = "v=0\r\no=- 1 1 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\n\
                m=audio 5004 RTP/SAVP 0\r\n";
    assert_eq!(answer(srtp, &ours), Err(SdpError::NoAudio));
    // IPv6 media address.
    let v6 = "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n\
              m=audio 5004 RTP/AVP 0\r\n";
    assert_eq!(
        answer(v6, &ours).expect("v6").remote_addr,
        addr("[2001:db8::1]:5004")
    );
}

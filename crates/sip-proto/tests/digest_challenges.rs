//! 401/407 challenges answered with credentials (RFC 3261 §22, RFC 7616): on the initial
//! INVITE and on requests inside the dialog, in virtual time with a hand-played server.

mod sim;

use sim::{Link, Sim, addr};
use sip_message::MessageExt;
use sip_message::rsip::{Method, SipMessage};
use sip_proto::InviteParams;
use sip_proto::auth::Credentials;
use std::time::Duration;

const SERVER: u16 = 5009;

fn params() -> InviteParams {
    InviteParams {
        request_uri: format!("sip:bob@127.0.0.1:{SERVER}"),
        from: "<sip:alice@127.0.0.1:5001>".into(),
        to: format!("<sip:bob@127.0.0.1:{SERVER}>"),
        contact_user: "alice".into(),
        outbound_proxy: None,
        credentials: Some(Credentials {
            username: "alice".into(),
            password: "secret".into(),
        }),
        headers: vec![],
        sdp: vec![],
    }
}

fn requests(sim: &Sim, method: Method) -> Vec<sip_message::rsip::Request> {
    sim.wire
        .iter()
        .filter_map(|(_, _, _, m)| match m {
            SipMessage::Request(r) if r.method == method => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// A response to `req` from the hand-played server.
fn reply(
    req: &sip_message::rsip::Request,
    status: &str,
    extra: &str,
    to_tag: Option<&str>,
) -> String {
    let to = req.header_value("To").unwrap_or_default().to_string();
    let to = match to_tag {
        Some(tag) if !to.contains("tag=") => format!("{to};tag={tag}"),
        _ => to,
    };
    format!(
        "SIP/2.0 {status}\r\nVia: {}\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
        req.header_value("Via").unwrap_or_default(),
        req.header_value("From").unwrap_or_default(),
        req.header_value("Call-ID").unwrap_or_default(),
        req.header_value("CSeq").unwrap_or_default(),
    )
}

#[test]
fn invite_and_bye_challenges_are_answered_with_credentials() {
    let mut sim = Sim::new(7, Link::perfect(), &[5001]);
    let now = sim.now;
    let session = sim.agents[0].1.invite(now, params()).expect("invite");
    sim.flush();
    let first = requests(&sim, Method::Invite)[0].clone();
    assert!(first.header_value("Proxy-Authorization").is_none());

    // 407: the agent ACKs it and sends the INVITE again with Proxy-Authorization.
    let challenge = "Proxy-Authenticate: Digest realm=\"pbx.test\", nonce=\"abc123\", qop=\"auth\", algorithm=MD5\r\n";
    sim.inject(
        0,
        addr(SERVER),
        reply(
            &first,
            "407 Proxy Authentication Required",
            challenge,
            Some("srv1"),
        )
        .as_bytes(),
    );
    let acks = requests(&sim, Method::Ack);
    assert_eq!(acks.len(), 1, "the 407 is ACKed inside its transaction");
    let invites = requests(&sim, Method::Invite);
    assert_eq!(invites.len(), 2);
    let second = &invites[1];
    let auth = second
        .header_value("Proxy-Authorization")
        .expect("credentials");
    assert!(
        auth.starts_with("Digest ")
            && auth.contains("username=\"alice\"")
            && auth.contains("nc=00000001"),
        "{auth}"
    );
    assert_eq!(second.call_id(), first.call_id(), "same Call-ID");
    assert_eq!(second.from_tag(), first.from_tag(), "same From tag");
    assert!(
        second.cseq().map(|c| c.0) > first.cseq().map(|c| c.0),
        "higher CSeq"
    );

    // 200: answered; hang up and challenge the BYE with 401.
    sim.inject(
        0,
        addr(SERVER),
        reply(
            second,
            "200 OK",
            &format!("Contact: <sip:bob@127.0.0.1:{SERVER}>\r\n"),
            Some("srv2"),
        )
        .as_bytes(),
    );
    let now = sim.now;
    sim.agents[0].1.hangup(now, session).expect("bye");
    sim.flush();
    let bye = requests(&sim, Method::Bye)[0].clone();
    let challenge = "WWW-Authenticate: Digest realm=\"pbx.test\", nonce=\"def456\", qop=\"auth\", algorithm=SHA-256\r\n";
    sim.inject(
        0,
        addr(SERVER),
        reply(&bye, "401 Unauthorized", challenge, None).as_bytes(),
    );
    let byes = requests(&sim, Method::Bye);
    assert_eq!(byes.len(), 2, "BYE sent again");
    let auth = byes[1]
        .header_value("Authorization")
        .expect("credentials on the BYE");
    assert!(
        auth.contains("algorithm=SHA-256") && auth.contains("nonce=\"def456\""),
        "{auth}"
    );
    assert!(byes[1].cseq().map(|c| c.0) > bye.cseq().map(|c| c.0));
    assert_ne!(byes[1].branch(), bye.branch(), "a new transaction");
}

#[test]
fn a_second_challenge_with_the_same_credentials_gives_up() {
    let mut sim = Sim::new(8, Link::perfect(), &[5001]);
    let now = sim.now;
    sim.agents[0].1.invite(now, params()).expect("invite");
    sim.flush();
    let challenge =
        "Proxy-Authenticate: Digest realm=\"pbx.test\", nonce=\"n1\", algorithm=MD5\r\n";
    for round in 0..3 {
        let last = requests(&sim, Method::Invite)
            .last()
            .cloned()
            .expect("invite");
        sim.inject(
            0,
            addr(SERVER),
            reply(
                &last,
                "407 Proxy Authentication Required",
                challenge,
                Some("s"),
            )
            .as_bytes(),
        );
        let _ = round;
    }
    // Initial INVITE plus at most two authenticated retries; then the call fails with 407.
    assert!(requests(&sim, Method::Invite).len() <= 3);
    sim.run_until(Duration::from_secs(1), |_| false);
    assert!(sim.events[0].iter().any(|(_, e)| matches!(
        e,
        sip_proto::UaEvent::Terminated {
            reason: sip_proto::TerminationReason::Failed(407),
            ..
        }
    )));
}

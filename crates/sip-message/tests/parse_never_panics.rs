//! Robustness: `parse` (and everything that reads a parsed message) never panics on mutated
//! real messages or arbitrary bytes, and what parses also prints and re-parses.

use proptest::prelude::*;
use sip_message::headers::{Event, ReferSub, ReferTo, ReferredBy, Replaces, SubscriptionState};
use sip_message::{MessageExt, ParseError, parse, sipfrag, to_bytes};

const CORPUS: [&[u8]; 4] = [
    include_bytes!("corpus/invite.sip"),
    include_bytes!("corpus/ok.sip"),
    include_bytes!("corpus/refer.sip"),
    include_bytes!("corpus/notify.sip"),
];

/// One edit applied to a message.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    DuplicateLine(usize),
    HugeNumber(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b"\r\n".to_vec(),
        b"\r\n\r\n".to_vec(),
        b",".to_vec(),
        b";".to_vec(),
        b"<".to_vec(),
        b">".to_vec(),
        b"\"".to_vec(),
        b"%".to_vec(),
        b":".to_vec(),
        b" ".to_vec(),
        b"\t".to_vec(),
        b"\0".to_vec(),
        vec![0xff, 0xfe],
        "é".as_bytes().to_vec(),
        b"\r\n l: 9999\r\n".to_vec(),
        b"\r\nv: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK;rport, SIP/2.0/TCP x\r\n".to_vec(),
        b"\r\nContact: *\r\n".to_vec(),
        b"sip:[::ffff:1.2.3.4]:99999".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1..40usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::HugeNumber),
    ]
}

fn apply(msg: &mut Vec<u8>, m: &Mutation) {
    let len = msg.len().max(1);
    match m {
        Mutation::Flip(i, x) => {
            if let Some(b) = msg.get_mut(i % len) {
                *b ^= x;
            }
        }
        Mutation::Truncate(i) => msg.truncate(i % len),
        Mutation::Insert(i, bytes) => {
            let at = (i % len).min(msg.len());
            msg.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let at = (i % len).min(msg.len());
            let end = (at + n).min(msg.len());
            msg.drain(at..end);
        }
        Mutation::DuplicateLine(i) => {
            let starts: Vec<usize> = std::iter::once(0)
                .chain(
                    msg.windows(2)
                        .enumerate()
                        .filter(|(_, w)| w == b"\r\n")
                        .map(|(j, _)| j + 2),
                )
                .filter(|s| *s < msg.len())
                .collect();
            let Some(&start) = starts.get(i % starts.len().max(1)) else {
                return;
            };
            let end = msg[start..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .map_or(msg.len(), |p| start + p + 2);
            let line = msg[start..end].to_vec();
            msg.splice(end..end, line);
        }
        Mutation::HugeNumber(i) => {
            // Replace the digit run at or after i with a number far beyond u64.
            let from = i % len;
            if let Some(p) = msg.iter().skip(from).position(u8::is_ascii_digit) {
                let s = from + p;
                let e = msg[s..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(msg.len(), |q| s + q);
                msg.splice(
                    s..e,
                    b"340282366920938463463374607431768211456999"
                        .iter()
                        .copied(),
                );
            }
        }
    }
}

/// Reads everything a higher layer might read; panics only if our own code is wrong.
fn exercise(bytes: &[u8]) -> Result<(), ParseError> {
    let msg = parse(bytes)?;
    let _ = msg.top_via();
    let _ = (
        msg.branch(),
        msg.call_id(),
        msg.from_tag(),
        msg.to_tag(),
        msg.cseq(),
    );
    let _ = (
        msg.content_type(),
        msg.header_values("Via"),
        msg.header_value("x"),
    );
    let _ = ReferTo::from_message(&msg).map(|r| r.map(|r| (r.to_string(), r.embedded_replaces())));
    let _ = ReferredBy::from_message(&msg).map(|r| r.map(|r| r.to_string()));
    let _ = Replaces::from_message(&msg).map(|r| r.map(|r| r.to_uri_header_value()));
    let _ = Event::from_message(&msg).map(|r| r.map(|r| r.to_string()));
    let _ = SubscriptionState::from_message(&msg).map(|r| r.map(|r| r.to_string()));
    let _ = ReferSub::from_message(&msg);
    let _ = sipfrag::parse_status(msg.body());
    let printed = to_bytes(&msg);
    let again = parse(&printed);
    assert!(
        again.is_ok(),
        "printed message does not re-parse: {again:?}\n{}",
        String::from_utf8_lossy(&printed)
    );
    Ok(())
}

/// Returns whether the input parsed; fails the test if rsip panicked.
fn check(bytes: &[u8]) -> bool {
    match exercise(bytes) {
        Err(ParseError::Panicked) => {
            panic!("rsip panicked on {:?}", String::from_utf8_lossy(bytes))
        }
        r => r.is_ok(),
    }
}

#[test]
fn corpus_parses_and_round_trips() {
    for msg in CORPUS {
        exercise(msg).expect("corpus message parses");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_messages_never_panic(
        which in 0..CORPUS.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut msg = CORPUS[which].to_vec();
        for m in &mutations {
            apply(&mut msg, m);
        }
        let _ = check(&msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = check(&bytes);
    }

    #[test]
    fn arbitrary_header_lines_never_panic(
        which in 0..CORPUS.len(),
        name in "[A-Za-z-]{1,12}|[vftimlcrbkoe]",
        value in "[ -~]{0,80}",
    ) {
        let mut msg = CORPUS[which].to_vec();
        let at = msg.windows(2).position(|w| w == b"\r\n").map_or(0, |p| p + 2);
        let line = format!("{name}: {value}\r\n");
        msg.splice(at..at, line.into_bytes());
        let _ = check(&msg);
    }
}

/// A deterministic high-volume pass (xorshift-seeded), cheap enough for every test run.
#[test]
fn seeded_mutation_sweep() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut parsed = 0;
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..20_000 {
        let mut msg = CORPUS[round % CORPUS.len()].to_vec();
        for _ in 0..(next() % 4 + 1) {
            let i = next() as usize;
            let m = match next() % 6 {
                0 => Mutation::Flip(i, (next() % 255 + 1) as u8),
                1 => Mutation::Truncate(i),
                2 => Mutation::Insert(i, vec![(next() % 256) as u8; (next() % 3 + 1) as usize]),
                3 => Mutation::Delete(i, (next() % 16 + 1) as usize),
                4 => Mutation::DuplicateLine(i),
                _ => Mutation::HugeNumber(i),
            };
            apply(&mut msg, &m);
        }
        if check(&msg) {
            parsed += 1;
        } else if let Err(e) = parse(&msg) {
            let kind = format!("{e:?}");
            let kind = kind
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or_default()
                .to_owned();
            *reasons.entry(kind).or_default() += 1;
        }
    }
    // The sweep is only meaningful if a good share of mutants get past the guard into rsip
    // and the accessors.
    assert!(
        parsed > 4_000,
        "only {parsed} of 20000 mutants parsed: {reasons:?}"
    );
    eprintln!("seeded sweep: {parsed} of 20000 mutants parsed; rejections: {reasons:?}");
}

//! Stream framing: the same frames come out however the stream is cut into reads.

use proptest::prelude::*;
use sip_message::framing::{Frame, StreamFramer};
use sip_message::parse;

const CORPUS: [&[u8]; 4] = [
    include_bytes!("corpus/invite.sip"),
    include_bytes!("corpus/ok.sip"),
    include_bytes!("corpus/refer.sip"),
    include_bytes!("corpus/notify.sip"),
];

fn stream() -> (Vec<u8>, Vec<Frame>) {
    let mut bytes = Vec::new();
    let mut frames = Vec::new();
    for (i, m) in CORPUS.iter().enumerate() {
        if i % 2 == 0 {
            bytes.extend_from_slice(b"\r\n\r\n");
            frames.push(Frame::KeepAlive);
        }
        bytes.extend_from_slice(m);
        frames.push(Frame::Message(m.to_vec()));
    }
    (bytes, frames)
}

fn feed(chunks: &[&[u8]]) -> Vec<Frame> {
    let mut framer = StreamFramer::new();
    let mut out = Vec::new();
    for chunk in chunks {
        framer.push(chunk);
        while let Some(frame) = framer.next_frame() {
            out.push(frame.expect("valid stream"));
        }
    }
    out
}

#[test]
fn split_at_every_byte_boundary() {
    let (bytes, expected) = stream();
    for i in 0..=bytes.len() {
        let (a, b) = bytes.split_at(i);
        assert_eq!(feed(&[a, b]), expected, "split at {i}");
    }
}

#[test]
fn one_byte_at_a_time() {
    let (bytes, expected) = stream();
    let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
    let frames = feed(&chunks);
    assert_eq!(frames, expected);
    for frame in frames {
        if let Frame::Message(m) = frame {
            parse(&m).expect("framed message parses");
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_chunking(cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let (bytes, expected) = stream();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for c in cuts {
            chunks.push(&bytes[last..c]);
            last = c;
        }
        chunks.push(&bytes[last..]);
        prop_assert_eq!(feed(&chunks), expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..8)) {
        let mut framer = StreamFramer::new();
        for c in &chunks {
            framer.push(c);
            while let Some(frame) = framer.next_frame() {
                if let Ok(Frame::Message(m)) = frame {
                    let _ = parse(&m);
                }
            }
        }
    }
}

//! Fuzz `parse`, the accessors and the stream framer. libfuzzer-sys installs a panic hook that
//! aborts, so a panic inside rsip is reported as a crash even though `parse` would catch it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::framing::StreamFramer;
use sip_message::headers::{ReferTo, SubscriptionState};
use sip_message::{MessageExt, parse, to_bytes};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = parse(data) {
        let _ = (
            msg.top_via(),
            msg.branch(),
            msg.from_tag(),
            msg.to_tag(),
            msg.cseq(),
        );
        let _ = ReferTo::from_message(&msg).map(|r| r.map(|r| r.embedded_replaces()));
        let _ = SubscriptionState::from_message(&msg);
        let printed = to_bytes(&msg);
        assert!(parse(&printed).is_ok(), "printed message does not re-parse");
    }
    let mut framer = StreamFramer::new();
    let (a, b) = data.split_at(data.len() / 2);
    for chunk in [a, b] {
        framer.push(chunk);
        while let Some(frame) = framer.next_frame() {
            if frame.is_err() {
                break;
            }
        }
    }
});

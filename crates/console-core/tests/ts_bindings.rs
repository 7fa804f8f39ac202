//! The UI's TypeScript types are generated from these Rust types; this test fails when the
//! checked-in `ui/src/bindings/console.ts` is stale. Regenerate with
//! `UPDATE_BINDINGS=1 cargo test -p console-core --test ts_bindings`.

use console_core::{
    AccountStatus, AudioDevice, AudioRole, AudioStatus, Call, CallId, CallQuality, CallState,
    Contact, Direction, EndReason, ErrorBody, Event, EventBody, HoldSide, SipLadder, SipTraceEntry,
    TraceDirection, Transfer, TransferId, TransferMode, TransferState,
};
use std::path::PathBuf;
use ts_rs::TS;

fn generated() -> String {
    let mut out = String::from(
        "// Generated from crates/console-core by tests/ts_bindings.rs. Do not edit by hand.\n\
         // Regenerate: UPDATE_BINDINGS=1 cargo test -p console-core --test ts_bindings\n\n",
    );
    let decls = [
        CallId::decl(),
        Direction::decl(),
        CallState::decl(),
        EndReason::decl(),
        TransferId::decl(),
        TransferMode::decl(),
        TransferState::decl(),
        Transfer::decl(),
        HoldSide::decl(),
        CallQuality::decl(),
        Call::decl(),
        AccountStatus::decl(),
        Contact::decl(),
        TraceDirection::decl(),
        SipTraceEntry::decl(),
        SipLadder::decl(),
        AudioRole::decl(),
        AudioStatus::decl(),
        AudioDevice::decl(),
        EventBody::decl(),
        Event::decl(),
        ErrorBody::decl(),
    ];
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out
}

#[test]
fn ui_bindings_are_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings/console.ts");
    let want = generated();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create dir");
        std::fs::write(&path, &want).expect("write bindings");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale; run UPDATE_BINDINGS=1 cargo test -p console-core --test ts_bindings",
        path.display()
    );
}

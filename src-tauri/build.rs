//! Generates the Tauri context (config, capabilities, icons) at compile time.
//!
//! The app's own commands are declared in an app manifest, so each one gets an `allow-<name>`
//! permission and the main window's capability (`capabilities/main-window.json`) lists exactly
//! the ones it may call. Keep this list, `src/commands.rs` and the capability in step.

/// Every command `src/commands.rs` registers.
const COMMANDS: &[&str] = &[
    "health",
    "list_calls",
    "get_call",
    "dial",
    "answer",
    "reject",
    "hangup",
    "hold",
    "resume",
    "mute",
    "unmute",
    "listen",
    "unlisten",
    "send_dtmf",
    "transfer",
    "cancel_transfer",
    "consult",
    "complete_transfer",
    "history",
    "accounts",
    "audio",
    "audio_devices",
    "set_audio_device",
    "ladder",
    "contacts",
    "attendant_tone",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        // A build script reports failure by panicking; say what failed first.
        panic!("tauri-build failed: {e:#}");
    }
}

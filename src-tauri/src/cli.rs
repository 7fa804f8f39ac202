//! The command line: the same flags as `switchboard serve` where they mean the same thing.

use clap::{Parser, ValueEnum};
use console_runtime::ListenSpec;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Switchboard desktop: the operator console in a window.
///
/// Every flag can also come from the environment (`SWITCHBOARD_...`), which is how tests and
/// desktop launchers that cannot pass arguments configure it.
#[derive(Debug, Clone, Parser)]
#[command(name = "switchboard-desktop", version, about)]
pub struct Cli {
    /// A SIP transport to listen on, `udp:IP:PORT` or `tcp:IP:PORT` (repeatable, or
    /// comma-separated in the variable) [default: udp:0.0.0.0:5060 and tcp:0.0.0.0:5060]
    #[arg(
        long = "sip-listen",
        value_name = "PROTO:IP:PORT",
        env = "SWITCHBOARD_SIP_LISTEN",
        value_delimiter = ','
    )]
    pub sip_listen: Vec<ListenSpec>,

    /// Where the call history (and the API token) live [default: the platform's app data
    /// directory, e.g. ~/.local/share/com.switchboard.console]
    #[arg(long, value_name = "DIR", env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// TOML config file, the same format as `switchboard serve --config` [default:
    /// switchboard.toml in the platform's app config directory, if it exists]
    #[arg(long, value_name = "FILE", env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,

    /// Also serve the HTTP + WebSocket API here (off unless given), so a supervisor's browser
    /// can watch this console. Keep it on loopback unless you mean to expose it.
    #[arg(long, value_name = "IP:PORT", env = "SWITCHBOARD_API_LISTEN")]
    pub api_listen: Option<SocketAddr>,

    /// Bearer token for the API [default: <data-dir>/api-token, generated on first use]
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SWITCHBOARD_API_TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<String>,

    /// Another host name the API answers to in `Host` (repeatable).
    #[arg(long = "api-allow-host", value_name = "NAME")]
    pub api_allow_host: Vec<String>,

    /// Answer inbound calls at once (overrides the config file).
    #[arg(long)]
    pub auto_answer: bool,

    /// WebKit's compositing: `never` keeps the page in software rendering (least memory, the
    /// default; on Linux the app process then opens no OpenGL and the page runs without
    /// JavaScriptCore's JIT, see ADR 0009), `on-demand` and `always` use the GPU where there
    /// is one.
    #[arg(
        long,
        value_enum,
        value_name = "POLICY",
        env = "SWITCHBOARD_WEBKIT_ACCELERATION",
        default_value_t = Acceleration::Never
    )]
    pub webkit_acceleration: Acceleration,

    /// Log filter, e.g. `info` or `switchboard_desktop=debug,sip_proto=trace`
    /// [default: $RUST_LOG, or info]
    #[arg(long, value_name = "FILTER", env = "SWITCHBOARD_LOG")]
    pub log: Option<String>,

    /// Passed by WebKitWebDriver when it launches the app for an automated test; the webview
    /// itself is opened for automation by tauri-driver's `TAURI_WEBVIEW_AUTOMATION`.
    #[arg(long, hide = true)]
    pub automation: bool,
}

/// WebKit's hardware acceleration policy (`webkit_settings_set_hardware_acceleration_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Acceleration {
    /// Never composite on the GPU.
    Never,
    /// Composite on the GPU when the page asks for it (3D transforms, WebGL, video).
    OnDemand,
    /// Always composite on the GPU.
    Always,
}

/// The SIP transports used when none are given: UDP and TCP on port 5060 of every address.
pub fn default_sip_listen() -> Vec<ListenSpec> {
    use sip_proto::Transport;
    use std::net::{IpAddr, Ipv4Addr};
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5060);
    vec![
        ListenSpec {
            transport: Transport::Udp,
            addr,
        },
        ListenSpec {
            transport: Transport::Tcp,
            addr,
        },
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("switchboard-desktop").chain(args.iter().copied()))
    }

    #[test]
    fn flags_parse_like_serve() {
        let cli = parse(&[
            "--sip-listen",
            "udp:127.0.0.1:5099",
            "--sip-listen",
            "tcp:[::1]:5099",
            "--data-dir",
            "/tmp/x",
            "--api-listen",
            "127.0.0.1:0",
            "--api-token",
            "t",
            "--auto-answer",
            "--automation",
        ])
        .unwrap();
        assert_eq!(cli.sip_listen.len(), 2);
        assert_eq!(cli.sip_listen[1].transport, sip_proto::Transport::Tcp);
        assert_eq!(cli.api_listen.map(|a| a.port()), Some(0));
        assert!(cli.auto_answer && cli.automation);
        assert_eq!(cli.webkit_acceleration, Acceleration::Never);
    }

    #[test]
    fn the_api_is_off_by_default() {
        let cli = parse(&[]).unwrap();
        assert!(cli.api_listen.is_none());
        assert!(cli.sip_listen.is_empty());
        assert_eq!(default_sip_listen().len(), 2);
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            &["--sip-listen", "sctp:1.2.3.4:5060"][..],
            &["--api-listen", "localhost"],
            &["--webkit-acceleration", "sometimes"],
            &["--no-such-flag"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn version_is_a_flag() {
        let err = parse(&["--version"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
    }
}

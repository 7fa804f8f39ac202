//! `switchboard`: the headless console with its HTTP + WebSocket API.
//!
//! `switchboard serve` binds the SIP transports and the API, prints one `switchboard listening:`
//! line to stderr when both are up, and runs until SIGINT/SIGTERM, then stops cleanly
//! (un-REGISTER, hang up, flush the history). Failures before that print one line and exit 1.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use console_runtime::{ListenSpec, RuntimeConfig};
use control_api::config::FileConfig;
use control_api::{ApiOptions, ApiState};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

/// Switchboard: a SIP softphone and operator console.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the console headless, controlled through the HTTP API.
    Serve(Box<ServeArgs>),
    /// List the sound devices `--audio`, `--audio-input`, `--audio-output` and `--ring-device`
    /// accept (one a line: id, in/out, default marks, name).
    Devices,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// A SIP transport to listen on, `udp:IP:PORT` or `tcp:IP:PORT` (repeatable)
    /// [default: udp:0.0.0.0:5060 and tcp:0.0.0.0:5060]
    #[arg(long = "sip-listen", value_name = "PROTO:IP:PORT")]
    sip_listen: Vec<ListenSpec>,

    /// Address of the HTTP API; keep it on loopback unless you mean to expose it.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7070")]
    api_listen: SocketAddr,

    /// Bearer token for the API [default: <data-dir>/api-token, generated on first run]
    #[arg(
        long,
        env = "SWITCHBOARD_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    api_token: Option<String>,

    /// Another host name the API answers to in `Host` (repeatable), e.g. this machine's DNS name.
    #[arg(long = "api-allow-host", value_name = "NAME")]
    api_allow_host: Vec<String>,

    /// Where the call history and the generated API token live
    /// [default: $XDG_DATA_HOME/switchboard or ~/.local/share/switchboard]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Audio device: `none`, `default`, or a device name.
    #[arg(long, value_name = "none|default|DEVICE", default_value = "default")]
    audio: AudioDevice,

    /// Microphone by name, overriding `--audio` for input (`switchboard devices` lists them).
    #[arg(long, value_name = "DEVICE")]
    audio_input: Option<String>,

    /// Headset or speaker by name, overriding `--audio` for output.
    #[arg(long, value_name = "DEVICE")]
    audio_output: Option<String>,

    /// A separate device for the ring alert (default: the output device).
    #[arg(long, value_name = "DEVICE")]
    ring_device: Option<String>,

    /// Answer inbound calls at once (overrides the config file).
    #[arg(long)]
    auto_answer: bool,

    /// What calls hear from the console when no microphone feeds them: `silence`, or
    /// `tone:<hz>` (e.g. `tone:1004`, a line-check tone).
    #[arg(long, value_name = "silence|tone:HZ", default_value = "silence", value_parser = parse_media_source)]
    media_source: console_runtime::media::stream::Source,

    /// Record what each call receives to `<DIR>/<call id>.wav` (16-bit mono, codec rate).
    #[arg(long, value_name = "DIR")]
    record_dir: Option<PathBuf>,

    /// TOML config file with accounts and settings; flags win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The built web UI to serve at `/` (a directory with `index.html`)
    /// [default: `ui/dist` of the workspace the executable was built in, else
    /// /usr/share/switchboard/ui]
    #[arg(long, env = "SWITCHBOARD_UI_DIR", value_name = "DIR")]
    ui_dir: Option<PathBuf>,

    /// Log filter, e.g. `info` or `switchboard=debug,sip_proto=trace` [default: $RUST_LOG, or info]
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
}

/// `--audio`: which sound device the media engine opens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AudioDevice {
    /// No audio device (signalling only, or media handled elsewhere).
    None,
    /// The system's default input and output.
    Default,
    /// A device by name.
    Named(String),
}

impl FromStr for AudioDevice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" => Err("empty device name (use none, default or a device name)".into()),
            "none" => Ok(Self::None),
            "default" => Ok(Self::Default),
            name => Ok(Self::Named(name.to_owned())),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("switchboard: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Cmd::Serve(args) => runtime.block_on(serve(*args)),
        Cmd::Devices => list_devices(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line, without a backtrace.
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn list_devices() -> anyhow::Result<()> {
    let devices = audio_io::list_devices().context("cannot list the sound devices")?;
    if devices.is_empty() {
        println!("no sound devices (the console runs headless)");
    }
    for d in devices {
        let dir = match (d.is_input, d.is_output) {
            (true, true) => "in/out",
            (true, false) => "in",
            (false, true) => "out",
            (false, false) => "-",
        };
        let default = match (d.is_default_input, d.is_default_output) {
            (true, true) => " (default in/out)",
            (true, false) => " (default in)",
            (false, true) => " (default out)",
            (false, false) => "",
        };
        println!("{}\t{dir}{default}\t{}", d.id, d.name);
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    control_api::logging::init(args.log.as_deref())?;

    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => default_data_dir().context("cannot tell where to keep data; pass --data-dir")?,
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let token = match args.api_token {
        Some(token) if token.trim().is_empty() => bail!("--api-token is empty"),
        Some(token) => token.trim().to_owned(),
        None => control_api::token::from_data_dir(&data_dir, "switchboard")?,
    };
    let sip_listen = if args.sip_listen.is_empty() {
        default_sip_listen()?
    } else {
        args.sip_listen
    };
    tracing::debug!(
        audio = ?args.audio,
        tones = ?file.tones,
        transfer = ?file.transfer,
        "media and transfer settings"
    );

    // Bind the API before starting SIP, so a taken port fails before any REGISTER goes out.
    let listener = tokio::net::TcpListener::bind(args.api_listen)
        .await
        .with_context(|| format!("cannot listen for the API on {}", args.api_listen))?;
    let api_addr = listener
        .local_addr()
        .context("the API listener has no address")?;

    let running = console_runtime::start(RuntimeConfig {
        sip_listen,
        data_dir,
        console: file.console_config(args.auto_answer),
        media: console_runtime::media::MediaSettings {
            source: args.media_source.clone(),
            tone_region: file.tones.region.name().to_string(),
            record_dir: args.record_dir.clone(),
            audio: audio_io::AudioConfig {
                choice: match &args.audio {
                    AudioDevice::None => audio_io::AudioChoice::None,
                    AudioDevice::Default => audio_io::AudioChoice::Default,
                    AudioDevice::Named(name) => audio_io::AudioChoice::Named(name.clone()),
                },
                input: args.audio_input.clone(),
                output: args.audio_output.clone(),
                ring: args.ring_device.clone(),
                frame_ms: 20,
            },
        },
    })
    .await
    .context("cannot start the console")?;

    let state = ApiState::new(
        running.handle.clone(),
        ApiOptions {
            token,
            bound_ip: api_addr.ip(),
            extra_hosts: args.api_allow_host,
        },
    )
    .with_default_transfer_mode(file.transfer.default_mode.into());
    let ui = control_api::ui::UiFiles::locate(args.ui_dir);
    match ui.root() {
        Some(dir) => tracing::info!(dir = %dir.display(), "serving the web UI"),
        None => tracing::info!("no built web UI found; `/` says how to build one"),
    }
    let state = state.with_ui(ui);
    let sip: Vec<String> = running.bound.iter().map(listen_spec_string).collect();
    eprintln!(
        "switchboard listening: sip=[{}] api=http://{api_addr}/api/v1",
        sip.join(", ")
    );

    let served = control_api::serve(listener, state, control_api::signal::shutdown()).await;
    tracing::info!("shutting down");
    running.shutdown().await;
    served.context("the API server failed")
}

fn default_sip_listen() -> anyhow::Result<Vec<ListenSpec>> {
    ["udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"]
        .into_iter()
        .map(|s| ListenSpec::from_str(s).map_err(anyhow::Error::msg))
        .collect()
}

fn listen_spec_string(spec: &ListenSpec) -> String {
    let transport = match spec.transport {
        sip_proto::Transport::Udp => "udp",
        sip_proto::Transport::Tcp => "tcp",
    };
    format!("{transport}:{}", spec.addr)
}

/// `$XDG_DATA_HOME/switchboard`, else `~/.local/share/switchboard` (Linux and other Unixes);
/// `~/Library/Application Support/switchboard` (macOS); `%APPDATA%\switchboard` (Windows).
fn default_data_dir() -> Option<PathBuf> {
    let env_dir = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if cfg!(windows) {
        return env_dir("APPDATA").map(|d| d.join("switchboard"));
    }
    if cfg!(target_os = "macos") {
        return env_dir("HOME").map(|h| h.join("Library/Application Support/switchboard"));
    }
    env_dir("XDG_DATA_HOME")
        .or_else(|| env_dir("HOME").map(|h| h.join(".local/share")))
        .map(|d| d.join("switchboard"))
}

/// `--media-source silence|tone:<hz>`.
fn parse_media_source(value: &str) -> Result<console_runtime::media::stream::Source, String> {
    use console_runtime::media::stream::Source;
    if value.eq_ignore_ascii_case("silence") {
        return Ok(Source::Silence);
    }
    let hz = value
        .strip_prefix("tone:")
        .ok_or_else(|| format!("{value:?}: expected `silence` or `tone:<hz>`"))?;
    match hz.trim().parse::<f64>() {
        Ok(hz) if (20.0..=3900.0).contains(&hz) => Ok(Source::Tone(hz)),
        _ => Err(format!(
            "{value:?}: the tone must be 20 to 3900 Hz (it must fit G.711)"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from([
            "switchboard",
            "serve",
            "--sip-listen",
            "udp:127.0.0.1:5099",
            "--sip-listen",
            "tcp:[::1]:5099",
            "--api-listen",
            "127.0.0.1:0",
            "--audio",
            "none",
            "--auto-answer",
        ])
        .unwrap();
        let Cmd::Serve(args) = cli.command else {
            panic!("parsed as another subcommand")
        };
        assert_eq!(args.sip_listen.len(), 2);
        assert_eq!(args.sip_listen[1].transport, sip_proto::Transport::Tcp);
        assert_eq!(args.audio, AudioDevice::None);
        assert!(args.auto_answer);
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            &["switchboard", "serve", "--sip-listen", "sctp:1.2.3.4:5060"][..],
            &["switchboard", "serve", "--api-listen", "localhost"],
            &["switchboard", "serve", "--audio", ""],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn listen_specs_print_back() {
        let spec = ListenSpec::from_str("tcp:[::1]:5060").unwrap();
        assert_eq!(listen_spec_string(&spec), "tcp:[::1]:5060");
    }
}

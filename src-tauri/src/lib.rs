//! # switchboard-desktop
//!
//! The desktop shell of Switchboard: a Tauri window over the same console `switchboard serve`
//! runs headless. It adds no call logic of its own.
//!
//! On start ([`run`]) it parses the command line ([`cli::Cli`], the flags of `serve`), then in
//! Tauri's setup hook loads the config file (`control_api::config::FileConfig`, the same TOML),
//! starts the console with [`console_runtime::start`] on Tauri's tokio runtime, optionally
//! serves the HTTP API ([`control_api::serve`], off unless `--api-listen` is given), opens the
//! main window and the tray icon, and spawns one task that forwards every console event to the
//! page as the Tauri event [`CONSOLE_EVENT`], keeps the tray status current and raises a desktop
//! notification for each inbound call. The page calls the console through the commands in
//! [`commands`], one per console `Command`. When the app exits, the console is shut down cleanly
//! (un-REGISTER, BYE, history flushed) before the process ends.

pub mod cli;
pub mod commands;
pub mod status;

mod api;
mod webkit;
#[cfg(target_os = "linux")]
mod webkit_env;

use anyhow::Context as _;
use cli::Cli;
use commands::ConsoleState;
use console_core::{Call, ConsoleHandle, Event, EventBody};
use console_runtime::{ListenSpec, Running, RuntimeConfig};
use control_api::config::FileConfig;
use status::TrayStatus;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder, Wry};
use tokio::sync::broadcast::error::RecvError;

/// The Tauri event that carries each console event, as the JSON the WebSocket sends. When the
/// page falls behind, it gets `{"type": "events.lagged", "skipped": n}` instead, like the
/// WebSocket's clients, and should re-read the call list.
pub const CONSOLE_EVENT: &str = "console-event";
/// The label of the one window (the capability in `capabilities/main-window.json` names it).
pub const MAIN_WINDOW: &str = "main";
/// The config file looked for in the platform's app config directory.
pub const CONFIG_FILE_NAME: &str = "switchboard.toml";
/// How long the clean shutdown on exit may take before the process ends anyway.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);
const TRAY_ID: &str = "switchboard";
const MENU_SHOW: &str = "show";
const MENU_QUIT: &str = "quit";
const MENU_STATUS: &str = "status";

/// Runs the app until its window is closed or Quit is chosen in the tray. A start-up failure in
/// the setup (bad config, SIP or API port taken) prints one line and exits with status 1; an
/// error is returned only when logging or the app itself cannot be set up.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let started = process_started().unwrap_or_else(Instant::now);
    // First: the first image re-executes itself here (Linux, acceleration `never`).
    #[cfg(target_os = "linux")]
    let prepared = webkit_env::prepare(cli.webkit_acceleration);
    control_api::logging::init(cli.log.as_deref())?;
    #[cfg(target_os = "linux")]
    tracing::info!(
        set = ?prepared.set,
        egl_vendor_dir = ?prepared.vendor_dir,
        note = prepared.note.as_deref(),
        "WebKit process environment"
    );
    // Kept until the app exits (Tauri ends the process from its event loop): its vendor
    // directory is removed then.
    #[cfg(target_os = "linux")]
    let prepared = Mutex::new(Some(prepared));
    let app = tauri::Builder::default()
        // First, so a second launch hands over to the running app before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main_window(app);
        }))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                // Size, position, maximised; never restore "hidden".
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(commands::handler())
        .setup(move |app| {
            // Tauri runs this hook inside the event loop and panics on an error it returns, so
            // a start-up failure (bad config, SIP port taken) is reported here as one line and
            // exit status 1, like `switchboard serve`. Nothing has been started that needs a
            // clean stop: the console starts after the other fallible steps (config, API port).
            if let Err(e) = setup(app, &cli, started) {
                eprintln!("switchboard-desktop: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    app.run(move |app, event| {
        #[cfg(target_os = "linux")]
        let exiting = matches!(event, RunEvent::Exit);
        on_run_event(app, event);
        #[cfg(target_os = "linux")]
        if exiting {
            drop(prepared.lock().ok().and_then(|mut p| p.take()));
        }
    });
    Ok(())
}

/// When the kernel started this process (an `exec` keeps it), to 10 ms: the start-up figure
/// then includes loading the libraries and the re-exec. From `/proc/self/stat`'s start time
/// and `/proc/uptime`, both since boot (Linux's user clock runs at 100 ticks a second).
fn process_started() -> Option<Instant> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name's closing parenthesis; the start time is field 22 of the
    // line, so the 20th of these (state is the 3rd field).
    let after = stat.get(stat.rfind(')')? + 1..)?;
    let ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let uptime: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let age = Duration::try_from_secs_f64(uptime - ticks as f64 / 100.0).ok()?;
    Instant::now().checked_sub(age)
}

/// What must be stopped when the app exits.
struct Lifecycle {
    running: Mutex<Option<Running>>,
    api: Mutex<Option<api::ApiServer>>,
}

fn setup(app: &mut tauri::App, cli: &Cli, started: Instant) -> anyhow::Result<()> {
    let paths = app.path();
    let (config_path, required) = match &cli.config {
        Some(path) => (Some(path.clone()), true),
        None => (
            paths
                .app_config_dir()
                .ok()
                .map(|dir| dir.join(CONFIG_FILE_NAME)),
            false,
        ),
    };
    let file = match config_path {
        Some(path) if required || path.exists() => {
            tracing::info!(path = %path.display(), "loading config");
            FileConfig::load(&path)?
        }
        _ => FileConfig::default(),
    };
    let data_dir: PathBuf = match &cli.data_dir {
        Some(dir) => dir.clone(),
        None => paths
            .app_data_dir()
            .context("cannot tell where to keep data; pass --data-dir")?,
    };
    let sip_listen = if cli.sip_listen.is_empty() {
        cli::default_sip_listen()
    } else {
        cli.sip_listen.clone()
    };

    // Bind the API (if enabled) before starting SIP, so a taken port fails before any
    // REGISTER goes out, as in `switchboard serve`.
    let api_listener = match cli.api_listen {
        Some(addr) => Some(tauri::async_runtime::block_on(api::bind(
            addr,
            cli.api_token.clone(),
            &data_dir,
        ))?),
        None => None,
    };
    let running = tauri::async_runtime::block_on(console_runtime::start(RuntimeConfig {
        sip_listen,
        data_dir: data_dir.clone(),
        console: file.console_config(cli.auto_answer),
        media: console_runtime::media::MediaSettings {
            tone_region: file.tones.region.name().to_string(),
            // The attendant's headset: the system's default devices (headless without any).
            audio: audio_io::AudioConfig::default(),
            ..Default::default()
        },
    }))
    .context("cannot start the console")?;
    let handle = running.handle.clone();
    // Subscribe before anything can happen on the page, so the first events are not lost.
    let events = handle.subscribe();
    let api = api_listener.map(|bound| bound.serve(handle.clone(), cli.api_allow_host.clone()));
    let sip: Vec<String> = running.bound.iter().map(listen_spec_string).collect();
    eprintln!(
        "switchboard-desktop listening: sip=[{}] api={} data={}",
        sip.join(", "),
        api.as_ref()
            .map_or_else(|| "off".to_owned(), |a| format!("http://{}/api/v1", a.addr)),
        data_dir.display()
    );

    app.manage(ConsoleState::new(handle.clone(), started));
    app.manage(Lifecycle {
        running: Mutex::new(Some(running)),
        api: Mutex::new(api),
    });

    let window = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::default())
        .title("Switchboard")
        .inner_size(1200.0, 760.0)
        .min_inner_size(640.0, 420.0)
        .build()
        .context("cannot open the main window")?;
    webkit::tune(&window, cli.webkit_acceleration);

    let status_item = match build_tray(app) {
        Ok(item) => Some(item),
        Err(e) => {
            // No tray host (a bare X server, some desktops): the window still works.
            tracing::warn!(error = %e, "no tray icon");
            None
        }
    };
    // Two subscribers: the page's events never wait for the tray (whose updates are
    // synchronous calls onto the GTK main thread).
    let tray_events = handle.subscribe();
    tauri::async_runtime::spawn(forward_events(app.handle().clone(), events));
    tauri::async_runtime::spawn(keep_tray_current(
        app.handle().clone(),
        handle,
        tray_events,
        status_item,
    ));
    tauri::async_runtime::spawn(exit_on_signal(app.handle().clone()));
    Ok(())
}

/// SIGINT or SIGTERM (a logout, `systemctl stop`, Ctrl-C in a terminal) quit the app through
/// the normal exit path, so the console still un-REGISTERs and hangs up cleanly.
async fn exit_on_signal(app: AppHandle) {
    control_api::signal::shutdown().await;
    tracing::info!("signal received: quitting");
    app.exit(0);
}

/// The tray icon with its menu; returns the (disabled) menu item that shows the status, since
/// tray tooltips are not supported on Linux.
fn build_tray(app: &tauri::App) -> tauri::Result<MenuItem<Wry>> {
    let status = MenuItem::with_id(
        app,
        MENU_STATUS,
        "Switchboard: starting",
        false,
        None::<&str>,
    )?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, MENU_SHOW, "Show Switchboard", true, None::<&str>)?,
            &MenuItem::with_id(app, MENU_QUIT, "Quit", true, None::<&str>)?,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Switchboard: starting")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            MENU_SHOW => show_main_window(app),
            MENU_QUIT => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(status)
}

/// Forwards every console event to the page and raises a notification for each inbound call,
/// until the console stops.
async fn forward_events(app: AppHandle, mut events: tokio::sync::broadcast::Receiver<Arc<Event>>) {
    loop {
        match events.recv().await {
            Ok(event) => {
                tracing::debug!(
                    kind = event.body.kind(),
                    call = ?event.call_id,
                    state = ?event.body.call().map(|c| c.state),
                    "console event"
                );
                if let Err(e) = app.emit(CONSOLE_EVENT, &*event) {
                    tracing::warn!(error = %e, kind = event.body.kind(), "cannot emit event");
                }
                if let EventBody::CallIncoming { call } = &event.body {
                    // D-Bus and the window manager may take their time (hundreds of ms
                    // without a notification daemon): never on the path of the next event.
                    let (app, call) = (app.clone(), call.clone());
                    tauri::async_runtime::spawn_blocking(move || notify_incoming(&app, &call));
                }
            }
            Err(RecvError::Lagged(skipped)) => {
                tracing::warn!(skipped, "the window fell behind the console's events");
                let frame = serde_json::json!({"type": "events.lagged", "skipped": skipped});
                if let Err(e) = app.emit(CONSOLE_EVENT, frame) {
                    tracing::warn!(error = %e, "cannot emit events.lagged");
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Keeps the tray's status line current, until the console stops.
async fn keep_tray_current(
    app: AppHandle,
    handle: ConsoleHandle,
    mut events: tokio::sync::broadcast::Receiver<Arc<Event>>,
    status_item: Option<MenuItem<Wry>>,
) {
    let mut status = current_status(&handle).await;
    show_status(&app, status_item.as_ref(), &status);
    loop {
        match events.recv().await {
            Ok(event) => {
                if status.apply(&event) {
                    show_status(&app, status_item.as_ref(), &status);
                }
            }
            Err(RecvError::Lagged(_)) => {
                status = current_status(&handle).await;
                show_status(&app, status_item.as_ref(), &status);
            }
            Err(RecvError::Closed) => return,
        }
    }
}

async fn current_status(handle: &ConsoleHandle) -> TrayStatus {
    let calls = commands::ops::list_calls(handle).await.unwrap_or_default();
    let accounts = commands::ops::accounts(handle).await.unwrap_or_default();
    TrayStatus::new(&calls, &accounts)
}

fn show_status(app: &AppHandle, item: Option<&MenuItem<Wry>>, status: &TrayStatus) {
    let text = status.tooltip();
    if let Some(tray) = app.tray_by_id(TRAY_ID)
        && let Err(e) = tray.set_tooltip(Some(&text))
    {
        tracing::debug!(error = %e, "cannot set the tray tooltip");
    }
    if let Some(item) = item
        && let Err(e) = item.set_text(&text)
    {
        tracing::debug!(error = %e, "cannot update the tray status");
    }
}

/// A desktop notification for an inbound call, and the window asks for attention.
fn notify_incoming(app: &AppHandle, call: &Call) {
    let who = match &call.remote_display {
        Some(name) if !name.trim().is_empty() => format!("{} <{}>", name.trim(), call.remote_uri),
        _ => call.remote_uri.clone(),
    };
    // notify-rust directly: this runs on a blocking thread already, and the plugin's `show`
    // would run the same blocking call on an async worker.
    if let Err(e) = notify_rust::Notification::new()
        .summary("Incoming call")
        .body(&who)
        .appname("Switchboard")
        .auto_icon()
        .show()
    {
        tracing::debug!(error = %e, "cannot show a notification");
    }
    if let Some(window) = app.get_webview_window(MAIN_WINDOW)
        && let Err(e) = window.request_user_attention(Some(tauri::UserAttentionType::Critical))
    {
        tracing::debug!(error = %e, "cannot request attention");
    }
}

fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let shown = window
            .unminimize()
            .and_then(|()| window.show())
            .and_then(|()| window.set_focus());
        if let Err(e) = shown {
            tracing::warn!(error = %e, "cannot show the main window");
        }
    }
}

/// On exit: stop the API, then the console (un-REGISTER, BYE, flush), within [`SHUTDOWN_LIMIT`].
fn on_run_event(app: &AppHandle, event: RunEvent) {
    if !matches!(event, RunEvent::Exit) {
        return;
    }
    let Some(lifecycle) = app.try_state::<Lifecycle>() else {
        return;
    };
    let api = lifecycle.api.lock().ok().and_then(|mut a| a.take());
    let running = lifecycle.running.lock().ok().and_then(|mut r| r.take());
    tracing::info!("shutting down");
    tauri::async_runtime::block_on(async move {
        let stop = async move {
            if let Some(api) = api {
                api.stop().await;
            }
            if let Some(running) = running {
                running.shutdown().await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_LIMIT, stop).await.is_err() {
            tracing::warn!("the console did not stop in time");
        }
    });
}

fn listen_spec_string(spec: &ListenSpec) -> String {
    let transport = match spec.transport {
        sip_proto::Transport::Udp => "udp",
        sip_proto::Transport::Tcp => "tcp",
    };
    format!("{transport}:{}", spec.addr)
}

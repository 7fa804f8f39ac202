//! Logging set-up shared by `switchboard serve` and the desktop app.

/// Logs to stderr with `tracing`: the filter from `--log`, else `$RUST_LOG`, else `info`.
/// The PulseAudio client logs every latency poll (thousands of lines a second) at debug, so
/// it stays at `warn` unless the filter names it.
///
/// # Errors
/// A filter that does not parse, or logging already set up.
pub fn init(flag: Option<&str>) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let (text, from_flag) = match flag {
        Some(filter) => (filter.to_owned(), true),
        None => (
            std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_default(),
            false,
        ),
    };
    let text = if text.trim().is_empty() {
        "info".to_owned()
    } else {
        text
    };
    let text = if text.contains("pulseaudio") {
        text
    } else {
        format!("{text},pulseaudio=warn")
    };
    let filter = match EnvFilter::try_new(&text) {
        Ok(filter) => filter,
        Err(e) if from_flag => anyhow::bail!("bad --log filter {flag:?}: {e}"),
        Err(_) => EnvFilter::new("info,pulseaudio=warn"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

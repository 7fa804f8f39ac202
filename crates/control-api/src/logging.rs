//! Logging set-up shared by `switchboard serve` and the desktop app.

/// Logs to stderr with `tracing`: the filter from `--log`, else `$RUST_LOG`, else `info`.
///
/// # Errors
/// A filter that does not parse, or logging already set up.
pub fn init(flag: Option<&str>) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match flag {
        Some(filter) => EnvFilter::try_new(filter)
            .map_err(|e| anyhow::anyhow!("bad --log filter {filter:?}: {e}"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

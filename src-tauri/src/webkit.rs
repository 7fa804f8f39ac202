//! WebKit settings that keep the window's memory footprint small (Linux; other platforms use
//! their system webview and this does nothing).
//!
//! What wry lets an app reach is the `WebKitWebView` after it is created, so this runs right
//! after the window is built (the first page load is already under way; both settings apply to
//! the running web process):
//! - cache model `DocumentViewer`: WebKit's smallest in-memory caches (no page cache, minimal
//!   object cache). The console is one local page served from the app, nothing to cache.
//! - back/forward page cache off: the page never navigates.
//! - hardware acceleration policy from `--webkit-acceleration` (default `never`): without GPU
//!   compositing WebKit does not set up a GL context and its buffers in the web process, which
//!   under software GL (Mesa llvmpipe, Xvfb, VMs) costs tens of MB.

use crate::cli::Acceleration;

/// Applies the memory settings to `window`'s webview. Failures are logged, never fatal.
pub(crate) fn tune(window: &tauri::WebviewWindow, acceleration: Acceleration) {
    #[cfg(target_os = "linux")]
    {
        let applied = window.with_webview(move |webview| {
            use webkit2gtk::{
                CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
            };
            let view = webview.inner();
            if let Some(context) = view.context() {
                context.set_cache_model(CacheModel::DocumentViewer);
            }
            if let Some(settings) = WebViewExt::settings(&view) {
                settings.set_enable_page_cache(false);
                settings.set_hardware_acceleration_policy(match acceleration {
                    Acceleration::Never => HardwareAccelerationPolicy::Never,
                    Acceleration::OnDemand => HardwareAccelerationPolicy::OnDemand,
                    Acceleration::Always => HardwareAccelerationPolicy::Always,
                });
            }
        });
        if let Err(e) = applied {
            tracing::warn!(error = %e, "cannot apply the WebKit memory settings");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (window, acceleration);
}

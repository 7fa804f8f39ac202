//! The web console: the built UI (`ui/dist`, made by `npm run build` in `ui/`) served at `/`.
//!
//! Static files need no token (the page asks for it and sends it on every API call), but they
//! pass the same `Host` check as the API. Paths are decoded and checked segment by segment: no
//! `..`, no dot-files, no separators or NUL inside a segment, and the resolved file must stay
//! inside the UI directory (symlinks included). A path without an extension that names no file
//! gets `index.html` (the UI routes in the page); a missing asset is a JSON 404 like any other
//! unknown resource, and so is everything under `/api/` that no route matched.
//! Without a built UI, `/` explains how to build one.

use crate::error::ApiError;
use crate::{ApiState, guard};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use std::path::{Path, PathBuf};

/// Where the web UI's files come from.
#[derive(Debug, Clone, Default)]
pub struct UiFiles {
    /// A directory holding `index.html`, or `None` for the "build the UI" page.
    root: Option<PathBuf>,
    /// The directory asked for that has no `index.html`, to name it on the placeholder page.
    missing: Option<PathBuf>,
}

impl UiFiles {
    /// No UI: `/` serves the page that says how to build it.
    pub fn none() -> Self {
        Self::default()
    }

    /// The UI in `dir` (which must contain `index.html` to be used).
    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        if dir.join("index.html").is_file() {
            Self {
                root: Some(dir),
                missing: None,
            }
        } else {
            Self {
                root: None,
                missing: Some(dir),
            }
        }
    }

    /// `explicit` (from `--ui-dir` / `SWITCHBOARD_UI_DIR`) if given, else the first of
    /// [`default_candidates`] that holds a built UI, else none.
    pub fn locate(explicit: Option<PathBuf>) -> Self {
        if let Some(dir) = explicit {
            return Self::dir(dir);
        }
        default_candidates()
            .into_iter()
            .map(Self::dir)
            .find(|ui| ui.root.is_some())
            .unwrap_or_default()
    }

    /// The directory served, if any.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }
}

/// Where a UI is looked for without `--ui-dir`: `ui/dist` beside the executable's workspace
/// (`target/debug/switchboard` → `<workspace>/ui/dist`, walking up three levels), then the
/// packaged `/usr/share/switchboard/ui`.
pub fn default_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        out.extend(exe.ancestors().skip(1).take(3).map(|d| d.join("ui/dist")));
    }
    out.push(PathBuf::from("/usr/share/switchboard/ui"));
    out
}

/// `GET /`: the UI's `index.html`, or the page that says how to build it.
pub(crate) async fn index(State(state): State<ApiState>) -> Response {
    match state.ui().root() {
        Some(root) => file_response(&root.join("index.html"), "index.html").await,
        None => placeholder(state.ui()),
    }
}

/// The router's fallback: static files and the SPA fallback, behind the `Host` check (and the
/// token check for `/api/` paths, which then get the JSON 404).
pub(crate) fn fallback(state: ApiState) -> MethodRouter {
    any(serve_path)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check,
        ))
        .with_state(state)
}

async fn serve_path(State(state): State<ApiState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::NotFound(path.to_owned()).into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::MethodNotAllowed(method.to_string()).into_response();
    }
    let Some(root) = state.ui().root() else {
        return ApiError::NotFound(path.to_owned()).into_response();
    };
    let Some(segments) = safe_segments(path) else {
        return ApiError::NotFound(path.to_owned()).into_response();
    };
    let mut file = root.to_path_buf();
    file.extend(&segments);
    if is_inside(root, &file) && file.is_file() {
        let name = segments.last().map_or("index.html", String::as_str);
        return file_response(&file, name).await;
    }
    // A page route (no extension) is the UI's business; a missing asset is a real 404.
    let is_route = segments.last().is_none_or(|s| !s.contains('.'));
    if is_route {
        return file_response(&root.join("index.html"), "index.html").await;
    }
    ApiError::NotFound(path.to_owned()).into_response()
}

/// The decoded path segments, or `None` if any is unsafe (`..`, `.x`, `\`, NUL, bad UTF-8).
fn safe_segments(path: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let segment = percent_decode(raw)?;
        if segment.starts_with('.') || segment.contains(['/', '\\', '\0']) {
            return None;
        }
        out.push(segment);
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `file` resolves (through symlinks) to somewhere under `root`. A file that does not
/// exist is "inside" only nominally; the caller checks `is_file` anyway.
fn is_inside(root: &Path, file: &Path) -> bool {
    match (root.canonicalize(), file.canonicalize()) {
        (Ok(root), Ok(file)) => file.starts_with(root),
        _ => false,
    }
}

async fn file_response(path: &Path, name: &str) -> Response {
    // The UI's files are small; read them off the async threads (tokio's `fs` feature is off).
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || std::fs::read(owned))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read a UI file");
            return ApiError::NotFound(format!("/{name}")).into_response();
        }
    };
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Vite names assets by content hash: they never change. The page itself must be re-read.
    let hashed = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "assets");
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if name.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

/// The page may load its own scripts and styles, talk to this server (HTTP and WebSocket), and
/// nothing else; no framing (click-jacking an operator console would be bad).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        _ => "application/octet-stream",
    }
}

fn placeholder(ui: &UiFiles) -> Response {
    let missing = ui.missing.as_ref().map_or(String::new(), |dir| {
        format!(
            "<p>No <code>index.html</code> in <code>{}</code>.</p>",
            html_escape(&dir.display().to_string())
        )
    });
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switchboard</title></head>\n\
         <body><h1>Switchboard</h1><p>The web console is not built.</p>{missing}\
         <p>Build it with <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>, then restart \
         with <code>--ui-dir ui/dist</code> (or set <code>SWITCHBOARD_UI_DIR</code>). The API is at \
         <code>/api/v1</code>; see <code>docs/api.md</code>.</p></body></html>\n"
    );
    (StatusCode::OK, Html(page)).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in [
            "/../etc/passwd",
            "/assets/../../x",
            "/%2e%2e/x",
            "/%2E%2E%2Fx",
            "/a%5c..%5cb",
            "/.env",
            "/a/.git/config",
            "/a%00b",
            "/%zz",
            "/%ff",
        ] {
            assert!(safe_segments(bad).is_none(), "{bad}");
        }
        assert_eq!(
            safe_segments("//assets/index-1.js").unwrap(),
            vec!["assets", "index-1.js"]
        );
        assert_eq!(safe_segments("/a%20b").unwrap(), vec!["a b"]);
        assert!(safe_segments("/").unwrap().is_empty());
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("index-4bZ.JS"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("x.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn a_dir_without_index_is_no_ui() {
        let dir = tempfile::tempdir().unwrap();
        assert!(UiFiles::dir(dir.path()).root().is_none());
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        assert_eq!(UiFiles::dir(dir.path()).root(), Some(dir.path()));
    }

    #[test]
    fn symlinks_out_of_the_root_are_outside() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        std::fs::write(root.path().join("ok.js"), "x").unwrap();
        assert!(is_inside(root.path(), &root.path().join("ok.js")));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link"))
                .unwrap();
            assert!(!is_inside(root.path(), &root.path().join("link")));
        }
    }

    /// The whole router with a UI directory: what a browser gets for each kind of path.
    #[tokio::test]
    async fn the_router_serves_the_ui_safely() {
        use axum::http::Request;
        use tower::ServiceExt;

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dist");
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::write(root.join("index.html"), "<!doctype html><p>ui</p>").unwrap();
        std::fs::write(root.join("assets/app-1.js"), "export {}").unwrap();
        std::fs::write(dir.path().join("secret"), "no").unwrap();

        let (requests, _inbox) = tokio::sync::mpsc::channel(1);
        let (events, _) = tokio::sync::broadcast::channel(1);
        let handle = console_core::ConsoleHandle::new(requests, events);
        let options = crate::ApiOptions {
            token: "tok".into(),
            bound_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            extra_hosts: vec![],
        };
        let with_ui = crate::router(
            crate::ApiState::new(handle.clone(), options.clone()).with_ui(UiFiles::dir(&root)),
        );
        let without_ui = crate::router(crate::ApiState::new(handle, options));

        let get = |app: &axum::Router, method: Method, path: &str, host: &str| {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, host)
                .body(Body::empty())
                .unwrap();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await.unwrap();
                let status = response.status();
                let headers = response.headers().clone();
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .unwrap();
                (status, headers, String::from_utf8_lossy(&body).into_owned())
            }
        };
        let local = "127.0.0.1:7070";

        let (status, headers, body) = get(&with_ui, Method::GET, "/", local).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(body.contains("<p>ui</p>"));

        let (status, headers, _) = get(&with_ui, Method::GET, "/assets/app-1.js", local).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(
            headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );

        let (status, _, body) = get(&with_ui, Method::GET, "/history/today", local).await;
        assert_eq!(
            (status, body.contains("<p>ui</p>")),
            (StatusCode::OK, true),
            "SPA fallback"
        );

        for (path, code) in [
            ("/missing.js", StatusCode::NOT_FOUND),
            ("/%2e%2e/secret", StatusCode::NOT_FOUND),
            ("/assets/..%2f..%2fsecret", StatusCode::NOT_FOUND),
            ("/api/v1/nope", StatusCode::UNAUTHORIZED),
        ] {
            let (status, headers, _) = get(&with_ui, Method::GET, path, local).await;
            assert_eq!(status, code, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{path}");
        }
        let (status, _, body) = get(&with_ui, Method::POST, "/index.html", local).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(body.contains("method_not_allowed"));
        let (status, _, _) = get(&with_ui, Method::GET, "/assets/app-1.js", "evil.example").await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (status, _, body) = get(&without_ui, Method::GET, "/", local).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("npm run build"));
        let (status, _, _) = get(&without_ui, Method::GET, "/assets/app-1.js", local).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

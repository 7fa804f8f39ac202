//! The environment the window's WebKit processes start with (Linux; ADR 0009).
//!
//! WebKitGTK 2.50 opens an EGL display in the app (UI) process when it creates its web
//! context, and in the web process, which aborts without one. On Mesa every driver, software
//! or not, links libLLVM: ~20 MB PSS in each process that opens a display. With hardware
//! acceleration `never` (the default), the UI process has no use for GL: the web process paints
//! on the CPU and hands its frames over in shared memory, which the UI process draws with
//! cairo. So, with `never`, and only for what the user has not set themselves:
//! - the UI process opens no GL: GTK's GL is off (`GDK_GL=disable`), and libglvnd, which
//!   loads its list of EGL vendors once per process on the first EGL call, is pointed at a
//!   private directory that is empty at that moment ([`prepare`] makes that first call itself).
//!   The directory then gets links to the system's vendor files, so the web processes, which
//!   inherit the same variable, find Mesa as usual;
//! - JavaScriptCore's JIT is off in the web process (`JSC_useJIT=0`): the page is a small,
//!   event-driven panel the interpreter keeps up with, and the JIT's code and profiling memory
//!   go away.
//!
//! Environment variables can only be set soundly by a process with one thread, and WebKit's
//! libraries start a thread (libpas's scavenger) before `main`. So the first image sets nothing:
//! it re-executes itself (same PID, same arguments) with the variables added, and the new
//! image finds them in place. [`MARKER`] tells the two apart and names the vendor directory.

use crate::cli::Acceleration;
use std::path::{Path, PathBuf};

/// Set on the re-executed image: the private vendor directory, or `-` when there is none. Its
/// presence means "already prepared".
pub const MARKER: &str = "SWITCHBOARD_WEBKIT_ENV";
/// libglvnd's EGL vendor search path (colon-separated directories).
const EGL_VENDOR_DIRS: &str = "__EGL_VENDOR_LIBRARY_DIRS";
/// Overrides [`EGL_VENDOR_DIRS`]; a user who sets either keeps their choice.
const EGL_VENDOR_FILES: &str = "__EGL_VENDOR_LIBRARY_FILENAMES";
/// libglvnd's own search path when neither variable is set (Debian's build: sysconfdir, then
/// datadir), in its order.
const SYSTEM_VENDOR_DIRS: [&str; 2] = ["/etc/glvnd/egl_vendor.d", "/usr/share/glvnd/egl_vendor.d"];
/// The other variables the re-exec sets, when the user has not: GTK's GL off, JavaScriptCore's
/// JIT off.
const PLAIN_VARIABLES: [(&str, &str); 2] = [("GDK_GL", "disable"), ("JSC_useJIT", "0")];
/// The private vendor directories' name prefix (followed by the PID).
const VENDOR_DIR_PREFIX: &str = "switchboard-egl-";

/// What [`prepare`] did, logged once logging is up; its vendor directory is removed on drop.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The variables of the re-exec in effect (the user's value where they set one).
    pub set: Vec<String>,
    /// The private EGL vendor directory, when the UI process was kept off GL.
    pub vendor_dir: Option<PathBuf>,
    /// Why nothing (or not everything) was done, if so.
    pub note: Option<String>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if let Some(dir) = self.vendor_dir.take() {
            remove_vendor_dir(&dir);
        }
    }
}

/// Prepares the environment (see the module docs). In the first image this re-executes the
/// binary and does not return unless that fails; in the re-executed one it loads libglvnd's
/// (empty) vendor list and fills the private directory.
pub fn prepare(acceleration: Acceleration) -> Prepared {
    let mut prepared = Prepared::default();
    if acceleration != Acceleration::Never {
        prepared.note = Some("hardware acceleration requested".into());
        return prepared;
    }
    match std::env::var_os(MARKER) {
        Some(marker) => finish(&marker, prepared),
        None => {
            // Only returns when the exec failed.
            prepared.note = Some(format!("cannot re-execute: {}", reexec()));
            prepared
        }
    }
}

/// The first image: re-executes the binary with the variables added.
fn reexec() -> std::io::Error {
    use std::os::unix::process::CommandExt as _;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return e,
    };
    let mut command = std::process::Command::new(&exe);
    let mut args = std::env::args_os();
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    command.args(args);
    for (name, value) in PLAIN_VARIABLES {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    let mut marker = std::ffi::OsString::from("-");
    let vendor_dir = (std::env::var_os(EGL_VENDOR_DIRS).is_none()
        && std::env::var_os(EGL_VENDOR_FILES).is_none())
    .then(make_vendor_dir)
    .flatten();
    if let Some(dir) = &vendor_dir {
        command.env(EGL_VENDOR_DIRS, dir);
        marker = dir.as_os_str().to_owned();
    }
    command.env(MARKER, marker);
    let error = command.exec();
    // Still here: the exec failed. Remove the directory it would have used.
    if let Some(dir) = vendor_dir {
        let _ = std::fs::remove_dir(dir);
    }
    error
}

/// The re-executed image: records what was set, then gives the UI process its empty vendor
/// list and the system's vendors to every process started from now on.
fn finish(marker: &std::ffi::OsStr, mut prepared: Prepared) -> Prepared {
    for (name, _) in PLAIN_VARIABLES {
        if std::env::var_os(name).is_some() {
            prepared.set.push(name.to_owned());
        }
    }
    let Some(dir) = vendor_dir_of(marker) else {
        return prepared;
    };
    if std::env::var_os(EGL_VENDOR_DIRS).as_deref() != Some(dir.as_os_str()) {
        return prepared;
    }
    // The first EGL call loads libglvnd's vendor list for this process, from the directory,
    // still empty. The answer does not matter (the binding panics on a null answer without an
    // EGL error: caught; the list is loaded either way).
    let _ =
        std::panic::catch_unwind(|| khronos_egl::API.query_string(None, khronos_egl::EXTENSIONS));
    let sources = SYSTEM_VENDOR_DIRS.map(Path::new);
    if let Err(e) = link_vendors(&dir, &sources) {
        prepared.note = Some(format!("cannot link the EGL vendors: {e}"));
    }
    prepared.set.push(EGL_VENDOR_DIRS.to_owned());
    prepared.vendor_dir = Some(dir);
    prepared
}

/// The vendor directory a marker names, if any (a path whose last part has the prefix).
fn vendor_dir_of(marker: &std::ffi::OsStr) -> Option<PathBuf> {
    let dir = PathBuf::from(marker);
    dir.file_name()?
        .to_str()?
        .starts_with(VENDOR_DIR_PREFIX)
        .then_some(dir)
}

/// Creates an empty private directory (mode 0700) for the vendor links, under
/// `$XDG_RUNTIME_DIR` or the temporary directory, first removing those left by processes that
/// are gone (a crash leaves its directory behind).
fn make_vendor_dir() -> Option<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    remove_stale_vendor_dirs(&base);
    let dir = base.join(format!("{VENDOR_DIR_PREFIX}{}", std::process::id()));
    remove_vendor_dir(&dir);
    std::fs::DirBuilder::new().mode(0o700).create(&dir).ok()?;
    Some(dir)
}

fn remove_stale_vendor_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(VENDOR_DIR_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            remove_vendor_dir(&entry.path());
        }
    }
}

/// Removes a vendor directory: its symbolic links, then the directory if that left it empty.
/// Nothing else is ever deleted, whatever the directory holds (its name can come from the
/// environment).
fn remove_vendor_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_symlink()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Links every `*.json` of the `sources` directories (missing ones are skipped) into `dir`,
/// named so that libglvnd's sorted scan of the one directory keeps the sources' order.
fn link_vendors(dir: &Path, sources: &[&Path]) -> std::io::Result<()> {
    for (index, source) in sources.iter().enumerate() {
        let Ok(entries) = std::fs::read_dir(source) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if Path::new(&name).extension().is_some_and(|e| e == "json") {
                let link = dir.join(format!("{index}-{}", name.to_string_lossy()));
                std::os::unix::fs::symlink(entry.path(), link)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_names_its_vendor_directory_only_with_the_prefix() {
        let dir = |m: &str| vendor_dir_of(std::ffi::OsStr::new(m));
        assert_eq!(
            dir("/run/user/1000/switchboard-egl-42"),
            Some(PathBuf::from("/run/user/1000/switchboard-egl-42"))
        );
        assert_eq!(dir("-"), None);
        assert_eq!(dir("/home/me"), None);
    }

    #[test]
    fn vendor_links_keep_the_sources_order_in_one_directory() {
        let root = tempfile::tempdir().expect("temp dir");
        let etc = root.path().join("etc");
        let usr = root.path().join("usr");
        let target = root.path().join("merged");
        for dir in [&etc, &usr, &target] {
            std::fs::create_dir(dir).expect("mkdir");
        }
        std::fs::write(etc.join("10_nvidia.json"), "{}").expect("write");
        std::fs::write(usr.join("50_mesa.json"), "{}").expect("write");
        std::fs::write(usr.join("10_nvidia.json"), "{}").expect("write");
        std::fs::write(usr.join("README"), "").expect("write");
        let missing = root.path().join("missing");
        link_vendors(&target, &[&etc, &missing, &usr]).expect("links");
        let kept = target.join("not-a-link");
        std::fs::write(&kept, "").expect("write");
        let mut names: Vec<String> = std::fs::read_dir(&target)
            .expect("read")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // /etc's file first, then /usr's in their own order; the README is not a vendor (and
        // not-a-link is this test's own file, for the removal below).
        assert_eq!(
            names,
            [
                "0-10_nvidia.json",
                "2-10_nvidia.json",
                "2-50_mesa.json",
                "not-a-link"
            ]
        );
        let resolved = std::fs::canonicalize(target.join("2-50_mesa.json")).expect("resolves");
        assert_eq!(
            resolved,
            std::fs::canonicalize(usr.join("50_mesa.json")).expect("abs")
        );

        // Removal takes the links only: a file that is not one keeps the directory.
        remove_vendor_dir(&target);
        assert!(
            usr.join("50_mesa.json").is_file(),
            "a link's target survives"
        );
        let left: Vec<_> = std::fs::read_dir(&target)
            .expect("kept")
            .flatten()
            .collect();
        assert_eq!(left.len(), 1, "only the file that is not a link is left");
        std::fs::remove_file(&kept).expect("rm");
        remove_vendor_dir(&target);
        assert!(!target.exists());
    }
}

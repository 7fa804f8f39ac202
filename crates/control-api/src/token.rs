//! The API token file shared by `switchboard serve` and the desktop app.

use anyhow::{Context as _, bail};
use std::path::Path;

/// The token in `<data_dir>/api-token`, created (0600) with a fresh random one if missing: the
/// same file for `switchboard serve` and the desktop app, so a browser keeps working when the
/// console moves between the two. Prints the file's path (as `program`), never the token.
///
/// # Errors
/// An empty token file, or one that cannot be read or written.
pub fn from_data_dir(data_dir: &Path, program: &str) -> anyhow::Result<String> {
    let path = data_dir.join("api-token");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let token = text.trim();
            if token.is_empty() {
                bail!(
                    "{} is empty; delete it to have a new token generated",
                    path.display()
                );
            }
            return Ok(token.to_owned());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let token = format!("{:032x}", rand::random::<u128>());
    write_private(&path, &token).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("{program}: generated an API token in {}", path.display());
    Ok(token)
}

/// Creates `path` readable by the owner only; fails if it already exists.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_token_file_is_generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = from_data_dir(dir.path(), "switchboard").unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(from_data_dir(dir.path(), "switchboard").unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("api-token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("api-token"), "\n").unwrap();
        assert!(from_data_dir(dir.path(), "switchboard").is_err());
    }
}

//! The `--config` TOML file of `switchboard serve`.
//!
//! ```toml
//! auto_answer = false          # optional
//! user = "switchboard"         # optional local user
//! [[accounts]]
//! name = "main"
//! registrar = "sip:127.0.0.1:5080"
//! username = "alice"
//! password = "secret"
//! domain = "127.0.0.1"         # optional
//! transport = "udp"            # udp|tcp, default udp
//! expires = 600                # 30..=86400, default 600
//! register = true              # default true
//! [tones]
//! region = "us"                # us|etsi|uk
//! [transfer]
//! default_mode = "cold"        # cold|anchored
//! hold_before_refer = false
//! anchored_caller_id = "console"  # console|caller|<sip: or tel: URI>
//! diversion = false              # Diversion header when the caller ID is not ours
//! ```
//!
//! Unknown keys are errors. Every error names the file, line and column
//! (`switchboard.toml:7:13: ...`); command-line flags win over the file.

use console_core::ConsoleConfig;
use console_core::console::AccountConfig;
use console_core::target::Target;
use serde::Deserialize;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Default registration lifetime, seconds.
pub const DEFAULT_EXPIRES: u32 = 600;
/// Allowed registration lifetimes, seconds.
pub const EXPIRES_RANGE: std::ops::RangeInclusive<u32> = 30..=86400;

/// The settings read from a config file, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileConfig {
    /// `auto_answer`, if the file sets it.
    pub auto_answer: Option<bool>,
    /// `user`: the user part of our own URI when no account applies.
    pub user: Option<String>,
    /// `[[accounts]]`, in file order.
    pub accounts: Vec<AccountConfig>,
    /// `[tones]`.
    pub tones: TonesConfig,
    /// `[transfer]`.
    pub transfer: TransferConfig,
    /// `[[webhooks]]`: receivers of transfer events.
    pub webhooks: Vec<console_core::WebhookConfig>,
    /// `[[contacts]]`: destinations offered as suggestions.
    pub contacts: Vec<console_core::Contact>,
}

/// `[tones]`: which national call-progress tones to play (used by the media engine).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TonesConfig {
    /// The tone plan.
    #[serde(default)]
    pub region: ToneRegion,
}

impl ToneRegion {
    /// The region's name in the tone table (`us`, `etsi`, `uk`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Us => "us",
            Self::Etsi => "etsi",
            Self::Uk => "uk",
        }
    }
}

/// A national set of call-progress tones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToneRegion {
    /// North American (350+440 Hz dial tone).
    #[default]
    Us,
    /// ETSI / most of Europe (425 Hz).
    Etsi,
    /// United Kingdom (350+450 Hz).
    Uk,
}

/// `[transfer]`: how transfers are made by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferConfig {
    /// Cold (REFER and forget) or anchored (the console stays in the media path).
    #[serde(default)]
    pub default_mode: TransferMode,
    /// Put the call on hold before sending REFER.
    #[serde(default)]
    pub hold_before_refer: bool,
    /// Caller ID of an anchored transfer's new leg when the request names none: `"console"`
    /// (default, our identity), `"caller"` (the caller's URI, also in P-Asserted-Identity), or
    /// a `sip:`/`tel:` URI.
    #[serde(default)]
    pub anchored_caller_id: Option<String>,
    /// Add `Diversion: <our URI>;reason=unconditional` when the new leg shows another caller
    /// ID (RFC 5806; some trunks require it).
    #[serde(default)]
    pub diversion: bool,
}

/// How a transfer is carried out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferMode {
    /// Blind transfer by REFER; the console drops out.
    #[default]
    Cold,
    /// The console bridges both legs and stays in the call.
    Anchored,
}

impl From<TransferMode> for console_core::TransferMode {
    fn from(mode: TransferMode) -> Self {
        match mode {
            TransferMode::Cold => console_core::TransferMode::Cold,
            TransferMode::Anchored => console_core::TransferMode::Anchored,
        }
    }
}

/// Why a config file was refused. The `Display` form is one line: `path:line:column: message`.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    // The cause is in the message and deliberately not a `source`, so a `{:#}` chain does not
    // repeat it.
    #[error("{}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type, or breaks a
    /// rule (bad registrar, duplicate account name, out-of-range value).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl FileConfig {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `origin` is only used in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let at = |span: Option<Range<usize>>, message: String| {
            let (line, column) = span.map_or((1, 1), |s| line_column(text, s.start));
            ConfigError::Invalid {
                path: origin.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let raw: RawFile =
            toml::from_str(text).map_err(|e| at(e.span(), e.message().trim().to_owned()))?;

        if let Some(user) = &raw.user
            && user.get_ref().trim().is_empty()
        {
            return Err(at(Some(user.span()), "`user` must not be empty".into()));
        }
        let mut first_use: HashMap<String, Range<usize>> = HashMap::new();
        let mut accounts = Vec::with_capacity(raw.accounts.len());
        for account in raw.accounts {
            let name = account.name.get_ref().trim();
            if name.is_empty() {
                return Err(at(
                    Some(account.name.span()),
                    "account `name` must not be empty".into(),
                ));
            }
            if let Some(first) = first_use.get(name) {
                let (line, _) = line_column(text, first.start);
                return Err(at(
                    Some(account.name.span()),
                    format!("duplicate account name {name:?} (first used on line {line})"),
                ));
            }
            first_use.insert(name.to_owned(), account.name.span());

            let registrar = account.registrar.get_ref().trim();
            let lower = registrar.to_ascii_lowercase();
            if !(lower.starts_with("sip:") || lower.starts_with("sips:")) {
                return Err(at(
                    Some(account.registrar.span()),
                    format!(
                        "account {name:?}: registrar {registrar:?} must be a SIP URI starting with sip: or sips:"
                    ),
                ));
            }
            let registrar = match Target::parse(registrar) {
                // The scheme was checked above, so this is the `Sip` form, canonicalised.
                Ok(target) => target.as_str().to_owned(),
                Err(e) => {
                    return Err(at(
                        Some(account.registrar.span()),
                        format!("account {name:?}: registrar: {e}"),
                    ));
                }
            };

            let expires = match &account.expires {
                None => DEFAULT_EXPIRES,
                Some(e) if EXPIRES_RANGE.contains(e.get_ref()) => *e.get_ref(),
                Some(e) => {
                    return Err(at(
                        Some(e.span()),
                        format!(
                            "account {name:?}: expires = {} is out of range ({}..={} seconds)",
                            e.get_ref(),
                            EXPIRES_RANGE.start(),
                            EXPIRES_RANGE.end()
                        ),
                    ));
                }
            };

            accounts.push(AccountConfig {
                name: name.to_owned(),
                registrar,
                username: account.username,
                password: account.password,
                domain: account.domain.filter(|d| !d.trim().is_empty()),
                transport: account.transport.into(),
                expires,
                register: account.register,
            });
        }

        let mut webhooks = Vec::with_capacity(raw.webhooks.len());
        for hook in raw.webhooks {
            let url = hook.url.get_ref().trim();
            if !url.to_ascii_lowercase().starts_with("http://") {
                return Err(at(
                    Some(hook.url.span()),
                    format!(
                        "webhook url {url:?} must be http:// (https needs a TLS client, not built in yet)"
                    ),
                ));
            }
            webhooks.push(console_core::WebhookConfig {
                url: url.to_owned(),
                secret: hook.secret.filter(|s| !s.is_empty()),
            });
        }

        let mut contacts = Vec::with_capacity(raw.contacts.len());
        for contact in raw.contacts {
            let name = contact.name.get_ref().trim();
            if name.is_empty() {
                return Err(at(
                    Some(contact.name.span()),
                    "contact name is empty".into(),
                ));
            }
            let uri = contact.uri.get_ref().trim();
            if let Err(e) = Target::parse(uri) {
                return Err(at(
                    Some(contact.uri.span()),
                    format!("contact {name:?}: {e}"),
                ));
            }
            contacts.push(console_core::Contact {
                name: name.to_owned(),
                uri: uri.to_owned(),
                note: contact
                    .note
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty()),
            });
        }

        if let Some(id) = &raw.transfer.anchored_caller_id {
            let lower = id.to_ascii_lowercase();
            let ok = id == "console"
                || id == "caller"
                || ["sip:", "sips:", "tel:"]
                    .iter()
                    .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len());
            if !ok {
                let span = text.find("anchored_caller_id").map(|i| i..i + 1);
                return Err(at(
                    span,
                    format!(
                        "[transfer] anchored_caller_id {id:?} must be \"console\", \"caller\" or a sip:/tel: URI"
                    ),
                ));
            }
        }
        Ok(Self {
            auto_answer: raw.auto_answer,
            user: raw.user.map(|u| u.into_inner().trim().to_owned()),
            accounts,
            tones: raw.tones,
            transfer: raw.transfer,
            webhooks,
            contacts,
        })
    }

    /// The console settings: defaults, overridden by this file, overridden by the
    /// `--auto-answer` flag (a flag can only switch auto-answer on).
    pub fn console_config(&self, auto_answer_flag: bool) -> ConsoleConfig {
        let mut config = ConsoleConfig {
            auto_answer: auto_answer_flag || self.auto_answer.unwrap_or(false),
            accounts: self.accounts.clone(),
            ..ConsoleConfig::default()
        };
        if let Some(user) = &self.user {
            config.local_user.clone_from(user);
        }
        config.hold_before_refer = self.transfer.hold_before_refer;
        config.anchored_caller_id = self
            .transfer
            .anchored_caller_id
            .clone()
            .filter(|c| c != "console");
        config.anchored_diversion = self.transfer.diversion;
        config.webhooks.clone_from(&self.webhooks);
        config.contacts.clone_from(&self.contacts);
        config
    }
}

/// 1-based line and character column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    // Back off to a char boundary so slicing cannot panic on a span inside a character.
    let offset = (0..=offset)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    auto_answer: Option<bool>,
    #[serde(default)]
    user: Option<Spanned<String>>,
    #[serde(default)]
    accounts: Vec<RawAccount>,
    #[serde(default)]
    tones: TonesConfig,
    #[serde(default)]
    transfer: TransferConfig,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
    #[serde(default)]
    contacts: Vec<RawContact>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContact {
    name: Spanned<String>,
    uri: Spanned<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: Spanned<String>,
    #[serde(default)]
    secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    name: Spanned<String>,
    registrar: Spanned<String>,
    username: String,
    password: String,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    transport: RawTransport,
    #[serde(default)]
    expires: Option<Spanned<u32>>,
    #[serde(default = "yes")]
    register: bool,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawTransport {
    #[default]
    Udp,
    Tcp,
}

impl From<RawTransport> for sip_proto::Transport {
    fn from(t: RawTransport) -> Self {
        match t {
            RawTransport::Udp => Self::Udp,
            RawTransport::Tcp => Self::Tcp,
        }
    }
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const GOOD: &str = r#"
auto_answer = true
user = "desk1"

[[accounts]]
name = "main"
registrar = "sip:127.0.0.1:5080"
username = "alice"
password = "secret"
domain = "127.0.0.1"
transport = "tcp"
expires = 300
register = false

[[accounts]]
name = "backup"
registrar = "sips:pbx.example.com"
username = "bob"
password = "pw"

[tones]
region = "etsi"

[transfer]
default_mode = "anchored"
hold_before_refer = true
anchored_caller_id = "caller"
diversion = true
"#;

    fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        FileConfig::parse(text, Path::new("switchboard.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_full_file_maps_to_the_console_config() {
        let file = parse(GOOD).unwrap();
        assert_eq!(file.tones.region, ToneRegion::Etsi);
        assert_eq!(file.transfer.default_mode, TransferMode::Anchored);
        assert!(file.transfer.hold_before_refer);
        let console = file.console_config(false);
        assert_eq!(console.anchored_caller_id.as_deref(), Some("caller"));
        assert!(console.anchored_diversion);
        let bad = error("[transfer]\nanchored_caller_id = \"bob\"\n");
        assert!(bad.contains("anchored_caller_id"), "{bad}");
        let ours = parse("[transfer]\nanchored_caller_id = \"console\"\n").expect("console");
        assert_eq!(ours.console_config(false).anchored_caller_id, None);
        let config = file.console_config(false);
        assert!(config.auto_answer);
        assert_eq!(config.local_user, "desk1");
        assert_eq!(
            config.accounts[0],
            AccountConfig {
                name: "main".into(),
                registrar: "sip:127.0.0.1:5080".into(),
                username: "alice".into(),
                password: "secret".into(),
                domain: Some("127.0.0.1".into()),
                transport: sip_proto::Transport::Tcp,
                expires: 300,
                register: false,
            }
        );
        let backup = &config.accounts[1];
        assert_eq!(backup.transport, sip_proto::Transport::Udp);
        assert_eq!(backup.expires, DEFAULT_EXPIRES);
        assert!(backup.register);
        assert_eq!(backup.domain, None);
    }

    #[test]
    fn contacts_are_validated_destinations() {
        let file = parse(
            "[[contacts]]\nname = \" Sales \"\nuri = \"sip:sales@pbx.example.com\"\nnote = \"2nd floor\"\n\n[[contacts]]\nname = \"Night line\"\nuri = \"tel:+15105550100\"\n",
        )
        .unwrap();
        let contacts = file.console_config(false).contacts;
        assert_eq!(
            contacts,
            [
                console_core::Contact {
                    name: "Sales".into(),
                    uri: "sip:sales@pbx.example.com".into(),
                    note: Some("2nd floor".into()),
                },
                console_core::Contact {
                    name: "Night line".into(),
                    uri: "tel:+15105550100".into(),
                    note: None,
                },
            ]
        );
        let e = error("[[contacts]]\nname = \"Bob\"\nuri = \"mailto:bob@example.com\"\n");
        assert!(e.starts_with("switchboard.toml:3:7: "), "{e}");
        assert!(e.contains("Bob"), "{e}");
        let e = error("[[contacts]]\nname = \" \"\nuri = \"1001\"\n");
        assert!(e.starts_with("switchboard.toml:2:"), "{e}");
        let e = error("[[contacts]]\nname = \"x\"\n");
        assert!(e.contains("uri"), "{e}");
    }

    #[test]
    fn an_empty_file_is_all_defaults_and_flags_win() {
        let file = parse("").unwrap();
        assert_eq!(file, FileConfig::default());
        let config = file.console_config(true);
        assert!(config.auto_answer);
        assert_eq!(config.local_user, ConsoleConfig::default().local_user);
        assert!(config.accounts.is_empty());
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let e = error("auto_answer = false\n\n[transfer]\nholdbefore = true\n");
        assert!(e.starts_with("switchboard.toml:4:1: "), "{e}");
        assert!(e.contains("holdbefore"), "{e}");
        let e = error(
            "[[accounts]]\nname = \"a\"\nregistrar = \"sip:x\"\nusername = \"u\"\npassword = \"p\"\npasword = \"p\"\n",
        );
        assert!(e.starts_with("switchboard.toml:6:1: "), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }

    #[test]
    fn syntax_and_type_errors_name_their_line() {
        let e = error("user = \"x\"\nauto_answer = maybe\n");
        assert!(e.starts_with("switchboard.toml:2:"), "{e}");
        let e = error("auto_answer = \"yes\"\n");
        assert!(e.starts_with("switchboard.toml:1:"), "{e}");
        let e = error("[tones]\nregion = \"mars\"\n");
        assert!(e.starts_with("switchboard.toml:2:10: "), "{e}");
        assert!(e.contains("mars") || e.contains("us"), "{e}");
    }

    #[test]
    fn a_registrar_must_be_a_sip_uri() {
        let account = |registrar: &str| {
            format!(
                "[[accounts]]\nname = \"a\"\nregistrar = \"{registrar}\"\nusername = \"u\"\npassword = \"p\"\n"
            )
        };
        let e = error(&account("http://pbx.example.com"));
        assert!(e.starts_with("switchboard.toml:3:13: "), "{e}");
        assert!(e.contains("sip: or sips:"), "{e}");
        let e = error(&account("sip:"));
        assert!(e.starts_with("switchboard.toml:3:13: "), "{e}");
        assert!(parse(&account("SIP:pbx.example.com")).is_ok());
    }

    #[test]
    fn duplicate_account_names_are_refused() {
        let one = |name: &str| {
            format!(
                "[[accounts]]\nname = \"{name}\"\nregistrar = \"sip:x\"\nusername = \"u\"\npassword = \"p\"\n"
            )
        };
        let e = error(&format!("{}{}", one("main"), one("main")));
        assert!(e.starts_with("switchboard.toml:7:8: "), "{e}");
        assert!(
            e.contains("duplicate account name \"main\" (first used on line 2)"),
            "{e}"
        );
    }

    #[test]
    fn expires_must_be_in_range() {
        let with = |expires: &str| {
            format!(
                "[[accounts]]\nname = \"a\"\nregistrar = \"sip:x\"\nusername = \"u\"\npassword = \"p\"\nexpires = {expires}\n"
            )
        };
        assert!(error(&with("29")).contains("out of range (30..=86400 seconds)"));
        assert!(error(&with("86401")).starts_with("switchboard.toml:6:11: "));
        assert!(error(&with("-5")).starts_with("switchboard.toml:6:"));
        assert_eq!(parse(&with("30")).unwrap().accounts[0].expires, 30);
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let e = FileConfig::load(Path::new("/nonexistent/switchboard.toml")).unwrap_err();
        assert!(
            e.to_string().starts_with("/nonexistent/switchboard.toml: "),
            "{e}"
        );
    }

    #[test]
    fn line_column_never_panics() {
        assert_eq!(line_column("", 10), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é\nx", 1), (1, 1));
    }
}

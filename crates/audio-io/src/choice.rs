//! `--audio none|default|<device>`.

use std::fmt;
use std::str::FromStr;

use crate::AudioError;

/// Which sound device the console uses, as given on the command line (`--audio`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AudioChoice {
    /// No device at all: every call runs headless on the media side's own clock.
    None,
    /// The system's default input and output devices.
    #[default]
    Default,
    /// One named device for both input and output (see [`crate::DeviceInfo`] for the names that
    /// match: the id such as `pulseaudio:nullsink`, the part after the host, or the description).
    Named(String),
}

impl FromStr for AudioChoice {
    type Err = AudioError;

    /// Parses `none`, `default` (both case-insensitive) or a device name (kept verbatim,
    /// surrounding whitespace trimmed). An empty string is an error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AudioError::InvalidConfig(
                "--audio needs `none`, `default` or a device name".to_owned(),
            ));
        }
        if s.eq_ignore_ascii_case("none") {
            Ok(AudioChoice::None)
        } else if s.eq_ignore_ascii_case("default") {
            Ok(AudioChoice::Default)
        } else {
            Ok(AudioChoice::Named(s.to_owned()))
        }
    }
}

impl fmt::Display for AudioChoice {
    /// The inverse of `from_str` (a device literally named "none" cannot be spelled; rename it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioChoice::None => f.write_str("none"),
            AudioChoice::Default => f.write_str("default"),
            AudioChoice::Named(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keywords_case_insensitively() {
        assert_eq!("none".parse::<AudioChoice>().ok(), Some(AudioChoice::None));
        assert_eq!("NONE".parse::<AudioChoice>().ok(), Some(AudioChoice::None));
        assert_eq!(
            " Default ".parse::<AudioChoice>().ok(),
            Some(AudioChoice::Default)
        );
    }

    #[test]
    fn anything_else_is_a_device_name() {
        assert_eq!(
            "pulseaudio:nullsink".parse::<AudioChoice>().ok(),
            Some(AudioChoice::Named("pulseaudio:nullsink".to_owned()))
        );
        assert_eq!(
            "Jabra Evolve2 65".parse::<AudioChoice>().ok(),
            Some(AudioChoice::Named("Jabra Evolve2 65".to_owned()))
        );
    }

    #[test]
    fn empty_is_an_error() {
        assert!(matches!(
            "".parse::<AudioChoice>(),
            Err(AudioError::InvalidConfig(_))
        ));
        assert!("   ".parse::<AudioChoice>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for c in [
            AudioChoice::None,
            AudioChoice::Default,
            AudioChoice::Named("hw:1".to_owned()),
        ] {
            assert_eq!(c.to_string().parse::<AudioChoice>().ok(), Some(c));
        }
    }
}

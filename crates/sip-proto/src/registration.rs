//! Client registration (RFC 3261 §10): one binding per account, refreshed before it expires,
//! removed on shutdown.

use crate::Destination;
use crate::auth::DigestClient;
use std::time::{Duration, Instant};

/// Identifies a registration within a [`crate::UserAgent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationId(pub usize);

/// Where a registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// A REGISTER is in flight and nothing is registered yet.
    Registering,
    /// Registered until the given time.
    Registered {
        /// When the registrar drops the binding unless refreshed.
        until: Instant,
    },
    /// The last attempt failed with this status (0: no response); retried later.
    Failed {
        /// SIP status, or 0 for a timeout.
        status: u16,
    },
    /// Removed (un-REGISTER done or attempted).
    Unregistered,
}

#[derive(Debug)]
pub(crate) struct Registration {
    pub(crate) aor: String,
    pub(crate) registrar_uri: String,
    pub(crate) destination: Destination,
    pub(crate) call_id: String,
    pub(crate) from_tag: String,
    pub(crate) cseq: u32,
    pub(crate) expires: u32,
    pub(crate) auth: Option<DigestClient>,
    pub(crate) auth_attempts: u8,
    pub(crate) state: RegistrationState,
    pub(crate) unregistering: bool,
    pub(crate) last_status: Option<u16>,
}

impl Registration {
    /// When to refresh a binding granted for `granted` seconds, counted from `now`: halfway for
    /// short bindings, a minute early for long ones, so a lost REGISTER can be retried in time.
    pub(crate) fn refresh_at(now: Instant, granted: u32) -> Instant {
        let granted = u64::from(granted.max(1));
        let lead = if granted >= 240 { 60 } else { granted / 2 };
        now + Duration::from_secs(granted - lead).max(Duration::from_millis(500))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_comes_before_expiry() {
        let now = Instant::now();
        for granted in [1u32, 4, 60, 239, 240, 3600] {
            let at = Registration::refresh_at(now, granted);
            assert!(at > now, "{granted}");
            assert!(
                at < now + Duration::from_secs(u64::from(granted)) || granted == 1,
                "{granted}"
            );
        }
        assert_eq!(
            Registration::refresh_at(now, 3600),
            now + Duration::from_secs(3540)
        );
    }
}

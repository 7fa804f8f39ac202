//! What the tray tooltip says: how many calls, how many ringing, which accounts are
//! registered. Kept up to date from the console's events.

use console_core::{AccountStatus, Call, CallId, CallState, Event, EventBody};
use std::collections::BTreeMap;

/// The console's state as far as the tray shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayStatus {
    calls: BTreeMap<CallId, CallState>,
    accounts: BTreeMap<String, bool>,
}

impl TrayStatus {
    /// Starts from the console's current calls and accounts.
    pub fn new(calls: &[Call], accounts: &[AccountStatus]) -> Self {
        let mut status = Self::default();
        for call in calls {
            status.track_call(call);
        }
        for account in accounts {
            status
                .accounts
                .insert(account.name.clone(), account.registered);
        }
        status
    }

    /// Folds in one event. Returns true when the tooltip text may have changed.
    pub fn apply(&mut self, event: &Event) -> bool {
        match &event.body {
            EventBody::AccountRegistered { account }
            | EventBody::AccountRegistrationFailed { account, .. } => {
                self.accounts
                    .insert(account.name.clone(), account.registered);
                true
            }
            body => match body.call() {
                Some(call) => {
                    self.track_call(call);
                    true
                }
                None => false,
            },
        }
    }

    /// How many calls have not ended.
    pub fn calls_live(&self) -> usize {
        self.calls.len()
    }

    /// One line for the tray tooltip, e.g.
    /// `Switchboard: 2 calls (1 ringing) · 1 of 2 accounts registered`.
    pub fn tooltip(&self) -> String {
        let calls = match self.calls.len() {
            0 => "no calls".to_owned(),
            1 => "1 call".to_owned(),
            n => format!("{n} calls"),
        };
        let ringing = self
            .calls
            .values()
            .filter(|s| matches!(s, CallState::Ringing))
            .count();
        let ringing = if ringing > 0 {
            format!(" ({ringing} ringing)")
        } else {
            String::new()
        };
        let registered = self.accounts.values().filter(|r| **r).count();
        let accounts = match self.accounts.len() {
            0 => "no SIP account".to_owned(),
            1 if registered == 1 => "registered".to_owned(),
            1 => "not registered".to_owned(),
            n => format!("{registered} of {n} accounts registered"),
        };
        format!("Switchboard: {calls}{ringing} · {accounts}")
    }

    fn track_call(&mut self, call: &Call) {
        if call.state == CallState::Ended {
            self.calls.remove(&call.id);
        } else {
            self.calls.insert(call.id.clone(), call.state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use console_core::Direction;

    /// A call from its JSON form, so new optional fields of `Call` need no change here.
    fn call(id: &str, state: CallState) -> Call {
        let json = serde_json::json!({
            "id": id,
            "direction": Direction::Inbound,
            "state": state,
            "remote_uri": "sip:bob@127.0.0.1",
            "local_uri": "sip:switchboard@127.0.0.1",
            "started_at": Utc::now(),
            "sip_call_id": "x",
        });
        match serde_json::from_value(json) {
            Ok(call) => call,
            Err(e) => panic!("the test call no longer deserialises: {e}"),
        }
    }

    fn account(name: &str, registered: bool) -> AccountStatus {
        AccountStatus {
            name: name.into(),
            aor: format!("sip:{name}@127.0.0.1"),
            registered,
            status: None,
            expires_in: None,
        }
    }

    fn event(body: EventBody) -> Event {
        Event {
            at: Utc::now(),
            call_id: body.call().map(|c| c.id.clone()),
            body,
        }
    }

    #[test]
    fn the_tooltip_follows_calls_and_registrations() {
        let mut status = TrayStatus::new(&[], &[]);
        assert_eq!(status.tooltip(), "Switchboard: no calls · no SIP account");

        status = TrayStatus::new(&[call("a", CallState::Active)], &[account("main", false)]);
        assert_eq!(status.tooltip(), "Switchboard: 1 call · not registered");

        assert!(status.apply(&event(EventBody::CallIncoming {
            call: call("b", CallState::Ringing)
        })));
        assert!(status.apply(&event(EventBody::AccountRegistered {
            account: account("main", true)
        })));
        assert_eq!(
            status.tooltip(),
            "Switchboard: 2 calls (1 ringing) · registered"
        );

        status.apply(&event(EventBody::CallEnded {
            call: call("a", CallState::Ended),
        }));
        status.apply(&event(EventBody::AccountRegistrationFailed {
            account: account("backup", false),
            reason: "403".into(),
        }));
        assert_eq!(status.calls_live(), 1);
        assert_eq!(
            status.tooltip(),
            "Switchboard: 1 call (1 ringing) · 1 of 2 accounts registered"
        );
    }
}

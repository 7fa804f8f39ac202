//! Anchored transfer: a media-relaying B2BUA inside the console (Daily's `sipCallTransfer`).
//! The console calls the target itself; while it rings the caller hears dial tone (if asked)
//! or the target's early media; on answer both legs' audio is bridged through the media
//! runtime (transcoding when the codecs differ) and both stay up until either hangs up —
//! which then ends the other. The attendant's own audio leaves the bridge.

use crate::console::Console;
use crate::event::EventBody;
use crate::media::MediaCommand;
use crate::model::{CallId, CallState, EndReason, HoldSide, TransferMode, TransferState};
use sip_proto::TerminationReason;
use std::time::Instant;

impl Console {
    /// Places the target leg of an anchored transfer of call `id`.
    pub(crate) fn start_anchored(&mut self, now: Instant, id: &CallId) {
        let Some(entry) = self.calls.get(id) else {
            return;
        };
        let Some(t) = entry.transfer.as_ref() else {
            return;
        };
        let to = t.public.transfer_to.clone();
        // Caller ID: the request's, else the configured default; the console's identity, the
        // caller's URI ("caller"), or a URI.
        let wanted = t
            .caller_id
            .clone()
            .or_else(|| self.config.anchored_caller_id.clone());
        let caller_id = match wanted.as_deref() {
            Some("caller") => Some(uri_of(&entry.call.remote_uri)),
            Some(uri)
                if uri.starts_with("sip:")
                    || uri.starts_with("sips:")
                    || uri.starts_with("tel:") =>
            {
                Some(uri.to_string())
            }
            _ => None,
        };
        let mut headers = Vec::new();
        if caller_id.is_some() && self.config.anchored_diversion {
            headers.push((
                "Diversion".to_string(),
                format!("<{}>;reason=unconditional;counter=1", self.own_uri()),
            ));
        }
        match self.dial_as(now, &to, caller_id, headers) {
            Ok(target) => {
                if let Some(e) = self.calls.get_mut(&target.id) {
                    e.anchored_for = Some(id.clone());
                }
                if let Some(t) = self.calls.get_mut(id).and_then(|e| e.transfer.as_mut()) {
                    t.public.target_call_id = Some(target.id.clone());
                    t.public.state = TransferState::Initiated;
                }
                tracing::info!(call = %id, target = %target.id, %to, "anchored transfer: target leg dialled");
                self.emit_transfer(now, id, |call, transfer| EventBody::TransferInitiated {
                    call,
                    transfer,
                });
            }
            Err(error) => {
                self.fail_transfer(
                    now,
                    id,
                    None,
                    format!("cannot call the transfer target: {error}"),
                );
            }
        }
    }

    /// The target leg sent early media (183 with SDP): the caller hears it instead of dial tone.
    pub(crate) fn anchored_early_media(&mut self, _now: Instant, target: &CallId) {
        if let Some(caller) = self.pending_anchored_caller(target) {
            self.media_tone(&caller, None);
            self.media_out.push_back(MediaCommand::Bridge {
                a: caller,
                b: target.clone(),
            });
        }
    }

    /// The caller whose anchored transfer is still waiting for `target` (this leg) to answer.
    fn pending_anchored_caller(&self, target: &CallId) -> Option<CallId> {
        let caller = self.calls.get(target)?.anchored_for.clone()?;
        let transfer = self.calls.get(&caller)?.transfer.as_ref()?;
        (transfer.public.state == TransferState::Initiated
            && transfer.public.target_call_id.as_ref() == Some(target))
        .then_some(caller)
    }

    /// The target leg of a pending anchored transfer answered: record each leg as the other's
    /// bridge partner (before any event about the answer goes out).
    pub(crate) fn anchored_link(&mut self, target: &CallId) {
        let Some(caller) = self.pending_anchored_caller(target) else {
            return;
        };
        for (leg, other) in [(&caller, target), (target, &caller)] {
            if let Some(entry) = self.calls.get_mut(leg) {
                entry.call.bridged_with = Some(other.clone());
            }
        }
    }

    /// The target leg answered: bridge, complete. Both legs stay up.
    pub(crate) fn anchored_answered(&mut self, now: Instant, target: &CallId) {
        let Some(caller) = self.pending_anchored_caller(target) else {
            return;
        };
        if let Some(t) = self
            .calls
            .get_mut(&caller)
            .and_then(|e| e.transfer.as_mut())
        {
            t.public.state = TransferState::Answered;
            t.public.sip_status = Some(200);
        }
        self.emit_transfer(now, &caller, |call, transfer| EventBody::TransferAnswered {
            call,
            transfer,
        });
        self.media_tone(&caller, None);
        self.media_out.push_back(MediaCommand::Bridge {
            a: caller.clone(),
            b: target.clone(),
        });
        // The caller was held by us (consultation, or hold before): take it off hold.
        let held_by_us = self
            .calls
            .get(&caller)
            .is_some_and(|e| e.call.held_by == Some(HoldSide::Local));
        if held_by_us {
            let _ = self.hold(now, &caller, false);
        }
        let wall = self.wall(now);
        if let Some(entry) = self.calls.get_mut(&caller) {
            if let Some(t) = entry.transfer.as_mut() {
                t.public.state = TransferState::Completed;
                t.public.ended_at = Some(wall);
            }
            if entry.call.state == CallState::Transferring {
                entry.call.state = CallState::Active;
            }
        }
        tracing::info!(call = %caller, target = %target, "anchored transfer completed: legs bridged");
        self.emit_transfer(now, &caller, |call, transfer| {
            EventBody::TransferCompleted { call, transfer }
        });
    }

    /// A leg of an anchored transfer ended.
    pub(crate) fn anchored_leg_ended(
        &mut self,
        now: Instant,
        id: &CallId,
        reason: &TerminationReason,
    ) {
        // The target leg ended.
        if let Some(caller) = self.calls.get(id).and_then(|e| e.anchored_for.clone()) {
            let state = self
                .calls
                .get(&caller)
                .and_then(|e| e.transfer.as_ref())
                .filter(|t| t.public.target_call_id.as_ref() == Some(id))
                .map(|t| t.public.state);
            match state {
                Some(TransferState::Initiated | TransferState::Triggered) => {
                    let (status, why) = failure_reason(reason);
                    self.fail_transfer(now, &caller, status, why);
                }
                Some(TransferState::Completed) => {
                    // Either leg's BYE ends the other.
                    self.hang_up_leg(now, &caller);
                }
                _ => {}
            }
            return;
        }
        // The caller's leg ended: end the target leg of a completed or pending transfer.
        self.abandon_anchored(now, id);
    }

    /// `Command::Listen` / `Command::Unlisten`: a supervisor listens in on the bridge `id` is
    /// a leg of (both legs are marked). 409 when the call is in no live bridge.
    pub(crate) fn listen(
        &mut self,
        now: Instant,
        id: &CallId,
        on: bool,
    ) -> Result<crate::command::Reply, crate::error::ConsoleError> {
        self.live(id)?;
        let Some(partner) = self.bridge_partner(id) else {
            let state = self.get(id)?.state;
            return Err(crate::error::ConsoleError::WrongState {
                call: id.clone(),
                state: serde_json::to_value(state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                action: "listen in on a call that is not bridged",
            });
        };
        for leg in [id, &partner] {
            if let Some(entry) = self.calls.get_mut(leg) {
                entry.call.listening = on;
            }
            self.emit_call(now, leg, |call| EventBody::CallListening { call });
        }
        self.media_out.push_back(MediaCommand::Listen {
            call: id.clone(),
            on,
        });
        tracing::info!(call = %id, %partner, on, "listen-in");
        self.get(id).map(crate::command::Reply::Call)
    }

    /// Hangs up (or CANCELs) the target leg of the caller's anchored transfer: on a timeout,
    /// the attendant's cancel, or the caller's BYE.
    pub(crate) fn abandon_anchored(&mut self, now: Instant, caller: &CallId) {
        let target = self
            .calls
            .get(caller)
            .and_then(|e| e.transfer.as_ref())
            .filter(|t| t.public.mode == TransferMode::Anchored)
            .and_then(|t| t.public.target_call_id.clone());
        if let Some(target) = target {
            if let Some(e) = self.calls.get_mut(&target) {
                e.anchored_for = None;
            }
            self.hang_up_leg(now, &target);
        }
    }

    /// The live other leg of the anchored bridge `id` is in, if any.
    pub(crate) fn bridge_partner(&self, id: &CallId) -> Option<CallId> {
        let partner = self.calls.get(id)?.call.bridged_with.clone()?;
        let up = |c: &CallId| {
            self.calls
                .get(c)
                .is_some_and(|e| e.call.state != CallState::Ended)
        };
        (up(id) && up(&partner)).then_some(partner)
    }

    /// A digit from one bridged leg is sent on to the other as an RFC 4733 event in the
    /// other leg's own telephone-event payload type (IVRs behind the target hear the caller).
    pub(crate) fn bridge_dtmf(&mut self, id: &CallId, digit: char) {
        if let Some(partner) = self.bridge_partner(id) {
            self.media_out.push_back(MediaCommand::Dtmf {
                call: partner,
                digits: digit.to_string(),
            });
        }
    }

    /// One bridged leg held (or resumed) us: hold (or resume) the other, so neither party
    /// talks into a held call and music on hold reaches the other side only while held.
    pub(crate) fn bridge_hold(&mut self, now: Instant, id: &CallId, held: bool) {
        let Some(partner) = self.bridge_partner(id) else {
            return;
        };
        let Some(entry) = self.calls.get(&partner) else {
            return;
        };
        let ours = entry.call.held_by == Some(HoldSide::Local);
        let act = if held {
            entry.call.state == CallState::Active
        } else {
            ours && entry.call.state == CallState::Held
        };
        if act && let Err(error) = self.hold(now, &partner, held) {
            tracing::warn!(call = %partner, %error, held, "cannot pass the hold across the bridge");
        }
    }

    fn hang_up_leg(&mut self, now: Instant, id: &CallId) {
        let Some(entry) = self.calls.get_mut(id) else {
            return;
        };
        if entry.local_end.is_none() {
            entry.local_end = Some(EndReason::LocalHangup);
        }
        let session = entry.session;
        if self.ua.hangup(now, session).is_err() {
            self.finish(now, id, EndReason::LocalHangup, None);
        }
    }
}

/// The bare URI of a name-addr such as `"Ada" <sip:ada@host>;tag=x` (or the text itself).
fn uri_of(name_addr: &str) -> String {
    match (name_addr.find('<'), name_addr.find('>')) {
        (Some(start), Some(end)) if start < end => name_addr[start + 1..end].to_string(),
        _ => name_addr
            .split(';')
            .next()
            .unwrap_or(name_addr)
            .trim()
            .to_string(),
    }
}

/// Status and plain-words reason for a target leg that never answered.
fn failure_reason(reason: &TerminationReason) -> (Option<u16>, String) {
    match reason {
        TerminationReason::Failed(code @ (486 | 600)) => {
            (Some(*code), format!("the transfer target is busy ({code})"))
        }
        TerminationReason::Failed(code @ (408 | 480)) => (
            Some(*code),
            format!("the transfer target did not answer ({code})"),
        ),
        TerminationReason::Failed(code @ (403 | 603)) => (
            Some(*code),
            format!("the transfer target declined the call ({code})"),
        ),
        TerminationReason::Failed(code @ (404 | 410 | 484 | 502 | 503 | 504)) => (
            Some(*code),
            format!("the transfer target is unreachable ({code})"),
        ),
        TerminationReason::Failed(code) => (
            Some(*code),
            format!("the transfer target rejected the call ({code})"),
        ),
        TerminationReason::Timeout => (
            Some(408),
            "the transfer target is unreachable (no response)".into(),
        ),
        TerminationReason::Cancelled => (
            Some(487),
            "the call to the transfer target was cancelled".into(),
        ),
        _ => (None, "the call to the transfer target ended".into()),
    }
}

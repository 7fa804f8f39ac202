//! Attended (consultative) transfer, RFC 5589 §7: the attendant puts the caller on hold and
//! calls the target (`Consult`); once they have talked, `CompleteTransfer` sends the caller a
//! REFER whose Refer-To carries `Replaces` (RFC 3891) naming our dialog with the target, so
//! the caller's new INVITE replaces us on the target's side. Only when the caller advertised
//! `Supported: replaces`. As transferee, an INVITE with `Replaces` naming one of our dialogs
//! takes that call over.

use crate::command::Reply;
use crate::console::Console;
use crate::error::ConsoleError;
use crate::event::EventBody;
use crate::model::{
    CallId, CallState, EndReason, HoldSide, Transfer, TransferId, TransferMode, TransferState,
};
use crate::target::Target;
use crate::transfer::TransferRuntime;
use sip_message::headers::{ReferTo, Replaces};
use sip_message::rsip;
use sip_proto::{DialogId, SessionId};
use std::time::{Duration, Instant};

/// A consultation has no ringing timeout of its own; the attendant decides.
const CONSULT_DEADLINE: Duration = Duration::from_secs(24 * 3600);

impl Console {
    /// `Command::Consult`: hold the caller, call the target. Returns the consultation call.
    pub(crate) fn consult(
        &mut self,
        now: Instant,
        id: &CallId,
        to: &str,
    ) -> Result<Reply, ConsoleError> {
        let entry = self.live(id)?;
        let state = entry.call.state;
        let held_by_us = entry.call.held_by == Some(HoldSide::Local);
        if !(state == CallState::Active || (state == CallState::Held && held_by_us)) {
            return Err(ConsoleError::WrongState {
                call: id.clone(),
                state: state_name(state),
                action: "consult for a call that is not established",
            });
        }
        Target::parse(to)?;
        if state == CallState::Active {
            self.hold(now, id, true)?;
        }
        let consult = self.dial(now, to)?;
        if let Some(e) = self.calls.get_mut(&consult.id) {
            e.consult_for = Some(id.clone());
        }
        let transfer = Transfer {
            id: TransferId::random(),
            mode: TransferMode::Attended,
            transfer_to: to.trim().to_string(),
            state: TransferState::Triggered,
            sip_status: None,
            reason: None,
            play_dialtone: false,
            fallback_to_anchored: false,
            target_call_id: Some(consult.id.clone()),
            started_at: self.wall(now),
            ended_at: None,
        };
        if let Some(e) = self.calls.get_mut(id) {
            e.transfer = Some(TransferRuntime {
                public: transfer,
                refer_cseq: None,
                refer_accepted: false,
                deadline: now + CONSULT_DEADLINE,
                state_before: CallState::Active,
                refer_after_hold: None,
                held_for_transfer: true,
                caller_id: None,
                request: None,
            });
        }
        self.set_state(now, id, CallState::Transferring);
        tracing::info!(call = %id, consult = %consult.id, %to, "consultation call placed");
        self.emit_transfer(now, id, |call, transfer| EventBody::TransferTriggered {
            call,
            transfer,
        });
        if let Some(t) = self.calls.get_mut(id).and_then(|e| e.transfer.as_mut()) {
            t.public.state = TransferState::Initiated;
        }
        self.emit_transfer(now, id, |call, transfer| EventBody::TransferInitiated {
            call,
            transfer,
        });
        Ok(Reply::Call(consult))
    }

    /// `Command::CompleteTransfer`: REFER the caller to the consulted target with Replaces.
    pub(crate) fn complete_attended(
        &mut self,
        now: Instant,
        id: &CallId,
    ) -> Result<Reply, ConsoleError> {
        let entry = self.live(id)?;
        let Some(t) = entry
            .transfer
            .as_ref()
            .filter(|t| t.public.mode == TransferMode::Attended)
        else {
            return Err(ConsoleError::WrongState {
                call: id.clone(),
                state: state_name(entry.call.state),
                action: "complete a transfer without a consultation",
            });
        };
        if t.public.state != TransferState::Answered {
            return Err(ConsoleError::WrongState {
                call: id.clone(),
                state: format!("transfer {}", state_name_t(t.public.state)),
                action: "complete before the consulted party answered",
            });
        }
        if !entry.peer_supports_replaces {
            return Err(ConsoleError::WrongState {
                call: id.clone(),
                state: "no-replaces".into(),
                action: "complete by REFER: the caller does not support Replaces (anchored completion needs the media engine)",
            });
        }
        let caller_session = entry.session;
        let consult_id = t
            .public
            .target_call_id
            .clone()
            .ok_or(ConsoleError::Unavailable)?;
        let consult_session = self.live(&consult_id)?.session;
        let dialog = self
            .ua
            .dialog(consult_session)
            .ok_or(ConsoleError::Unavailable)?;
        // RFC 3891 §3: the target matches to-tag against its local tag (our remote tag) and
        // from-tag against its remote tag (our local tag).
        let replaces = Replaces {
            call_id: dialog.call_id.clone(),
            to_tag: dialog.remote_tag.clone(),
            from_tag: dialog.local_tag.clone(),
            early_only: false,
        };
        let target = dialog.remote_target.clone();
        let uri = format!("{target}?Replaces={}", replaces.to_uri_header_value());
        let refer_to = ReferTo::new(uri);
        if let Some(t) = self.calls.get_mut(id).and_then(|e| e.transfer.as_mut()) {
            t.deadline = now + Duration::from_secs(30);
        }
        self.send_refer(now, id, caller_session, &refer_to);
        self.get(id).map(Reply::Call)
    }

    /// The consultation call was answered.
    pub(crate) fn consult_answered(&mut self, now: Instant, consult: &CallId) {
        let Some(caller) = self.calls.get(consult).and_then(|e| e.consult_for.clone()) else {
            return;
        };
        if let Some(t) = self
            .calls
            .get_mut(&caller)
            .and_then(|e| e.transfer.as_mut())
        {
            if t.public.state == TransferState::Initiated {
                t.public.state = TransferState::Answered;
                t.public.sip_status = Some(200);
            } else {
                return;
            }
        }
        self.emit_transfer(now, &caller, |call, transfer| EventBody::TransferAnswered {
            call,
            transfer,
        });
    }

    /// The consultation call ended: before completion that fails the transfer.
    pub(crate) fn consult_ended(&mut self, now: Instant, consult: &CallId, status: Option<u16>) {
        let Some(caller) = self.calls.get(consult).and_then(|e| e.consult_for.clone()) else {
            return;
        };
        let pending = self
            .calls
            .get(&caller)
            .and_then(|e| e.transfer.as_ref())
            .is_some_and(|t| {
                t.public.target_call_id.as_ref() == Some(consult)
                    && matches!(
                        t.public.state,
                        TransferState::Initiated | TransferState::Answered
                    )
                    && t.refer_cseq.is_none()
            });
        if pending {
            let reason = match status {
                Some(code) if code >= 300 => {
                    format!("the consulted party did not take the call ({code})")
                }
                _ => "the consulted party hung up".to_string(),
            };
            self.fail_transfer(now, &caller, status.filter(|s| *s >= 300), reason);
        }
    }

    /// An inbound INVITE with `Replaces` naming one of our dialogs takes that call over
    /// (we are the transfer target). Returns true when the INVITE was handled here.
    pub(crate) fn on_incoming_replaces(
        &mut self,
        now: Instant,
        session: SessionId,
        request: &rsip::Request,
    ) -> bool {
        let Some(Ok(replaces)) = Replaces::from_message(request) else {
            return false;
        };
        let dialog = DialogId {
            call_id: replaces.call_id.clone(),
            local_tag: replaces.to_tag.clone(),
            remote_tag: replaces.from_tag.clone(),
        };
        let old = self
            .ua
            .session_by_dialog(&dialog)
            .and_then(|s| self.by_session.get(&s).cloned());
        let Some(old_id) = old else {
            // RFC 3891 §3: no such dialog.
            let _ = self.ua.reject(now, session, 481);
            return true;
        };
        tracing::info!(replaced = %old_id, "INVITE with Replaces: taking the call over");
        // Handle it as a normal inbound call, answered at once, then end the replaced one.
        self.replacing = Some(old_id);
        false
    }

    /// After a replacing call was created: answer it and end the call it replaces.
    pub(crate) fn finish_replacement(&mut self, now: Instant, new_id: &CallId, session: SessionId) {
        let Some(old_id) = self.replacing.take() else {
            return;
        };
        if let Err(error) = self.answer(now, new_id, session) {
            tracing::warn!(call = %new_id, %error, "cannot answer the replacing call");
            return;
        }
        if let Some(old) = self.calls.get_mut(&old_id) {
            old.local_end = Some(EndReason::Transferred);
            let old_session = old.session;
            if self.ua.hangup(now, old_session).is_err() {
                self.finish(now, &old_id, EndReason::Transferred, None);
            }
        }
    }

    /// Cancelling an attended transfer: hang up the consultation, take the caller off hold.
    pub(crate) fn abandon_consultation(&mut self, now: Instant, id: &CallId) {
        let consult = self
            .calls
            .get(id)
            .and_then(|e| e.transfer.as_ref())
            .filter(|t| t.public.mode == TransferMode::Attended)
            .and_then(|t| t.public.target_call_id.clone());
        if let Some(consult) = consult
            && let Some(e) = self.calls.get_mut(&consult)
        {
            e.consult_for = None;
            e.local_end = Some(EndReason::LocalHangup);
            let session = e.session;
            let _ = self.ua.hangup(now, session);
        }
    }
}

fn state_name(state: CallState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn state_name_t(state: TransferState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

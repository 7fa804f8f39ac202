//! Transfers, chosen per call.
//!
//! **Cold** (RFC 3515, 3892, 4488, 5589): REFER inside the caller's dialog with one `Refer-To`
//! and our `Referred-By`; the implicit subscription's NOTIFYs carry `message/sipfrag` status
//! lines: 1xx is progress, 2xx means the target answered — only then is the caller's leg sent
//! BYE — and >= 300 (or a rejected REFER, or no final NOTIFY within the ringing timeout) means
//! failure, and the caller stays with the attendant. A 2xx to the REFER with `Refer-Sub: false`
//! ends the transfer at once (no NOTIFYs will come).
//!
//! Every step is an event: `transfer.triggered`, `transfer.initiated`, `transfer.answered`,
//! `transfer.completed` or `transfer.failed` (with `call.resumed`), `transfer.cancelled`.

use crate::command::{Reply, TransferRequest};
use crate::console::Console;
use crate::error::ConsoleError;
use crate::event::EventBody;
use crate::model::{
    CallId, CallState, EndReason, Transfer, TransferId, TransferMode, TransferState,
};
use crate::target::Target;
use sip_message::headers::{Event as EventHeader, ReferSub, ReferTo, SubState, SubscriptionState};
use sip_message::rsip::{self, Method};
use sip_proto::{SessionId, TransactionKey};
use std::time::{Duration, Instant};

/// Longest ringing timeout accepted (seconds).
pub const MAX_RINGING_TIMEOUT_S: u32 = 600;

/// A transfer's private state next to its public [`Transfer`].
#[derive(Debug, Clone)]
pub(crate) struct TransferRuntime {
    /// What the UI sees.
    pub(crate) public: Transfer,
    /// CSeq of our REFER (the subscription's `Event: refer;id=`).
    pub(crate) refer_cseq: Option<u32>,
    /// The REFER was accepted (2xx).
    pub(crate) refer_accepted: bool,
    /// Give up at this time.
    pub(crate) deadline: Instant,
    /// The call's state before the transfer, restored when it fails.
    pub(crate) state_before: CallState,
    /// Cold transfer with `hold_before_refer`: the REFER waits for the hold re-INVITE.
    pub(crate) refer_after_hold: Option<ReferTo>,
    /// We put the caller on hold for this transfer (resume it if the transfer fails).
    pub(crate) held_for_transfer: bool,
    /// Caller ID for an anchored target leg (`caller`, a URI, or `None` for ours).
    pub(crate) caller_id: Option<String>,
    /// The request, for `fallback_to_anchored`.
    pub(crate) request: Option<TransferRequest>,
}

impl Console {
    /// `Command::Transfer`: validates and starts a transfer of an established call.
    pub(crate) fn start_transfer(
        &mut self,
        now: Instant,
        id: &CallId,
        request: TransferRequest,
    ) -> Result<Reply, ConsoleError> {
        let entry = self.live(id)?;
        if !matches!(entry.call.state, CallState::Active | CallState::Held) {
            if entry.call.state == CallState::Transferring {
                return Err(wrong_state(
                    id,
                    "transferring",
                    "transfer a call already being transferred",
                ));
            }
            return Err(wrong_state(
                id,
                &state_name(entry.call.state),
                "transfer a call that is not established",
            ));
        }
        if request.mode == TransferMode::Attended {
            return Err(ConsoleError::BadRequest(
                "attended transfers start with POST /calls/{id}/consult".into(),
            ));
        }
        let target = Target::parse(&request.transfer_to)?;
        if request.ringing_timeout_s == 0 || request.ringing_timeout_s > MAX_RINGING_TIMEOUT_S {
            return Err(ConsoleError::BadRequest(format!(
                "ringing_timeout_s must be 1..={MAX_RINGING_TIMEOUT_S}"
            )));
        }
        let refer_to = self.refer_to_for(&target)?;
        let transfer = Transfer {
            id: TransferId::random(),
            mode: request.mode,
            transfer_to: request.transfer_to.trim().to_string(),
            state: TransferState::Triggered,
            sip_status: None,
            reason: None,
            play_dialtone: request.play_dialtone,
            fallback_to_anchored: request.fallback_to_anchored,
            target_call_id: None,
            started_at: self.wall(now),
            ended_at: None,
        };
        let transfer_id = transfer.id.clone();
        let state_before = entry.call.state;
        let deadline = now + Duration::from_secs(u64::from(request.ringing_timeout_s));
        let session = entry.session;
        if let Some(entry) = self.calls.get_mut(id) {
            entry.transfer = Some(TransferRuntime {
                public: transfer,
                refer_cseq: None,
                refer_accepted: false,
                deadline,
                state_before,
                refer_after_hold: None,
                held_for_transfer: false,
                caller_id: request.caller_id.clone(),
                request: Some(request.clone()),
            });
        }
        self.set_state(now, id, CallState::Transferring);
        tracing::info!(call = %id, transfer = %transfer_id, mode = ?request.mode, to = %request.transfer_to, "transfer triggered");
        self.emit_transfer(now, id, |call, transfer| EventBody::TransferTriggered {
            call,
            transfer,
        });
        if request.play_dialtone {
            // The caller hears dial tone (not the attendant) until the transfer resolves.
            self.media_tone(id, Some(media_engine::ToneKind::Dial));
        }
        match request.mode {
            TransferMode::Cold
                if self.config.hold_before_refer && state_before == CallState::Active =>
            {
                // RFC 5589 §6.1: hold the transferee first; the REFER follows the re-INVITE.
                let offer = self.media_offer(id, media_engine::sdp::Direction::SendOnly);
                if self.ua.reinvite(now, session, offer).is_ok() {
                    if let Some(t) = self.calls.get_mut(id).and_then(|e| e.transfer.as_mut()) {
                        t.refer_after_hold = Some(refer_to);
                        t.held_for_transfer = true;
                    }
                } else {
                    self.send_refer(now, id, session, &refer_to);
                }
            }
            TransferMode::Cold => self.send_refer(now, id, session, &refer_to),
            TransferMode::Attended => {
                // Validated below before anything happens; unreachable in practice.
                self.fail_transfer(
                    now,
                    id,
                    None,
                    "attended transfers start with /consult".into(),
                );
            }
            TransferMode::Anchored => self.start_anchored(now, id),
        }
        Ok(Reply::Transfer(transfer_id))
    }

    /// `Command::CancelTransfer`: gives up on the pending transfer; the caller stays with the
    /// attendant.
    pub(crate) fn cancel_transfer(
        &mut self,
        now: Instant,
        id: &CallId,
    ) -> Result<Reply, ConsoleError> {
        let entry = self.live(id)?;
        let pending = entry
            .transfer
            .as_ref()
            .is_some_and(|t| !is_final(t.public.state));
        if !pending {
            return Err(wrong_state(
                id,
                &state_name(entry.call.state),
                "cancel a transfer that is not pending",
            ));
        }
        let restore = entry
            .transfer
            .as_ref()
            .map_or(CallState::Active, |t| t.state_before);
        self.abandon_consultation(now, id);
        self.abandon_anchored(now, id);
        self.media_tone(id, None);
        let wall = self.wall(now);
        if let Some(t) = self.calls.get_mut(id).and_then(|e| e.transfer.as_mut()) {
            t.public.state = TransferState::Cancelled;
            t.public.ended_at = Some(wall);
        }
        self.set_state(now, id, restore);
        tracing::info!(call = %id, "transfer cancelled by the attendant");
        self.emit_transfer(now, id, |call, transfer| EventBody::TransferCancelled {
            call,
            transfer,
        });
        self.emit_call(now, id, |call| EventBody::CallResumed { call });
        self.get(id).map(Reply::Call)
    }

    /// The earliest transfer deadline.
    pub(crate) fn transfer_deadline(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter_map(|e| e.transfer.as_ref())
            .filter(|t| awaiting(t))
            .map(|t| t.deadline)
            .min()
    }

    /// Fails transfers whose target did not answer in time.
    pub(crate) fn check_transfer_deadlines(&mut self, now: Instant) {
        let expired: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, e)| {
                e.transfer
                    .as_ref()
                    .is_some_and(|t| !is_final(t.public.state) && awaiting(t) && t.deadline <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            let secs = self
                .calls
                .get(&id)
                .and_then(|e| e.transfer.as_ref())
                .map_or(0, |t| {
                    let started = t.public.started_at;
                    (self.wall(now) - started).num_seconds()
                });
            self.fail_transfer(
                now,
                &id,
                Some(408),
                format!("no final answer from the transfer target within {secs} s"),
            );
            // An anchored target still ringing gets a CANCEL.
            self.abandon_anchored(now, &id);
        }
    }

    /// A NOTIFY inside a call's dialog: always answered 200 (RFC 6665), then read as REFER
    /// progress when a cold transfer of that call is pending.
    pub(crate) fn on_notify(
        &mut self,
        now: Instant,
        session: SessionId,
        key: &TransactionKey,
        request: &rsip::Request,
    ) {
        let event = EventHeader::from_message(request).and_then(Result::ok);
        let is_refer = event
            .as_ref()
            .is_some_and(|e| e.package.eq_ignore_ascii_case("refer"));
        let status = if event.is_some() && !is_refer {
            489
        } else {
            200
        };
        let _ = self.ua.respond(now, key, request, status, vec![], None);
        if !is_refer {
            return;
        }
        let Some(id) = self.by_session.get(&session).cloned() else {
            return;
        };
        let Some(t) = self.calls.get(&id).and_then(|e| e.transfer.as_ref()) else {
            return;
        };
        if t.refer_cseq.is_none() || is_final(t.public.state) {
            return;
        }
        // Match the subscription: Event id is our REFER's CSeq (RFC 3515 §2.4.6); absent id
        // matches the only REFER we have.
        if let (Some(id_param), Some(cseq)) =
            (event.as_ref().and_then(|e| e.id.clone()), t.refer_cseq)
            && id_param.trim() != cseq.to_string()
        {
            return;
        }
        let terminated = SubscriptionState::from_message(request)
            .and_then(Result::ok)
            .is_some_and(|s| s.state == SubState::Terminated);
        match sip_message::sipfrag::parse_status(&request.body) {
            Some((code, _)) if (200..300).contains(&code) => self.transfer_answered(now, &id, code),
            Some((code, reason)) if code >= 300 => {
                let why = format!("the transfer target answered {code} {reason}");
                self.fail_transfer(now, &id, Some(code), why);
            }
            Some((code, _)) => {
                if let Some(t) = self.calls.get_mut(&id).and_then(|e| e.transfer.as_mut()) {
                    t.public.sip_status = Some(code);
                }
                if terminated {
                    self.fail_transfer(
                        now,
                        &id,
                        Some(code),
                        "the transfer subscription ended without a final result".into(),
                    );
                }
            }
            None if terminated => {
                self.fail_transfer(
                    now,
                    &id,
                    None,
                    "the transfer subscription ended without a final result".into(),
                );
            }
            None => {}
        }
    }

    /// The response to our REFER (or to another in-dialog request).
    pub(crate) fn on_in_dialog_response(
        &mut self,
        now: Instant,
        session: SessionId,
        method: Method,
        response: Option<&rsip::Response>,
    ) {
        if method != Method::Refer {
            return;
        }
        let Some(id) = self.by_session.get(&session).cloned() else {
            return;
        };
        let Some(t) = self.calls.get(&id).and_then(|e| e.transfer.as_ref()) else {
            return;
        };
        if is_final(t.public.state) || t.refer_cseq.is_none() {
            return;
        }
        let Some(response) = response else {
            self.fail_transfer(
                now,
                &id,
                Some(408),
                "the far end did not answer the REFER".into(),
            );
            return;
        };
        let code = response.status_code.code();
        match code {
            200..=299 => {
                let no_subscription = ReferSub::from_message(response)
                    .and_then(Result::ok)
                    .is_some_and(|r| !r.0);
                if let Some(t) = self.calls.get_mut(&id).and_then(|e| e.transfer.as_mut()) {
                    t.refer_accepted = true;
                    t.public.sip_status = Some(code);
                }
                if no_subscription {
                    // RFC 4488: no NOTIFYs will come; the 2xx is all we get.
                    self.transfer_answered(now, &id, code);
                }
            }
            300.. => {
                let reason = match code {
                    403 | 603 => format!("the far end refused the transfer ({code})"),
                    405 | 501 => format!("the far end does not support transfers ({code})"),
                    _ => format!("the far end rejected the REFER ({code})"),
                };
                self.fail_transfer(now, &id, Some(code), reason);
            }
            _ => {}
        }
    }

    /// The caller's leg ended while a transfer was pending.
    pub(crate) fn transfer_leg_ended(&mut self, now: Instant, id: &CallId) {
        let pending = self
            .calls
            .get(id)
            .and_then(|e| e.transfer.as_ref())
            .is_some_and(|t| !is_final(t.public.state));
        if pending {
            // The caller is gone: nothing to resume.
            if let Some(entry) = self.calls.get_mut(id) {
                entry.call.state = CallState::Ended;
            }
            self.fail_transfer(
                now,
                id,
                None,
                "the call ended before the transfer completed".into(),
            );
        }
    }

    /// The hold re-INVITE before a REFER finished (any status): send the REFER now.
    /// Returns true when the re-INVITE belonged to a transfer.
    pub(crate) fn refer_after_hold(&mut self, now: Instant, id: &CallId) -> bool {
        let Some(entry) = self.calls.get_mut(id) else {
            return false;
        };
        let session = entry.session;
        let Some(refer_to) = entry
            .transfer
            .as_mut()
            .and_then(|t| t.refer_after_hold.take())
        else {
            return false;
        };
        self.send_refer(now, id, session, &refer_to);
        true
    }

    pub(crate) fn send_refer(
        &mut self,
        now: Instant,
        id: &CallId,
        session: SessionId,
        refer_to: &ReferTo,
    ) {
        let referred_by = self
            .calls
            .get(id)
            .map(|e| format!("<{}>", e.call.local_uri))
            .unwrap_or_default();
        let headers = vec![
            (ReferTo::NAME.to_string(), refer_to.to_string()),
            ("Referred-By".to_string(), referred_by),
        ];
        match self
            .ua
            .send_in_dialog(now, session, Method::Refer, headers, None)
        {
            Ok(cseq) => {
                let mut first = true;
                if let Some(t) = self.calls.get_mut(id).and_then(|e| e.transfer.as_mut()) {
                    t.refer_cseq = Some(cseq);
                    // Attended: "initiated" was the consultation call; the target already answered.
                    first = t.public.state == TransferState::Triggered;
                    if first {
                        t.public.state = TransferState::Initiated;
                    }
                }
                tracing::info!(call = %id, refer_to = %refer_to, "REFER sent");
                if first {
                    self.emit_transfer(now, id, |call, transfer| EventBody::TransferInitiated {
                        call,
                        transfer,
                    });
                }
            }
            Err(error) => self.fail_transfer(now, id, None, format!("cannot send REFER: {error}")),
        }
    }

    fn transfer_answered(&mut self, now: Instant, id: &CallId, code: u16) {
        let mut already = false;
        if let Some(t) = self.calls.get_mut(id).and_then(|e| e.transfer.as_mut()) {
            // Attended transfers were answered when the consultation was.
            already = t.public.state == TransferState::Answered;
            t.public.state = TransferState::Answered;
            t.public.sip_status = Some(code);
        }
        if !already {
            self.emit_transfer(now, id, |call, transfer| EventBody::TransferAnswered {
                call,
                transfer,
            });
        }
        // RFC 5589: only now, after the final NOTIFY, does the transferor leave the call.
        let wall = self.wall(now);
        if let Some(t) = self.calls.get_mut(id).and_then(|e| e.transfer.as_mut()) {
            t.public.state = TransferState::Completed;
            t.public.ended_at = Some(wall);
        }
        tracing::info!(call = %id, "transfer completed");
        self.emit_transfer(now, id, |call, transfer| EventBody::TransferCompleted {
            call,
            transfer,
        });
        if let Some(entry) = self.calls.get_mut(id) {
            entry.local_end = Some(EndReason::Transferred);
            let session = entry.session;
            if self.ua.hangup(now, session).is_err() {
                self.finish(now, id, EndReason::Transferred, None);
            }
        }
    }

    pub(crate) fn fail_transfer(
        &mut self,
        now: Instant,
        id: &CallId,
        status: Option<u16>,
        reason: String,
    ) {
        let wall = self.wall(now);
        let Some(entry) = self.calls.get_mut(id) else {
            return;
        };
        let Some(t) = entry.transfer.as_mut() else {
            return;
        };
        if is_final(t.public.state) {
            return;
        }
        t.public.state = TransferState::Failed;
        t.public.ended_at = Some(wall);
        t.public.reason = Some(reason.clone());
        if status.is_some() {
            t.public.sip_status = status;
        }
        let restore = t.state_before;
        let held_for_transfer = std::mem::take(&mut t.held_for_transfer);
        t.refer_after_hold = None;
        let session = entry.session;
        let caller_up = entry.call.state != CallState::Ended;
        if caller_up && held_for_transfer {
            // Take the caller off the hold we put it on for the REFER.
            let offer = self.media_offer(id, media_engine::sdp::Direction::SendRecv);
            let _ = self.ua.reinvite(now, session, offer);
            if let Some(e) = self.calls.get_mut(id)
                && e.call.held_by == Some(crate::model::HoldSide::Local)
            {
                e.call.held_by = None;
            }
        }
        tracing::warn!(call = %id, ?status, %reason, "transfer failed");
        if caller_up {
            // Back with the attendant: their audio again, not the dial tone.
            self.media_tone(id, None);
        }
        if caller_up {
            let held_by_peer = self
                .calls
                .get(id)
                .is_some_and(|e| e.call.held_by == Some(crate::model::HoldSide::Remote));
            let restore = if held_by_peer {
                CallState::Held
            } else {
                restore
            };
            self.set_state(now, id, restore);
        }
        self.emit_transfer(now, id, |call, transfer| EventBody::TransferFailed {
            call,
            transfer,
            sip_status: status,
            reason: reason.clone(),
        });
        if caller_up && self.calls.contains_key(id) {
            self.emit_call(now, id, |call| EventBody::CallResumed { call });
        }
        // Cold failed and the attendant asked for it: try anchored to the same destination.
        let fallback = self
            .calls
            .get(id)
            .and_then(|e| e.transfer.as_ref())
            .filter(|t| t.public.mode == TransferMode::Cold && t.public.fallback_to_anchored)
            .and_then(|t| t.request.clone());
        if caller_up && let Some(mut request) = fallback {
            request.mode = TransferMode::Anchored;
            request.fallback_to_anchored = false;
            tracing::info!(call = %id, "cold transfer failed: falling back to anchored");
            if let Err(error) = self.start_transfer(now, id, request) {
                tracing::warn!(call = %id, %error, "anchored fallback refused");
            }
        }
    }

    fn refer_to_for(&self, target: &Target) -> Result<ReferTo, ConsoleError> {
        let uri = match target {
            // Trunks such as Twilio want the tel: URI exactly as given.
            Target::Tel(tel) => tel.clone(),
            Target::Sip(uri) => uri.clone(),
            Target::Digits(_) => {
                let domain = self
                    .accounts
                    .first()
                    .map(|a| a.config.domain())
                    .ok_or_else(|| ConsoleError::NoRoute(target.as_str().to_string()))?;
                target
                    .to_request_uri(Some(&domain))
                    .ok_or_else(|| ConsoleError::NoRoute(target.as_str().to_string()))?
            }
        };
        Ok(ReferTo::new(uri))
    }

    pub(crate) fn emit_transfer(
        &mut self,
        now: Instant,
        id: &CallId,
        make: impl FnOnce(crate::Call, Transfer) -> EventBody,
    ) {
        let Some(entry) = self.calls.get_mut(id) else {
            return;
        };
        let Some(t) = entry.transfer.as_ref() else {
            return;
        };
        entry.call.transfer = Some(t.public.clone());
        let body = make(entry.call.clone(), t.public.clone());
        self.emit(now, Some(id.clone()), body);
    }

    pub(crate) fn emit_call(
        &mut self,
        now: Instant,
        id: &CallId,
        make: impl FnOnce(crate::Call) -> EventBody,
    ) {
        let Some(entry) = self.calls.get(id) else {
            return;
        };
        let body = make(entry.call.clone());
        self.emit(now, Some(id.clone()), body);
    }
}

/// Still waiting for the target to answer (cold: REFER outcome; attended: consultation
/// answer, then the REFER's outcome).
fn awaiting(t: &TransferRuntime) -> bool {
    !is_final(t.public.state)
        && (t.public.state != TransferState::Answered || t.refer_cseq.is_some())
}

fn is_final(state: TransferState) -> bool {
    matches!(
        state,
        TransferState::Completed | TransferState::Failed | TransferState::Cancelled
    )
}

fn state_name(state: CallState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn wrong_state(id: &CallId, state: &str, action: &'static str) -> ConsoleError {
    ConsoleError::WrongState {
        call: id.clone(),
        state: state.to_string(),
        action,
    }
}

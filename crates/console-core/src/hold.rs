//! Hold and resume (RFC 3264 §8.4, RFC 6337): we hold with a re-INVITE offering `a=sendonly`
//! and resume with `a=sendrecv`; a peer holding us is recognised from its offer
//! (`sendonly`, `inactive` or the old `c=0.0.0.0`). Mute is local: the microphone stops
//! feeding the call (the media engine sends silence or nothing).

use crate::command::Reply;
use crate::console::Console;
use crate::error::ConsoleError;
use crate::event::EventBody;
use crate::model::{CallId, CallState, HoldSide};
use sip_proto::SessionId;
use std::time::Instant;

impl Console {
    /// `Command::Hold` (`hold = true`) and `Command::Resume`.
    pub(crate) fn hold(
        &mut self,
        now: Instant,
        id: &CallId,
        hold: bool,
    ) -> Result<Reply, ConsoleError> {
        let entry = self.live(id)?;
        let call = &entry.call;
        let allowed = if hold {
            call.state == CallState::Active
        } else {
            call.state == CallState::Held && call.held_by == Some(HoldSide::Local)
        };
        if !allowed || entry.pending_hold.is_some() {
            let action = if hold {
                "hold a call that is not active"
            } else {
                "resume a call we do not hold"
            };
            return Err(ConsoleError::WrongState {
                call: id.clone(),
                state: state_name(call.state),
                action,
            });
        }
        let session = entry.session;
        let direction = if hold {
            media_engine::sdp::Direction::SendOnly
        } else {
            media_engine::sdp::Direction::SendRecv
        };
        let offer = self.media_offer(id, direction);
        self.ua
            .reinvite(now, session, offer)
            .map_err(|_| ConsoleError::WrongState {
                call: id.clone(),
                state: "busy".into(),
                action: "re-INVITE while another one is pending",
            })?;
        if let Some(entry) = self.calls.get_mut(id) {
            entry.pending_hold = Some(hold);
        }
        tracing::info!(call = %id, hold, "re-INVITE sent");
        self.get(id).map(Reply::Call)
    }

    /// `Command::Mute` / `Command::Unmute`.
    pub(crate) fn set_muted(&mut self, id: &CallId, muted: bool) -> Result<Reply, ConsoleError> {
        let entry = self.live(id)?;
        if !entry.call.state.is_established() {
            return Err(ConsoleError::WrongState {
                call: id.clone(),
                state: state_name(entry.call.state),
                action: "mute a call that is not established",
            });
        }
        if let Some(entry) = self.calls.get_mut(id) {
            entry.call.muted = muted;
        }
        self.media_out.push_back(crate::media::MediaCommand::Mute {
            call: id.clone(),
            muted,
        });
        self.get(id).map(Reply::Call)
    }

    /// The final response to our hold/resume re-INVITE.
    pub(crate) fn on_reinvite_result(
        &mut self,
        now: Instant,
        session: SessionId,
        status: u16,
        body: &[u8],
    ) {
        let Some(id) = self.by_session.get(&session).cloned() else {
            return;
        };
        if (200..300).contains(&status) {
            self.media_process_answer(&id, body);
        }
        if self.refer_after_hold(now, &id) {
            return;
        }
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(hold) = entry.pending_hold.take() else {
            return;
        };
        if !(200..300).contains(&status) {
            tracing::warn!(call = %id, status, hold, "the peer refused our re-INVITE");
            return;
        }
        // During a consultation the call stays "transferring" but shows who holds it.
        let transferring = entry.call.state == CallState::Transferring;
        if hold {
            if !transferring {
                entry.call.state = CallState::Held;
            }
            entry.call.held_by = Some(HoldSide::Local);
            let call = entry.call.clone();
            self.emit(now, Some(id), EventBody::CallHeld { call });
        } else {
            if !transferring {
                entry.call.state = CallState::Active;
            }
            entry.call.held_by = None;
            let call = entry.call.clone();
            self.emit(now, Some(id), EventBody::CallResumed { call });
        }
    }

    /// The peer's offer in a re-INVITE had this direction.
    pub(crate) fn on_remote_direction(
        &mut self,
        now: Instant,
        session: SessionId,
        direction: &str,
    ) {
        let Some(id) = self.by_session.get(&session).cloned() else {
            return;
        };
        let Some(entry) = self.calls.get_mut(&id) else {
            return;
        };
        let holds = matches!(direction, "sendonly" | "inactive");
        let state = entry.call.state;
        let held_by_peer = entry.call.held_by == Some(HoldSide::Remote);
        if holds && !held_by_peer && matches!(state, CallState::Active | CallState::Transferring) {
            // A transferee may hold us while it follows a REFER (linphone does): the call
            // stays "transferring" but shows who holds it.
            entry.call.held_by = Some(HoldSide::Remote);
            if state == CallState::Active {
                entry.call.state = CallState::Held;
            }
            let call = entry.call.clone();
            tracing::info!(call = %id, "held by the remote party");
            self.emit(now, Some(id.clone()), EventBody::CallHeld { call });
            self.bridge_hold(now, &id, true);
        } else if !holds && held_by_peer {
            entry.call.held_by = None;
            if state == CallState::Held {
                entry.call.state = CallState::Active;
            }
            let call = entry.call.clone();
            tracing::info!(call = %id, "resumed by the remote party");
            self.emit(now, Some(id.clone()), EventBody::CallResumed { call });
            self.bridge_hold(now, &id, false);
        }
    }
}

fn state_name(state: CallState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

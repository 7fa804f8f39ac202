//! Dialog identity and the dialog state shared by every usage (RFC 3261 §12): Call-ID, tags,
//! CSeq counters, remote target and route set.

use crate::Destination;

/// A dialog's identity from our side: Call-ID, our tag, the peer's tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: String,
    /// Our tag (From tag of our requests).
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

/// State of one dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// The Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag (empty until a response or request with one arrives).
    pub remote_tag: String,
    /// Our URI as it appears in From/To (name-addr, without tag).
    pub local_uri: String,
    /// The peer's URI as it appears in From/To (name-addr, without tag).
    pub remote_uri: String,
    /// Where in-dialog requests go: the peer's Contact URI (§12.1.1, refreshed by target
    /// refresh requests §12.2.2).
    pub remote_target: String,
    /// Route set from Record-Route (reversed for the UAC, §12.1.2), as header values.
    pub route_set: Vec<String>,
    /// CSeq of our last request.
    pub local_cseq: u32,
    /// CSeq of the peer's last request, to refuse stale ones (§12.2.2).
    pub remote_cseq: Option<u32>,
    /// The address to send in-dialog requests to.
    pub destination: Destination,
}

impl Dialog {
    /// The dialog's id.
    pub fn id(&self) -> DialogId {
        DialogId {
            call_id: self.call_id.clone(),
            local_tag: self.local_tag.clone(),
            remote_tag: self.remote_tag.clone(),
        }
    }

    /// Takes the next local CSeq number.
    pub fn next_cseq(&mut self) -> u32 {
        self.local_cseq = self.local_cseq.wrapping_add(1).max(1);
        self.local_cseq
    }

    /// Accepts a request's CSeq if it is newer than the last one (§12.2.2); `false` means the
    /// request is out of order and must get a 500.
    pub fn accept_remote_cseq(&mut self, cseq: u32) -> bool {
        match self.remote_cseq {
            Some(last) if cseq <= last => false,
            _ => {
                self.remote_cseq = Some(cseq);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transport;

    fn dialog() -> Dialog {
        Dialog {
            call_id: "c".into(),
            local_tag: "a".into(),
            remote_tag: "b".into(),
            local_uri: "<sip:a@x>".into(),
            remote_uri: "<sip:b@y>".into(),
            remote_target: "sip:b@127.0.0.1".into(),
            route_set: vec![],
            local_cseq: 1,
            remote_cseq: None,
            destination: Destination {
                transport: Transport::Udp,
                addr: "127.0.0.1:5060".parse().expect("literal"),
            },
        }
    }

    #[test]
    fn remote_cseq_must_increase() {
        let mut d = dialog();
        assert!(d.accept_remote_cseq(5));
        assert!(!d.accept_remote_cseq(5));
        assert!(!d.accept_remote_cseq(4));
        assert!(d.accept_remote_cseq(6));
    }

    #[test]
    fn local_cseq_counts_up() {
        let mut d = dialog();
        assert_eq!(d.next_cseq(), 2);
        assert_eq!(d.next_cseq(), 3);
    }
}

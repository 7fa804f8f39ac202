//! The RFC 3261 §17 timers, one variant each, and the deadline queue that exposes only the
//! earliest one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// A transaction timer (RFC 3261 §17 and RFC 6026).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// INVITE client: retransmit the request (UDP), doubling from T1.
    A,
    /// INVITE client: give up waiting for any final response (64·T1).
    B,
    /// INVITE client: linger in Completed to absorb retransmitted final responses (32 s UDP).
    D,
    /// Non-INVITE client: retransmit the request (UDP), doubling up to T2.
    E,
    /// Non-INVITE client: give up waiting for a final response (64·T1).
    F,
    /// INVITE server: retransmit a 3xx–6xx response (UDP) until ACK.
    G,
    /// INVITE server: give up waiting for the ACK of a 3xx–6xx response (64·T1).
    H,
    /// INVITE server: linger in Confirmed to absorb retransmitted ACKs (T4 UDP).
    I,
    /// Non-INVITE server: linger in Completed to answer retransmitted requests (64·T1 UDP).
    J,
    /// Non-INVITE client: linger in Completed to absorb retransmitted responses (T4 UDP).
    K,
    /// INVITE server after 2xx (RFC 6026 Accepted): absorb retransmitted INVITEs (64·T1).
    L,
    /// INVITE client after 2xx (RFC 6026 Accepted): pass retransmitted 2xx up (64·T1).
    M,
}

/// A min-heap of deadlines with lazy deletion: entries whose owner no longer arms them are
/// skipped by the owner when they fire.
#[derive(Debug)]
pub(crate) struct DeadlineQueue<K: Ord> {
    heap: BinaryHeap<Reverse<(Instant, u64, K)>>,
    seq: u64,
}

impl<K: Ord + Clone> DeadlineQueue<K> {
    pub(crate) fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Adds a deadline for `key`.
    pub(crate) fn push(&mut self, at: Instant, key: K) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, key)));
    }

    /// The earliest deadline.
    pub(crate) fn peek(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<K> {
        if self.peek()? <= now {
            self.heap.pop().map(|Reverse((_, _, k))| k)
        } else {
            None
        }
    }

    /// Number of entries (including stale ones).
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Drops stale entries when the heap has grown far beyond the live set.
    pub(crate) fn retain(&mut self, mut live: impl FnMut(&K) -> bool) {
        let heap = std::mem::take(&mut self.heap);
        self.heap = heap
            .into_iter()
            .filter(|Reverse((_, _, k))| live(k))
            .collect();
    }
}

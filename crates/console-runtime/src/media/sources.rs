//! Which of a task's wake-up sources woke it.
//!
//! A media task waits on up to [`SOURCES`] things (each leg's commands, RTP and RTCP, a leg
//! joining, the tick). Polling all of them on every wake-up means, for a relaying bridge, two
//! channel polls and three socket polls per packet that find nothing: in a profile at 600
//! bridged calls that was about a tenth of the relay's CPU. Each source gets a waker of its
//! own instead, which records its bit before waking the task, and the task polls only the
//! sources whose bits are set (the way `FuturesUnordered` does it).
//!
//! The protocol: [`Sources::take`] returns the bits set since the last call and clears them;
//! the task polls each of those with [`Sources::waker`] of that source. A source polled to
//! `Pending` has registered its waker and sets its bit again when it fires. A source that
//! returned `Ready` (it may have more), or one not polled this time, is put back with
//! [`Sources::put_back`]. Anything that changes what a source is (a leg joins or leaves, the
//! tick's deadline moves) marks it with [`Sources::mark`], so it is polled and registers anew.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

/// Wake-up sources per task (see `poll_source` in the parent module).
pub(crate) const SOURCES: usize = 8;

/// Every source's bit.
pub(crate) const ALL: u8 = u8::MAX;

struct Shared {
    ready: AtomicU8,
    /// The task's own waker, which a source's waker wakes after setting its bit.
    task: Mutex<Option<Waker>>,
}

struct SourceWaker {
    shared: Arc<Shared>,
    bit: u8,
}

impl Wake for SourceWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.ready.fetch_or(self.bit, Ordering::AcqRel);
        // By reference, under the lock: no clone per wake-up. The task's waker only schedules
        // the task (it never calls back into a source's waker), so the lock is never re-taken.
        if let Ok(task) = self.shared.task.lock()
            && let Some(task) = task.as_ref()
        {
            task.wake_by_ref();
        }
    }
}

/// A task's sources: their wakers (made once) and the bits of those that fired.
pub(crate) struct Sources {
    shared: Arc<Shared>,
    wakers: [Waker; SOURCES],
    /// The task waker last stored in `shared` (compared without taking the lock).
    task: Option<Waker>,
}

impl Sources {
    /// Every source marked, so each is polled (and registers its waker) the first time.
    pub(crate) fn new() -> Self {
        let shared = Arc::new(Shared {
            ready: AtomicU8::new(ALL),
            task: Mutex::new(None),
        });
        let wakers = std::array::from_fn(|i| {
            Waker::from(Arc::new(SourceWaker {
                shared: shared.clone(),
                bit: 1 << i,
            }))
        });
        Self {
            shared,
            wakers,
            task: None,
        }
    }

    /// Remembers the task's waker (once per change of waker, which tokio never does for a
    /// task, so once).
    pub(crate) fn set_task(&mut self, task: &Waker) {
        if self.task.as_ref().is_some_and(|t| t.will_wake(task)) {
            return;
        }
        if let Ok(mut stored) = self.shared.task.lock() {
            *stored = Some(task.clone());
        }
        self.task = Some(task.clone());
    }

    /// The bits set since the last call; they are cleared.
    pub(crate) fn take(&self) -> u8 {
        self.shared.ready.swap(0, Ordering::AcqRel)
    }

    /// Sets `bits` again (sources to poll next time).
    pub(crate) fn put_back(&self, bits: u8) {
        if bits != 0 {
            self.shared.ready.fetch_or(bits, Ordering::AcqRel);
        }
    }

    /// Marks `source` to be polled next time.
    pub(crate) fn mark(&self, source: usize) {
        self.put_back(bit(source));
    }

    /// The waker to poll `source` with.
    pub(crate) fn waker(&self, source: usize) -> &Waker {
        &self.wakers[source % SOURCES]
    }
}

/// The bit of `source`.
pub(crate) fn bit(source: usize) -> u8 {
    1 << (source % SOURCES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_source_waker_sets_its_bit_and_wakes_the_task_once() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let task = Waker::from(count.clone());
        let mut sources = Sources::new();
        sources.set_task(&task);
        assert_eq!(sources.take(), ALL, "everything is polled the first time");
        assert_eq!(sources.take(), 0);

        sources.waker(3).wake_by_ref();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // By value, as an I/O driver does with the waker it took.
        let taken: Waker = sources.waker(5).clone();
        taken.wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert_eq!(sources.take(), bit(3) | bit(5));
        assert_eq!(sources.take(), 0);

        sources.put_back(bit(1));
        sources.mark(7);
        assert_eq!(sources.take(), bit(1) | bit(7));
    }

    #[test]
    fn a_new_task_waker_replaces_the_old_one() {
        let first = Arc::new(Count(AtomicUsize::new(0)));
        let second = Arc::new(Count(AtomicUsize::new(0)));
        let mut sources = Sources::new();
        sources.set_task(&Waker::from(first.clone()));
        sources.set_task(&Waker::from(second.clone()));
        sources.waker(0).wake_by_ref();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
    }
}

//! Which of a task's wake-up sources woke it.
//!
//! A media task waits on up to [`SOURCES`] things (each leg's commands, RTP and RTCP, a leg
//! joining, the tick). Polling all of them on every wake-up means, for a relaying bridge, two
//! channel polls and three socket polls per packet that find nothing: in a profile at 600
//! bridged calls the channel polls alone were 5 % of the relay's CPU. Each source gets a waker of its
//! own instead, which records its bit before waking the task, and the task polls only the
//! sources whose bits are set (the way `FuturesUnordered` does it).
//!
//! The protocol: [`Sources::take`] returns the bits set since the last call and clears them;
//! the task polls each of those with [`Sources::waker`] of that source. A source polled to
//! `Pending` has registered its waker and sets its bit again when it fires. A source that
//! returned `Ready` (it may have more), or one not polled this time, is put back with
//! [`Sources::put_back`]. Anything that changes what a source is (a leg joins or leaves, the
//! tick's deadline moves) marks it with [`Sources::mark`], so it is polled and registers anew.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Wake, Waker};

/// Wake-up sources per task (see `poll_source` in the parent module).
pub(crate) const SOURCES: usize = 8;

/// Every source's bit.
pub(crate) const ALL: u8 = u8::MAX;

/// One source's waker: its bit, and the task's own waker, fixed when it is made (a tokio task
/// keeps one waker for its life, so no lock is needed to find it).
struct SourceWaker {
    ready: Arc<AtomicU8>,
    bit: u8,
    task: Waker,
}

impl Wake for SourceWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.fetch_or(self.bit, Ordering::AcqRel);
        self.task.wake_by_ref();
    }
}

/// A task's sources: their wakers (made once) and the bits of those that fired.
pub(crate) struct Sources {
    ready: Arc<AtomicU8>,
    /// Made for `task` on the first poll; made anew (and every source marked) if the task's
    /// waker ever changes.
    wakers: Vec<Waker>,
    task: Option<Waker>,
}

impl Sources {
    /// Every source marked, so each is polled (and registers its waker) the first time.
    pub(crate) fn new() -> Self {
        Self {
            ready: Arc::new(AtomicU8::new(ALL)),
            wakers: Vec::new(),
            task: None,
        }
    }

    /// Makes the sources' wakers for the task's waker `task` (once: tokio never changes a
    /// task's waker; if something did, every source is marked and registers anew).
    pub(crate) fn set_task(&mut self, task: &Waker) {
        if self.task.as_ref().is_some_and(|t| t.will_wake(task)) {
            return;
        }
        self.wakers = (0..SOURCES)
            .map(|i| {
                Waker::from(Arc::new(SourceWaker {
                    ready: self.ready.clone(),
                    bit: bit(i),
                    task: task.clone(),
                }))
            })
            .collect();
        self.task = Some(task.clone());
        self.put_back(ALL);
    }

    /// The bits set since the last call; they are cleared.
    pub(crate) fn take(&self) -> u8 {
        self.ready.swap(0, Ordering::AcqRel)
    }

    /// Sets `bits` again (sources to poll next time).
    pub(crate) fn put_back(&self, bits: u8) {
        if bits != 0 {
            self.ready.fetch_or(bits, Ordering::AcqRel);
        }
    }

    /// Marks `source` to be polled next time.
    pub(crate) fn mark(&self, source: usize) {
        self.put_back(bit(source));
    }

    /// The waker to poll `source` with; the task's own waker until [`Sources::set_task`].
    pub(crate) fn waker<'a>(&'a self, source: usize, task: &'a Waker) -> &'a Waker {
        self.wakers.get(source % SOURCES).unwrap_or(task)
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
        sources.set_task(&task);
        assert_eq!(sources.take(), 0, "the same task waker changes nothing");

        sources.waker(3, &task).wake_by_ref();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // By value, as an I/O driver does with the waker it took.
        let taken: Waker = sources.waker(5, &task).clone();
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
        let _ = sources.take();
        let second_waker = Waker::from(second.clone());
        sources.set_task(&second_waker);
        assert_eq!(sources.take(), ALL, "every source registers again");
        sources.waker(0, &second_waker).wake_by_ref();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
    }
}

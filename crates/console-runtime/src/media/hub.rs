//! The relay hub: one thread, one `epoll`, every bridge that only relays packets.
//!
//! A same-codec bridge (anchored transfer) does little per packet: read it, rewrite its
//! header into the other leg's stream, send it. Run as a tokio task, each packet also costs the
//! I/O driver's readiness bookkeeping, a task wake-up through the scheduler and the task's
//! poll: in a profile of 600 bridged calls that machinery was a larger share of the console's
//! CPU than the relay itself (docs/benchmarks.md). So a bridge whose two legs relay, with
//! nothing of their own to send every 20 ms, moves here: its task hands over both [`Leg`]s
//! (their sockets leave tokio's reactor), and this thread waits on all such sockets in one
//! `epoll` and relays each packet with the same code the task would have run
//! ([`relay_or_buffer`], [`tick`] for statistics and RTCP every [`RELAY_TICK`]).
//!
//! Anything else is the task's: the moment a command arrives for either leg (DTMF, tone, hold,
//! a new codec, hang-up, listen-in), the hub hands the bridge back to a new task together with
//! that command, and the task decides as it always has, moving the bridge here again once it
//! only relays. So the hub never interprets a command and cannot drift from the task's
//! behaviour.

use super::inbox::Inbox;
use super::{Datagram, Events, Leg, LegSocket, Wake, relay_or_buffer, run, tick, tick_period};
use console_core::MediaEvent;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The `epoll` token of the hub's own wake-up (new bridges, commands).
const WAKE_TOKEN: u64 = u64::MAX;
/// Events taken per `epoll_wait`.
const EVENTS: usize = 256;

/// The handle tasks use to give the hub a bridge. Dropping it stops the hub's thread (its
/// bridges' sockets close with it).
pub(crate) struct Hub {
    arrivals: Option<mpsc::Sender<Bridge>>,
    wake: Arc<EventFd>,
    /// Bridges handed to the hub and not given back yet.
    bridges: Arc<AtomicUsize>,
}

impl Hub {
    /// Starts the hub's thread; bridges it gives back run as tasks on `runtime`.
    pub(crate) fn start(runtime: tokio::runtime::Handle) -> std::io::Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let wake = Arc::new(EventFd::from_flags(
            EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC,
        )?);
        epoll.add(
            wake.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, WAKE_TOKEN),
        )?;
        let (arrivals, rx) = mpsc::channel();
        let bridges = Arc::new(AtomicUsize::new(0));
        let core = Core {
            bridges: Arc::clone(&bridges),
            epoll,
            wake: Arc::clone(&wake),
            arrivals: rx,
            commands: Arc::new(Mutex::new(Vec::new())),
            runtime,
            slots: Vec::new(),
            free: Vec::new(),
            freed: Vec::new(),
            timers: BinaryHeap::new(),
            out: Vec::new(),
            reports: Vec::new(),
            inbox: Inbox::new(),
            relay_buf: Vec::with_capacity(2048),
        };
        std::thread::Builder::new()
            .name("rtp-relay".into())
            .spawn(move || core.run())?;
        Ok(Self {
            arrivals: Some(arrivals),
            wake,
            bridges,
        })
    }

    /// Bridges the hub relays now (counted when handed over, until given back).
    #[cfg(test)]
    pub(crate) fn bridges(&self) -> usize {
        self.bridges.load(Ordering::Acquire)
    }

    /// Takes a relaying bridge (see [`super::hub_can_run`]); gives the legs back, sockets
    /// still with tokio, if the hub is gone. `self` must be the hub the task's `Weak` names.
    pub(crate) fn take(
        self: &Arc<Self>,
        mut legs: Vec<Leg>,
        next_tick: Instant,
        events: &Events,
    ) -> Result<(), Vec<Leg>> {
        let Some(arrivals) = &self.arrivals else {
            return Err(legs);
        };
        for leg in &mut legs {
            to_hub(&mut leg.rtp);
            to_hub(&mut leg.rtcp);
        }
        let bridge = Bridge {
            legs,
            next_tick,
            events: events.clone(),
            hub: Arc::downgrade(self),
        };
        self.bridges.fetch_add(1, Ordering::AcqRel);
        match arrivals.send(bridge) {
            Ok(()) => {
                tracing::debug!("media: a relaying bridge moves to the relay hub");
                let _ = self.wake.write(1);
                Ok(())
            }
            Err(mpsc::SendError(bridge)) => {
                self.bridges.fetch_sub(1, Ordering::AcqRel);
                let mut legs = bridge.legs;
                for leg in &mut legs {
                    to_task(&mut leg.rtp);
                    to_task(&mut leg.rtcp);
                }
                Err(legs)
            }
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        // The thread sees the channel closed on its next wake-up, and ends.
        self.arrivals = None;
        let _ = self.wake.write(1);
    }
}

/// Takes a task's socket out of tokio's reactor.
fn to_hub(socket: &mut LegSocket) {
    *socket = match std::mem::replace(socket, LegSocket::Lost) {
        LegSocket::Task(s) => match s.into_std() {
            Ok(s) => LegSocket::Hub(s),
            Err(error) => {
                tracing::warn!(%error, "media: a socket could not leave tokio; its leg has no media");
                LegSocket::Lost
            }
        },
        other => other,
    };
}

/// Registers a hub socket with tokio's reactor again (inside the runtime's context).
fn to_task(socket: &mut LegSocket) {
    *socket = match std::mem::replace(socket, LegSocket::Lost) {
        LegSocket::Hub(s) => match tokio::net::UdpSocket::from_std(s) {
            Ok(s) => LegSocket::Task(s),
            Err(error) => {
                tracing::warn!(%error, "media: a socket could not return to tokio; its leg has no media");
                LegSocket::Lost
            }
        },
        other => other,
    };
}

fn fd(socket: &LegSocket) -> Option<BorrowedFd<'_>> {
    match socket {
        LegSocket::Hub(s) => Some(s.as_fd()),
        _ => None,
    }
}

/// A bridge in the hub (or on its way there).
struct Bridge {
    legs: Vec<Leg>,
    next_tick: Instant,
    events: Events,
    /// For the task the hub starts when it gives the bridge back.
    hub: Weak<Hub>,
}

#[derive(Default)]
struct Slot {
    /// Bumped each time the slot is emptied: timers and command wake-ups of an earlier
    /// bridge in the same slot are recognised and ignored.
    generation: u32,
    bridge: Option<Bridge>,
}

/// Slot and generation of a bridge whose commands' waker fired.
type Woken = Arc<Mutex<Vec<(usize, u32)>>>;

/// The waker the hub registers on a bridge's command channels.
struct CommandWaker {
    slot: usize,
    generation: u32,
    woken: Woken,
    wake: Arc<EventFd>,
}

impl std::task::Wake for CommandWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Ok(mut woken) = self.woken.lock() {
            woken.push((self.slot, self.generation));
        }
        let _ = self.wake.write(1);
    }
}

/// The hub's thread.
struct Core {
    bridges: Arc<AtomicUsize>,
    epoll: Epoll,
    wake: Arc<EventFd>,
    arrivals: mpsc::Receiver<Bridge>,
    commands: Woken,
    runtime: tokio::runtime::Handle,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Slots emptied during the current batch of events: reused only after it, so a later
    /// event of the batch cannot reach a new bridge in an old bridge's slot.
    freed: Vec<usize>,
    /// Ticks due: (when, slot, generation).
    timers: BinaryHeap<Reverse<(Instant, usize, u32)>>,
    out: Vec<super::Outgoing>,
    reports: Vec<MediaEvent>,
    /// Every bridge's datagrams are read into this one inbox, and relayed packets built in
    /// `relay_buf`.
    inbox: Inbox,
    relay_buf: Vec<u8>,
}

/// What an `epoll` token names: the slot's bridge, which leg, and which of its sockets.
fn token(slot: usize, leg: usize, rtcp: bool) -> u64 {
    ((slot as u64) << 2) | ((leg as u64) << 1) | u64::from(rtcp)
}

impl Core {
    fn run(mut self) {
        let mut events = vec![EpollEvent::empty(); EVENTS];
        loop {
            let timeout = self.timeout(Instant::now());
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => 0,
                Err(error) => {
                    tracing::error!(%error, "media: the relay hub's epoll failed; its bridges end");
                    return;
                }
            };
            for event in &events[..n] {
                let data = event.data();
                if data == WAKE_TOKEN {
                    if !self.on_wake() {
                        return;
                    }
                    continue;
                }
                let slot = (data >> 2) as usize;
                let leg = ((data >> 1) & 1) as usize;
                if data & 1 == 0 {
                    self.on_rtp(slot, leg);
                } else {
                    self.on_rtcp(slot, leg);
                }
            }
            self.on_timers(Instant::now());
            self.free.append(&mut self.freed);
        }
    }

    /// Milliseconds to the next tick, rounded up (`epoll_wait` counts whole milliseconds).
    fn timeout(&self, now: Instant) -> EpollTimeout {
        match self.timers.peek() {
            Some(Reverse((due, ..))) => {
                let wait = due.saturating_duration_since(now);
                let ms = wait.as_micros().div_ceil(1000);
                EpollTimeout::from(u16::try_from(ms).unwrap_or(u16::MAX))
            }
            None => EpollTimeout::NONE,
        }
    }

    /// New bridges and commands. `false` once the [`Hub`] is gone.
    fn on_wake(&mut self) -> bool {
        let _ = self.wake.read();
        loop {
            match self.arrivals.try_recv() {
                Ok(bridge) => self.admit(bridge),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
        let woken = self
            .commands
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        for (slot, generation) in woken {
            if self
                .slots
                .get(slot)
                .is_some_and(|s| s.generation == generation)
            {
                self.poll_commands(slot);
            }
        }
        true
    }

    fn admit(&mut self, bridge: Bridge) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        };
        for (i, leg) in bridge.legs.iter().enumerate() {
            for (socket, rtcp) in [(&leg.rtp, false), (&leg.rtcp, true)] {
                if let Some(fd) = fd(socket) {
                    let event = EpollEvent::new(
                        EpollFlags::EPOLLIN | EpollFlags::EPOLLET,
                        token(slot, i, rtcp),
                    );
                    if let Err(error) = self.epoll.add(fd, event) {
                        tracing::warn!(%error, "media: the relay hub cannot watch a socket");
                    }
                }
            }
        }
        let generation = self.slots[slot].generation;
        self.timers
            .push(Reverse((bridge.next_tick, slot, generation)));
        self.slots[slot].bridge = Some(bridge);
        // A command may have come before the waker was in place; datagrams the task had
        // read and not handed out yet go first.
        if self.poll_commands(slot) {
            for leg in 0..2 {
                self.on_rtp(slot, leg);
            }
        }
    }

    /// Polls both legs' command channels with the hub's waker; a command (or a closed
    /// channel) hands the bridge back to a task. `true` if the bridge stays.
    fn poll_commands(&mut self, slot: usize) -> bool {
        let Some(s) = self.slots.get_mut(slot) else {
            return false;
        };
        let Some(bridge) = s.bridge.as_mut() else {
            return false;
        };
        let waker = Waker::from(Arc::new(CommandWaker {
            slot,
            generation: s.generation,
            woken: Arc::clone(&self.commands),
            wake: Arc::clone(&self.wake),
        }));
        let mut cx = Context::from_waker(&waker);
        let command = bridge.legs.iter_mut().enumerate().find_map(|(i, leg)| {
            match leg.commands.poll_recv(&mut cx) {
                Poll::Ready(command) => Some(Wake::Command(i, command)),
                Poll::Pending => None,
            }
        });
        match command {
            Some(command) => {
                self.give_back(slot, Some(command));
                false
            }
            None => true,
        }
    }

    /// Relays what leg `leg` of the slot's bridge received, until its socket is empty.
    /// Datagrams are read into the hub's own buffers, which stay in cache (a leg's are cold
    /// by the time its next packet arrives, one bridge among hundreds).
    fn on_rtp(&mut self, slot: usize, leg: usize) {
        let Self {
            slots,
            inbox,
            relay_buf,
            reports,
            ..
        } = self;
        let Some(bridge) = slots.get_mut(slot).and_then(|s| s.bridge.as_mut()) else {
            return;
        };
        let legs = &mut bridge.legs;
        if leg >= legs.len() {
            return;
        }
        // What the leg's task had read and not handed out yet goes first.
        while let Some((datagram, from)) = legs[leg].rtp_in.next_received() {
            relay_or_buffer(
                legs,
                leg,
                Datagram::Inbox(datagram),
                from,
                relay_buf,
                reports,
            );
        }
        while let LegSocket::Hub(socket) = &legs[leg].rtp {
            let drained = match inbox.read_fd(socket.as_raw_fd()) {
                Ok(drained) => drained,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    tracing::debug!(%error, "media: RTP read failed");
                    break;
                }
            };
            while let Some((datagram, from)) = inbox.next_received() {
                let bytes = Datagram::Bytes(inbox.bytes(datagram));
                relay_or_buffer(legs, leg, bytes, from, relay_buf, reports);
            }
            if drained {
                // Wait for the next edge.
                break;
            }
        }
        flush(reports, &bridge.events);
    }

    fn on_rtcp(&mut self, slot: usize, leg: usize) {
        let Some(bridge) = self.slots.get_mut(slot).and_then(|s| s.bridge.as_mut()) else {
            return;
        };
        let Some(leg) = bridge.legs.get_mut(leg) else {
            return;
        };
        let LegSocket::Hub(socket) = &leg.rtcp else {
            return;
        };
        loop {
            match socket.recv_from(&mut leg.rtcp_buf) {
                Ok((len, _)) => {
                    let now = leg.now();
                    leg.stream.on_rtcp(now, &leg.rtcp_buf[..len]);
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    tracing::debug!(%error, "media: RTCP read failed");
                    break;
                }
            }
        }
    }

    fn on_timers(&mut self, now: Instant) {
        while let Some(&Reverse((due, slot, generation))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            let Some(s) = self.slots.get_mut(slot) else {
                continue;
            };
            let Some(bridge) = s.bridge.as_mut() else {
                continue;
            };
            if s.generation != generation || bridge.next_tick != due {
                continue;
            }
            tick(&mut bridge.legs, &mut self.out, &mut self.reports);
            flush(&mut self.reports, &bridge.events);
            let period = tick_period(&bridge.legs);
            // As the task does: a late tick does not make up for lost time.
            bridge.next_tick = (due + period).max(now + period / 2);
            self.timers
                .push(Reverse((bridge.next_tick, slot, generation)));
        }
    }

    /// Hands the slot's bridge back to a new task, with `first` as its first wake-up.
    fn give_back(&mut self, slot: usize, first: Option<Wake>) {
        let Some(s) = self.slots.get_mut(slot) else {
            return;
        };
        let Some(mut bridge) = s.bridge.take() else {
            return;
        };
        s.generation = s.generation.wrapping_add(1);
        self.freed.push(slot);
        self.bridges.fetch_sub(1, Ordering::AcqRel);
        tracing::debug!("media: the relay hub gives a bridge back to a task");
        let _runtime = self.runtime.enter();
        for leg in &mut bridge.legs {
            for socket in [&mut leg.rtp, &mut leg.rtcp] {
                if let Some(fd) = fd(socket) {
                    let _ = self.epoll.delete(fd);
                }
                to_task(socket);
            }
        }
        let next_tick = tokio::time::Instant::from_std(bridge.next_tick);
        // Detached: the task runs until its legs end or come back here.
        drop(self.runtime.spawn(run(
            bridge.legs,
            first,
            next_tick,
            bridge.events,
            bridge.hub,
        )));
    }
}

fn flush(reports: &mut Vec<MediaEvent>, events: &Events) {
    for report in reports.drain(..) {
        let _ = events.send(report);
    }
}

//! RTP datagrams read from a leg's socket with one `recvmmsg(2)` per wake-up.
//!
//! With `recv_from` a task learns that the socket is empty only from one more call that fails
//! with `EAGAIN`: two system calls per packet when, as on an RTP leg, one packet arrives per
//! wake-up. `recvmmsg` with room for [`BATCH`] datagrams takes what is queued and stops at the
//! first `EAGAIN` inside the kernel: when it returns fewer than [`BATCH`], the queue was empty,
//! so the socket's readiness is cleared then and there (tokio's `try_io` with `WouldBlock`,
//! which keeps it set if a new packet arrived meanwhile). One system call per packet received.
//!
//! The buffers live in the inbox (allocated once per leg); the `mmsghdr` array that `recvmmsg`
//! fills is per worker thread, since it holds raw pointers and so cannot move between tasks.

#[cfg(target_os = "linux")]
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
#[cfg(target_os = "linux")]
use std::cell::RefCell;
#[cfg(target_os = "linux")]
use std::io::IoSliceMut;
use std::net::SocketAddr;
#[cfg(target_os = "linux")]
use std::net::{SocketAddrV4, SocketAddrV6};
use std::task::{Context, Poll, ready};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per `recvmmsg`.
const BATCH: usize = 4;
/// Room per datagram: larger than any RTP packet a call carries.
const DATAGRAM: usize = 2048;

#[cfg(target_os = "linux")]
thread_local! {
    static HEADERS: RefCell<MultiHeaders<SockaddrStorage>> =
        RefCell::new(MultiHeaders::preallocate(BATCH, None));
}

/// Datagrams received and not yet handed out.
pub(crate) struct Inbox {
    buffers: Box<[[u8; DATAGRAM]; BATCH]>,
    received: [(usize, Option<SocketAddr>); BATCH],
    count: usize,
    next: usize,
}

impl Inbox {
    pub(crate) fn new() -> Self {
        Self {
            buffers: Box::new([[0u8; DATAGRAM]; BATCH]),
            received: [(0, None); BATCH],
            count: 0,
            next: 0,
        }
    }

    /// The next datagram from `socket`: its slot (see [`Inbox::bytes`]) and sender. Pending
    /// (with `cx` woken on the next packet) when nothing is queued.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        socket: &UdpSocket,
    ) -> Poll<std::io::Result<(usize, SocketAddr)>> {
        loop {
            if let Some(next) = self.next_received() {
                return Poll::Ready(Ok(next));
            }
            ready!(socket.poll_recv_ready(cx))?;
            let read = socket.try_io(Interest::READABLE, || {
                if self.read(socket)? {
                    // Drained: nothing more until the next readiness event.
                    Err(std::io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(())
                }
            });
            match read {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// The next datagram already read and not handed out yet: its slot and sender.
    pub(crate) fn next_received(&mut self) -> Option<(usize, SocketAddr)> {
        while self.next < self.count {
            let slot = self.next;
            self.next += 1;
            // A datagram without an IP sender (never on a UDP/IP socket) is skipped.
            if let (_, Some(from)) = self.received[slot] {
                return Some((slot, from));
            }
        }
        None
    }

    /// The bytes of the datagram in `slot`, as [`Inbox::poll_next`] gave it.
    pub(crate) fn bytes(&self, slot: usize) -> &[u8] {
        let len = self.received.get(slot).map_or(0, |r| r.0).min(DATAGRAM);
        self.buffers.get(slot).map_or(&[][..], |b| &b[..len])
    }

    /// Reads what `socket` has queued (what was read before and not handed out is dropped):
    /// `true` when the socket is known to be empty now. `WouldBlock` when nothing was queued.
    #[cfg(target_os = "linux")]
    pub(crate) fn read(&mut self, socket: &impl std::os::fd::AsRawFd) -> std::io::Result<bool> {
        self.read_fd(socket.as_raw_fd())
    }

    /// [`Inbox::read`] from a raw descriptor (the relay hub's sockets).
    #[cfg(target_os = "linux")]
    pub(crate) fn read_fd(&mut self, fd: std::os::fd::RawFd) -> std::io::Result<bool> {
        Ok(self.fill(fd)? < BATCH)
    }

    /// One datagram (no `recvmmsg` here): the socket may hold more.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn read(&mut self, socket: &UdpSocket) -> std::io::Result<bool> {
        self.count = 0;
        self.next = 0;
        let (len, from) = socket.try_recv_from(&mut self.buffers[0])?;
        self.received[0] = (len, Some(from));
        self.count = 1;
        Ok(false)
    }

    /// One `recvmmsg` into the buffers; how many datagrams it read.
    #[cfg(target_os = "linux")]
    fn fill(&mut self, fd: std::os::fd::RawFd) -> std::io::Result<usize> {
        self.count = 0;
        self.next = 0;
        let Self {
            buffers, received, ..
        } = self;
        let count = HEADERS.with_borrow_mut(|headers| {
            let [b0, b1, b2, b3] = &mut **buffers;
            let mut slices = [
                [IoSliceMut::new(b0)],
                [IoSliceMut::new(b1)],
                [IoSliceMut::new(b2)],
                [IoSliceMut::new(b3)],
            ];
            let results = recvmmsg(fd, headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None)?;
            let mut n = 0;
            for (slot, message) in received.iter_mut().zip(results) {
                *slot = (message.bytes, message.address.and_then(|a| socket_addr(&a)));
                n += 1;
            }
            Ok::<usize, nix::errno::Errno>(n)
        })?;
        self.count = count;
        Ok(count)
    }
}

#[cfg(target_os = "linux")]
fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddrV4::from(*v4).into());
    }
    address
        .as_sockaddr_in6()
        .map(|v6| SocketAddrV6::from(*v6).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll_once(
        inbox: &mut Inbox,
        socket: &UdpSocket,
    ) -> Poll<std::io::Result<(Vec<u8>, SocketAddr)>> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        inbox
            .poll_next(&mut cx, socket)
            .map(|r| r.map(|(slot, from)| (inbox.bytes(slot).to_vec(), from)))
    }

    async fn next(inbox: &mut Inbox, socket: &UdpSocket) -> std::io::Result<(Vec<u8>, SocketAddr)> {
        std::future::poll_fn(|cx| {
            inbox
                .poll_next(cx, socket)
                .map(|r| r.map(|(slot, from)| (inbox.bytes(slot).to_vec(), from)))
        })
        .await
    }

    #[tokio::test]
    async fn hands_out_every_datagram_in_order_across_batches() -> std::io::Result<()> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let to = socket.local_addr()?;
        // More than one batch queued before the first read.
        for i in 0..(BATCH * 2 + 1) {
            peer.send_to(&[i as u8; 3], to)?;
        }
        let mut inbox = Inbox::new();
        for i in 0..(BATCH * 2 + 1) {
            let (bytes, from) = next(&mut inbox, &socket).await?;
            assert_eq!(bytes, vec![i as u8; 3]);
            assert_eq!(from, peer.local_addr()?);
        }
        // Drained: the next poll waits.
        assert!(poll_once(&mut inbox, &socket).is_pending());
        // And a new datagram wakes it again.
        peer.send_to(b"late", to)?;
        let (bytes, _) =
            tokio::time::timeout(std::time::Duration::from_secs(5), next(&mut inbox, &socket))
                .await
                .map_err(std::io::Error::other)??;
        assert_eq!(bytes, b"late");
        Ok(())
    }

    #[tokio::test]
    async fn a_datagram_larger_than_a_buffer_is_cut_not_fatal() -> std::io::Result<()> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
        peer.send_to(&[7u8; DATAGRAM + 100], socket.local_addr()?)?;
        peer.send_to(b"next", socket.local_addr()?)?;
        let mut inbox = Inbox::new();
        let (bytes, _) = next(&mut inbox, &socket).await?;
        assert_eq!(bytes.len(), DATAGRAM);
        let (bytes, _) = next(&mut inbox, &socket).await?;
        assert_eq!(bytes, b"next");
        Ok(())
    }
}

//! Sockets: UDP receive loops, TCP connections framed by Content-Length, and the choice of the
//! address we advertise.

use sip_message::framing::{Frame, StreamFramer};
use sip_proto::{Destination, Transport};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// Largest UDP datagram we read; bigger ones are truncated by the kernel and fail to parse.
const UDP_BUFFER: usize = 65_535;
/// Per-connection queue of outgoing TCP messages.
const TCP_QUEUE: usize = 1024;

/// Something the network handed to the engine.
#[derive(Debug)]
pub(crate) enum NetInput {
    /// One datagram or one framed stream message.
    Message { bytes: Vec<u8>, source: Destination },
    /// A TCP connection ended.
    TcpClosed(SocketAddr),
}

/// The address to advertise for a socket bound to `bound`: itself, or for an unspecified IP
/// the address of the interface that routes outwards (loopback when there is none).
pub(crate) fn advertised(bound: SocketAddr) -> SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let probe = || -> std::io::Result<IpAddr> {
        let socket = StdUdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        // connect() on UDP sends nothing; it only asks the kernel for a route.
        socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
        Ok(socket.local_addr()?.ip())
    };
    let ip = probe().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    SocketAddr::new(ip, bound.port())
}

/// Reads datagrams forever and hands them to the engine. Drops datagrams when the engine is
/// overloaded (UDP may lose them anyway; the transaction layer retransmits).
pub(crate) async fn udp_receive_loop(socket: Arc<UdpSocket>, to_engine: mpsc::Sender<NetInput>) {
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((len, source)) => {
                let input = NetInput::Message {
                    bytes: buf[..len].to_vec(),
                    source: Destination {
                        transport: Transport::Udp,
                        addr: source,
                    },
                };
                if let Err(mpsc::error::TrySendError::Closed(_)) = to_engine.try_send(input) {
                    return;
                }
            }
            Err(error) => {
                // ICMP port unreachable surfaces here on Linux; keep reading.
                tracing::trace!(%error, "udp receive error");
            }
        }
    }
}

/// Accepts TCP connections forever.
pub(crate) async fn tcp_accept_loop(
    listener: TcpListener,
    to_engine: mpsc::Sender<NetInput>,
    registry: mpsc::UnboundedSender<(SocketAddr, mpsc::Sender<Vec<u8>>)>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let (tx, rx) = mpsc::channel(TCP_QUEUE);
                if registry.send((peer, tx)).is_err() {
                    return;
                }
                tokio::spawn(run_connection(stream, peer, rx, to_engine.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "tcp accept failed");
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Connects to `peer` and runs the connection; queued messages are written once connected.
pub(crate) async fn tcp_connect(
    peer: SocketAddr,
    outgoing: mpsc::Receiver<Vec<u8>>,
    to_engine: mpsc::Sender<NetInput>,
) {
    match TcpStream::connect(peer).await {
        Ok(stream) => {
            let _ = stream.set_nodelay(true);
            run_connection(stream, peer, outgoing, to_engine).await;
        }
        Err(error) => {
            tracing::debug!(%peer, %error, "tcp connect failed");
            let _ = to_engine.send(NetInput::TcpClosed(peer)).await;
        }
    }
}

async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
    to_engine: mpsc::Sender<NetInput>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let engine = to_engine.clone();
    let read = async move {
        let mut framer = StreamFramer::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            framer.push(&buf[..n]);
            while let Some(frame) = framer.next_frame() {
                match frame {
                    Ok(Frame::Message(bytes)) => {
                        let source = Destination {
                            transport: Transport::Tcp,
                            addr: peer,
                        };
                        if engine
                            .send(NetInput::Message { bytes, source })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(Frame::KeepAlive) => {}
                    Err(error) => {
                        // A broken stream cannot be resynchronised: close it (RFC 3261 §18.3).
                        tracing::debug!(%peer, %error, "closing tcp connection");
                        return;
                    }
                }
            }
        }
    };
    let write = async move {
        while let Some(bytes) = outgoing.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = read => {}
        () = write => {}
    }
    let _ = to_engine.send(NetInput::TcpClosed(peer)).await;
}

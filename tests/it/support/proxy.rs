//! A TCP proxy of the tests' own between one `briefbot run` process and PostgreSQL, which can
//! blackhole that process's database traffic (bytes held, connections kept open, as a network
//! partition does) and cut its connections (as a firewall's reset or a server restart does),
//! while the process still reaches the fake Discord.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with the traffic: whether bytes are held, and how many cuts so far (a
/// connection opened before a cut is closed by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mode {
    blackhole: bool,
    cuts: u64,
}

pub struct DbProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl DbProxy {
    /// Listens on 127.0.0.1 and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode {
            blackhole: false,
            cuts: 0,
        });
        let modes = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let watch = modes.subscribe();
                tokio::spawn(connect(client, upstream, watch));
            }
        });
        Self { addr, mode, task }
    }

    /// `url` (a PostgreSQL URL) through this proxy.
    pub fn url(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.to_string()
    }

    /// Holds every byte in both directions from now on, keeping the connections open, and
    /// accepts new connections without forwarding anything.
    pub fn blackhole(&self) {
        self.mode.send_modify(|m| m.blackhole = true);
    }

    /// Closes every connection open now, and forwards again.
    pub fn cut_and_restore(&self) {
        self.mode.send_modify(|m| {
            m.cuts += 1;
            m.blackhole = false;
        });
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.mode.send_modify(|m| m.cuts += 1);
    }
}

async fn connect(client: TcpStream, upstream: SocketAddr, mode: watch::Receiver<Mode>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let cuts = mode.borrow().cuts;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, mode.clone(), cuts),
        pump(server_read, client_write, mode, cuts),
    );
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    cuts: u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = mode.wait_for(|m| m.cuts != cuts) => return,
        };
        // Held while blackholed; dropped (and the connection closed) by a cut.
        let passed = match mode.wait_for(|m| !m.blackhole || m.cuts != cuts).await {
            Ok(m) => m.cuts == cuts,
            Err(_) => false,
        };
        if !passed || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

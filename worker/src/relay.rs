//! The connections to the SMTP relay: lettre's SMTP client on sockets we open ourselves, so that
//! they carry `TCP_NODELAY`, kept in a small pool of our own.
//!
//! lettre writes a message's end-of-data marker (`\r\n.\r\n`) as a second small write after the
//! body. With Nagle's algorithm on (lettre's own connector never turns it off) that write waits
//! for the relay to acknowledge the body, and a relay that delays its ACKs (Linux does, 40 ms)
//! holds every message that long. The fix is upstream (lettre pull request 1159) but not in a
//! release yet; until it is, we hand lettre sockets with Nagle off.
//!
//! `SMTP_URL` keeps lettre's forms: `smtp://host:port` (plain), `?tls=required` or
//! `?tls=opportunistic` (STARTTLS), `smtps://` (TLS from the start), credentials in the user
//! part, the EHLO name as the path.

use std::{
    borrow::Cow,
    io,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use lettre::{
    address::Envelope,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters},
        extension::ClientId,
    },
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::Semaphore,
};
use tokio_rustls::{TlsConnector, client::TlsStream, rustls};

/// A pooled connection idle longer than this is checked with `NOOP` before it carries a
/// message (the relay may have closed it); a fresher one is used at once, which saves a round
/// trip per message under load.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);
/// A connection idle longer than this is closed rather than reused.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The relay answered, or the SMTP session broke.
    #[error(transparent)]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// No connection could be made.
    #[error("cannot connect to the SMTP relay: {0}")]
    Connect(#[from] io::Error),
}

/// How the connection is encrypted.
#[derive(Clone)]
enum Security {
    Plain,
    /// STARTTLS when offered.
    Opportunistic(TlsParameters),
    /// STARTTLS or fail.
    Required(TlsParameters),
    /// TLS from the first byte (`smtps://`).
    Wrapper(TlsConnector, rustls::pki_types::ServerName<'static>),
}

/// The relay and the idle connections to it.
pub struct Relay {
    host: String,
    port: u16,
    security: Security,
    hello: ClientId,
    credentials: Option<Credentials>,
    connect_timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    slots: Semaphore,
}

impl Relay {
    /// Reads `SMTP_URL`; at most `connections` connections are open at once.
    pub fn new(url: &str, connections: usize, connect_timeout: Duration) -> anyhow::Result<Relay> {
        let url = url::Url::parse(url).context("SMTP_URL is not a valid URL")?;
        let host = url
            .host_str()
            .context("SMTP_URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let parameters = || TlsParameters::new(host.clone()).context("TLS settings for SMTP_URL");
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::Required(parameters()?), 587),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic(parameters()?), 587),
            ("smtps", _) => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .context("SMTP_URL host is not a valid TLS server name")?;
                (Security::Wrapper(tls_connector(), name), 465)
            }
            (scheme, tls) => bail!("SMTP_URL: unknown scheme {scheme} or tls={tls:?}"),
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(Cow::into_owned)
                .context("SMTP_URL credentials are not valid UTF-8")
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        Ok(Relay {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            hello,
            credentials,
            connect_timeout,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(connections.max(1)),
        })
    }

    /// Sends one message on a pooled connection (or a new one).
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), RelayError> {
        let _slot = self.slots.acquire().await.map_err(io::Error::other)?;
        let mut conn = self.checkout().await?;
        let sent = conn.send(envelope, message).await;
        if sent.is_ok() && !conn.has_broken() {
            self.park(conn);
        } else {
            conn.abort().await;
        }
        sent.map(|_| ()).map_err(RelayError::from)
    }

    fn park(&self, conn: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((conn, Instant::now()));
        }
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, RelayError> {
        loop {
            // Newest first: the most recently used connection is the likeliest to be alive.
            let parked = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some((mut conn, since)) = parked else {
                return self.connect().await;
            };
            let idle_for = since.elapsed();
            if idle_for > MAX_IDLE {
                conn.abort().await;
            } else if idle_for <= CHECK_AFTER_IDLE || conn.test_connected().await {
                return Ok(conn);
            } else {
                conn.abort().await;
            }
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, RelayError> {
        let tcp = open_socket(&self.host, self.port, self.connect_timeout).await?;
        let stream: Box<dyn AsyncTokioStream> = match &self.security {
            Security::Wrapper(connector, name) => {
                Box::new(TlsTcp(connector.connect(name.clone(), tcp).await?))
            }
            _ => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello).await?;
        match &self.security {
            Security::Opportunistic(p) if conn.can_starttls() => {
                conn.starttls(p.clone(), &self.hello).await?;
            }
            Security::Required(p) => conn.starttls(p.clone(), &self.hello).await?,
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(conn)
    }
}

/// A TCP connection to the relay with Nagle's algorithm off.
async fn open_socket(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Certificates checked against the Mozilla roots, as lettre's own rustls setup does.
fn tls_connector() -> TlsConnector {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A TLS stream over TCP, as lettre's connection takes it.
struct TlsTcp(TlsStream<TcpStream>);

impl std::fmt::Debug for TlsTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTcp")
    }
}

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for TlsTcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_to_the_relay_have_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let socket = open_socket("127.0.0.1", port, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(socket.nodelay().unwrap());
    }

    #[test]
    fn smtp_urls_keep_lettres_forms() {
        let relay = Relay::new("smtp://127.0.0.1:2525", 4, Duration::from_secs(5)).unwrap();
        assert_eq!((relay.host.as_str(), relay.port), ("127.0.0.1", 2525));
        assert!(matches!(relay.security, Security::Plain));
        let relay = Relay::new(
            "smtp://user:p%40ss@mail.example.org?tls=required",
            4,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(relay.port, 587);
        assert!(matches!(relay.security, Security::Required(_)));
        assert!(relay.credentials.is_some());
        let relay = Relay::new("smtps://mail.example.org", 4, Duration::from_secs(5)).unwrap();
        assert_eq!(relay.port, 465);
        assert!(matches!(relay.security, Security::Wrapper(..)));
        assert!(Relay::new("http://mail.example.org", 4, Duration::from_secs(5)).is_err());
    }
}

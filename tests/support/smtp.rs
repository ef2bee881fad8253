//! A real SMTP server on a loopback port that records every message it accepts. Tests can
//! switch it off (connections refused), make it answer 421 or 550, or slow it down.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::JoinSet,
};

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accept everything.
    Accept,
    /// Answer every command with `421` (service not available): a transient failure.
    Unavailable,
    /// Refuse every recipient with `550`: a permanent failure.
    RejectRecipients,
    /// Accept, but wait this long before acknowledging each message.
    Slow(Duration),
}

/// One message as received.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA section with dot-stuffing removed.
    pub data: String,
    /// When the server accepted it (for delivery latency).
    pub received_at: std::time::SystemTime,
}

impl ReceivedMail {
    /// The message with quoted-printable decoded (soft breaks joined, `=XX` resolved), for
    /// searching; harmless for the parts that are not quoted-printable.
    pub fn unfolded(&self) -> String {
        decode_quoted_printable(&self.data)
    }

    /// The value of a header (first occurrence).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }

    /// The decoded bodies of the `image/png` parts (inline and attached).
    pub fn png_parts(&self) -> Vec<Vec<u8>> {
        use base64::Engine;
        let mut parts = Vec::new();
        for part in self.data.split("\r\n--") {
            let Some((headers, body)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let headers = headers.to_ascii_lowercase();
            if headers.contains("content-type: image/png") && headers.contains("base64") {
                let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) {
                    parts.push(bytes);
                }
            }
        }
        parts
    }

    /// The first token that follows `marker` (e.g. `/reservations/confirm?token=`).
    pub fn token_after(&self, marker: &str) -> Option<String> {
        let text = self.unfolded();
        let start = text.find(marker)? + marker.len();
        let token: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!token.is_empty()).then_some(token)
    }
}

/// Decodes quoted-printable text: soft line breaks joined, `=XX` resolved (anything else, such
/// as a lone `=`, is left as it is).
pub fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte))
                if hex.is_some_and(|h| {
                    h.bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
                }) =>
            {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct Shared {
    mode: Option<Mode>,
    messages: Vec<ReceivedMail>,
    connections: usize,
}

/// The server; dropping it stops it.
pub struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    tasks: Mutex<JoinSet<()>>,
}

impl SmtpServer {
    /// Starts on a free loopback port, accepting mail.
    pub async fn start() -> SmtpServer {
        SmtpServer::start_on("127.0.0.1:0".parse().expect("address")).await
    }

    /// Starts on a given address (for the development mail catcher).
    pub async fn start_on(addr: SocketAddr) -> SmtpServer {
        let listener = TcpListener::bind(addr).await.expect("bind SMTP");
        let addr = listener.local_addr().expect("SMTP address");
        let server = SmtpServer {
            addr,
            shared: Arc::new(Mutex::new(Shared {
                mode: Some(Mode::Accept),
                ..Shared::default()
            })),
            tasks: Mutex::new(JoinSet::new()),
        };
        server.serve(listener);
        server
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        self.tasks.lock().unwrap().spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                shared.lock().unwrap().connections += 1;
                connections.spawn(handle(stream, shared.clone()));
            }
        });
    }

    /// `smtp://127.0.0.1:port` for `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().unwrap().mode = Some(mode);
    }

    /// Closes the port: new connections are refused, open ones are cut.
    pub fn stop(&self) {
        self.tasks.lock().unwrap().abort_all();
    }

    /// Opens the port again after [`SmtpServer::stop`].
    pub async fn restart(&self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("rebind SMTP port");
        self.serve(listener);
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.lock().unwrap().messages.clone()
    }

    /// Messages accepted for one recipient.
    pub fn messages_to(&self, address: &str) -> Vec<ReceivedMail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// How many messages were accepted, without copying them.
    pub fn message_count(&self) -> usize {
        self.shared.lock().unwrap().messages.len()
    }

    /// Forgets the messages received so far (a benchmark between phases).
    pub fn clear(&self) {
        self.shared.lock().unwrap().messages.clear();
    }

    /// How many connections were made, accepted or not.
    pub fn connection_count(&self) -> usize {
        self.shared.lock().unwrap().connections
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn handle(stream: TcpStream, shared: Arc<Mutex<Shared>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mode = || shared.lock().unwrap().mode.unwrap_or(Mode::Accept);
    if mode() == Mode::Unavailable {
        let _ = write.write_all(b"421 test server unavailable\r\n").await;
        return;
    }
    if write.write_all(b"220 test ESMTP ready\r\n").await.is_err() {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        if mode() == Mode::Unavailable {
            let _ = write.write_all(b"421 test server unavailable\r\n").await;
            return;
        }
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-test\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address_in(&command);
            to.clear();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if mode() == Mode::RejectRecipients {
                b"550 mailbox unavailable\r\n"
            } else {
                to.push(address_in(&command));
                b"250 ok\r\n"
            }
        } else if upper == "DATA" {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let Some(data) = read_data(&mut lines).await else {
                return;
            };
            if let Mode::Slow(delay) = mode() {
                tokio::time::sleep(delay).await;
            }
            shared.lock().unwrap().messages.push(ReceivedMail {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
                received_at: std::time::SystemTime::now(),
            });
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 ok\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

fn address_in(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command[start..end].to_owned()
}

/// Acknowledges received data at once. lettre writes a message's body and its final
/// `\r\n.\r\n` separately without TCP_NODELAY, so a receiver that delays its ACK (Linux does,
/// up to 40 ms) stalls every send by that much; this server measures the application, not that.
fn quick_ack(lines: &BufReader<tokio::net::tcp::OwnedReadHalf>) {
    let _ = socket2::SockRef::from(lines.get_ref().as_ref()).set_tcp_quickack(true);
}

async fn read_data(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == ".\r\n" || line == ".\n" {
            return Some(data);
        }
        quick_ack(lines);
        let unstuffed = line.strip_prefix('.').unwrap_or(&line);
        data.push_str(unstuffed);
    }
}

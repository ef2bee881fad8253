//! `Nginx`: the real nginx with the project's templates rendered as the nginx image's
//! entrypoint renders them, in front of a test app, and `Reply`, a parsed HTTPS answer.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{eventually::eventually_within, process};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The real nginx with the rendered template, in a temporary folder; stopped when dropped.
pub struct Nginx {
    dir: PathBuf,
    pub http: SocketAddr,
    pub https: SocketAddr,
    cert_der: Vec<u8>,
    child: Child,
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

/// Lets every `limit_req_zone` of the rendered files pass a million requests a second, and
/// every `limit_req` a burst of a million: nginx counts by the millisecond, so more than a
/// burst's worth of requests within one millisecond (32 connections through two nginx workers)
/// were refused whatever the rate.
fn raise_request_limits(conf_dir: &Path) {
    for entry in std::fs::read_dir(conf_dir).expect("rendered templates") {
        let path = entry.expect("rendered file").path();
        let text = std::fs::read_to_string(&path).expect("read rendered file");
        let raised: Vec<String> = text
            .lines()
            .map(|line| match line.find(" rate=") {
                Some(at) if line.trim_start().starts_with("limit_req_zone") => {
                    format!("{} rate=1000000r/s;", &line[..at])
                }
                _ => match line.find(" burst=") {
                    Some(at) if line.trim_start().starts_with("limit_req ") => {
                        let rest = &line[at + " burst=".len()..];
                        let after = rest
                            .find(|c: char| !c.is_ascii_digit())
                            .unwrap_or(rest.len());
                        format!("{} burst=1000000{}", &line[..at], &rest[after..])
                    }
                    _ => line.to_owned(),
                },
            })
            .collect();
        std::fs::write(&path, raised.join("\n")).expect("write rendered file");
    }
}

/// Renders every `nginx/templates/*.template` as the nginx image's entrypoint does (each
/// `${NGINX_…}` replaced by its value) into `conf_dir`.
fn render_templates(vars: &[(&str, String)], conf_dir: &Path) {
    let templates = PathBuf::from(format!("{ROOT}/nginx/templates"));
    let mut rendered = 0;
    for entry in std::fs::read_dir(&templates).expect("nginx/templates") {
        let path = entry.expect("template").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(output) = name.strip_suffix(".template") else {
            continue;
        };
        let mut text = std::fs::read_to_string(&path).expect("read template");
        for (key, value) in vars {
            text = text.replace(&format!("${{{key}}}"), value);
        }
        assert!(
            !text.contains("${NGINX_") && !text.contains("$NGINX_"),
            "{name} uses a variable the tests (and compose) do not set"
        );
        std::fs::write(conf_dir.join(output), text).expect("write rendered template");
        rendered += 1;
    }
    assert!(rendered > 0, "no templates in nginx/templates");
}

impl Nginx {
    /// Renders the templates with test values (loopback ports, a throw-away certificate, the
    /// app as upstream), checks them with `nginx -t` and starts nginx in the foreground; as
    /// root, with exactly the capabilities `cap_add` (compose's) and no others.
    pub async fn start(upstream: SocketAddr, cap_add: &[String]) -> Nginx {
        Nginx::start_with(&upstream.to_string(), "127.0.0.1", false, cap_add).await
    }

    /// For load tests: `upstream` is a name (`web:8000`) that `resolver` resolves, as Docker's
    /// resolver resolves a service scaled to several containers, and the per-address request
    /// limits are raised, because all the load comes from one address. Everything else is the
    /// production template.
    pub async fn start_for_load(upstream: &str, resolver: SocketAddr) -> Nginx {
        let compose_caps = [
            "NET_BIND_SERVICE",
            "DAC_READ_SEARCH",
            "CHOWN",
            "SETUID",
            "SETGID",
        ];
        let caps: Vec<String> = compose_caps.iter().map(|c| c.to_string()).collect();
        Nginx::start_with(upstream, &resolver.to_string(), true, &caps).await
    }

    async fn start_with(
        upstream: &str,
        resolver: &str,
        raise_limits: bool,
        cap_add: &[String],
    ) -> Nginx {
        let dir = std::env::temp_dir().join(format!("azione-nginx-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("conf.d")).expect("nginx folder");
        std::fs::create_dir_all(dir.join("temp")).expect("temp folder");
        use std::os::unix::fs::PermissionsExt;
        // nginx's workers run as another user and must reach their temporary folders.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();

        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let (cert_path, key_path) = (dir.join("fullchain.pem"), dir.join("privkey.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let as_root = running_as_root();
        if as_root {
            // Like a key made by the operator's own user: nginx (root without
            // CAP_DAC_OVERRIDE, see below) must still be able to read it.
            std::os::unix::fs::chown(&key_path, Some(65534), Some(65534)).unwrap();
        }

        let (http, https) = (process::free_port(), process::free_port());
        let vars = [
            ("NGINX_SERVER_NAME", "localhost".to_owned()),
            ("NGINX_HTTP_LISTEN", http.to_string()),
            ("NGINX_HTTPS_LISTEN", https.to_string()),
            ("NGINX_CERT", cert_path.display().to_string()),
            ("NGINX_CERT_KEY", key_path.display().to_string()),
            ("NGINX_UPSTREAM", upstream.to_owned()),
            ("NGINX_RESOLVER", resolver.to_owned()),
            (
                "NGINX_ACCESS_LOG",
                dir.join("access.log").display().to_string(),
            ),
            (
                "NGINX_ERROR_LOG",
                dir.join("error.log").display().to_string(),
            ),
        ];
        render_templates(&vars, &dir.join("conf.d"));
        if raise_limits {
            raise_request_limits(&dir.join("conf.d"));
        }
        // The nginx image's own nginx.conf, with paths moved into the temporary folder: it
        // includes the rendered templates inside `http { }` and has a default access log in
        // the `main` format, which records whole request lines. Our servers must replace it.
        let d = dir.display();
        let user = if as_root { "user www-data;" } else { "" };
        std::fs::write(
            dir.join("nginx.conf"),
            format!(
                r#"{user}
worker_processes 2;
error_log {d}/main-error.log notice;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    log_format main '$remote_addr - $remote_user [$time_local] "$request" $status "$http_cookie"';
    access_log {d}/image-default-access.log main;
    client_body_temp_path {d}/temp/body;
    proxy_temp_path {d}/temp/proxy;
    fastcgi_temp_path {d}/temp/fastcgi;
    uwsgi_temp_path {d}/temp/uwsgi;
    scgi_temp_path {d}/temp/scgi;
    include {d}/conf.d/*.conf;
}}
"#
            ),
        )
        .unwrap();

        let args = |test: bool| {
            let mut args = vec![
                "-p".to_owned(),
                format!("{d}/"),
                "-c".to_owned(),
                format!("{d}/nginx.conf"),
                "-g".to_owned(),
                "daemon off;".to_owned(),
            ];
            if test {
                args.push("-t".to_owned());
            }
            args
        };
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is not installed (apt-get install nginx)");
        let check = Command::new(nginx)
            .args(args(true))
            .output()
            .expect("nginx -t");
        assert!(
            check.status.success(),
            "nginx -t failed:\n{}",
            String::from_utf8_lossy(&check.stderr)
        );

        // As root, run nginx with exactly the capabilities docker-compose.yml gives it.
        let mut command = if as_root && Path::new("/usr/bin/setpriv").exists() {
            let caps: Vec<String> = cap_add
                .iter()
                .map(|c| format!("+{}", c.to_lowercase()))
                .collect();
            let mut command = Command::new("/usr/bin/setpriv");
            command.args([
                "--no-new-privs".to_owned(),
                "--inh-caps=-all".to_owned(),
                format!("--bounding-set=-all,{}", caps.join(",")),
                nginx.to_owned(),
            ]);
            command
        } else {
            Command::new(nginx)
        };
        let child = command
            .args(args(false))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).expect("stderr file"))
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx {
            dir,
            http,
            https,
            cert_der: cert.der().to_vec(),
            child,
        };
        nginx.wait_until_listening().await;
        nginx
    }

    async fn wait_until_listening(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        for addr in [self.http, self.https] {
            while tokio::net::TcpStream::connect(addr).await.is_err() {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("nginx exited ({status}):\n{}", self.log("stderr.log"));
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "nginx does not listen on {addr}:\n{}{}",
                    self.log("stderr.log"),
                    self.log("main-error.log")
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// The content of one of nginx's log files (`access.log`, `error.log`, ...).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// Waits until the access log mentions `needle` (nginx writes it after the response).
    pub async fn access_log_with(&self, needle: &str) -> String {
        let what = format!("{needle:?} in the access log");
        eventually_within(Duration::from_secs(10), &what, || async {
            Some(self.log("access.log")).filter(|log| log.contains(needle))
        })
        .await
    }

    /// One HTTPS request from `source` (any loopback address), trusting only the test
    /// certificate. HTTP/1.0, so nginx closes the connection after an unchunked answer.
    pub async fn https(
        &self,
        source: IpAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(
                self.cert_der.clone(),
            ))
            .expect("test certificate");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(source, 0))
            .expect("bind source");
        let tcp = socket.connect(self.https).await.expect("connect to nginx");
        let server = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server, tcp)
            .await
            .expect("TLS handshake with nginx");

        let mut request = format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or(""));
        tls.write_all(request.as_bytes()).await.expect("send");
        let mut raw = Vec::new();
        if let Err(e) = tls.read_to_end(&mut raw).await {
            // A peer may close without TLS close_notify after a complete answer.
            assert!(raw.windows(4).any(|w| w == b"\r\n\r\n"), "read: {e}");
        }
        Reply::parse(&raw)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM makes the master stop its workers; SIGKILL would orphan them.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A parsed HTTP response.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(k, _)| k == name).count()
    }

    pub fn json(&self) -> Json {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    /// The app echoes a request id on every answer; nginx's own answers have none.
    pub fn answered_by_app(&self) -> bool {
        self.header("x-request-id").is_some()
    }
}

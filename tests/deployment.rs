//! The deployment files. `docker-compose.yml` is parsed and held to the deployment rules of
//! the security notes; the nginx template is rendered as the nginx image renders it and run
//! in the real nginx (Debian's package) in front of the real app. No Docker engine is needed.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use common::auth::Role;
use serde_json::{Value as Json, json};
use serde_yaml_ng::Value;
use tests::{PerformanceSpec, TestApp, process};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn compose() -> Value {
    let text = std::fs::read_to_string(format!("{ROOT}/docker-compose.yml")).expect("compose file");
    serde_yaml_ng::from_str(&text).expect("docker-compose.yml is valid YAML")
}

// ----------------------------------------------------------------------------------------
// docker-compose.yml

/// The strings of a YAML list (or a single string).
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().filter_map(scalar).collect(),
        _ => Vec::new(),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Keys of a mapping, or the items of a list (`networks:` and `depends_on:` allow both).
fn names(value: &Value) -> Vec<String> {
    match value {
        Value::Mapping(map) => map
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        other => strings(other),
    }
}

/// `environment:` as pairs, from either the mapping or the `KEY=value` list form.
fn environment(service: &Value) -> Vec<(String, String)> {
    match &service["environment"] {
        Value::Mapping(map) => map
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), scalar(v)?)))
            .collect(),
        other => strings(other)
            .into_iter()
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (item, String::new()),
            })
            .collect(),
    }
}

fn env_value(service: &Value, key: &str) -> Option<String> {
    environment(service)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// `name:tag` or `name@sha256:…`, the tag not `latest` nor left to a variable.
fn has_explicit_tag(image: &str) -> bool {
    if image.contains('$') {
        return false;
    }
    if image.contains("@sha256:") {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    matches!(last.split_once(':'), Some((_, tag)) if !tag.is_empty() && tag != "latest")
}

/// Host ports a service publishes (short `[IP:]HOST:CONTAINER` or long syntax).
fn published_ports(service: &Value) -> Vec<String> {
    let Value::Sequence(items) = &service["ports"] else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| match item {
            Value::Mapping(_) => scalar(&item["published"]).unwrap_or_default(),
            other => {
                let text = scalar(other).unwrap_or_default();
                let parts: Vec<&str> = text.split(':').collect();
                match parts.len() {
                    1 => parts[0].to_owned(),
                    n => parts[n - 2].to_owned(),
                }
            }
        })
        .collect()
}

/// A variable that holds a secret must come from `.env` (`${…}`), name a file or be empty.
fn looks_secret(key: &str) -> bool {
    [
        "PASSWORD",
        "SECRET",
        "TOKEN",
        "KEY",
        "DATABASE_URL",
        "SMTP_URL",
    ]
    .iter()
    .any(|word| key.to_uppercase().contains(word))
}

fn from_env_file(value: &str) -> bool {
    value.is_empty()
        || value.starts_with('/')
        || (value.starts_with("${") && value.ends_with('}') && value.matches("${").count() == 1)
}

/// A host address in the IPv4 subnet of `network` (the 7th), as a container there would have.
fn backend_address(doc: &Value, network: &str) -> Option<Ipv4Addr> {
    let subnet = doc["networks"][network]["ipam"]["config"][0]["subnet"].as_str()?;
    let (base, bits) = subnet.split_once('/')?;
    let (base, bits): (Ipv4Addr, u32) = (base.parse().ok()?, bits.parse().ok()?);
    (bits <= 29).then(|| Ipv4Addr::from(u32::from(base) + 7))
}

/// Runs the worker's command as its container would, with a `hostname -I` that reports one
/// address on an egress network and then `backend`, and an `azione-worker` that prints the
/// `WORKER_BIND_ADDR` it was given; returns that (None: no listener or the command failed).
fn worker_bind_address(worker: &Value, backend: Ipv4Addr) -> Option<String> {
    let dir = std::env::temp_dir().join(format!("azione-cmd-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).ok()?;
    let script = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("fake program");
        let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&path, executable).expect("fake program");
    };
    script("hostname", &format!("echo '172.31.255.7 {backend} '"));
    script("azione-worker", r#"echo "${WORKER_BIND_ADDR:-none}""#);
    // Compose turns `$$` into `$` before the container sees the command.
    let argv: Vec<String> = strings(&worker["command"])
        .iter()
        .map(|a| a.replace("$$", "$"))
        .collect();
    let output = argv.first().and_then(|program| {
        Command::new(program)
            .args(&argv[1..])
            .env_clear()
            .envs(environment(worker))
            .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
            .stderr(Stdio::null())
            .output()
            .ok()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let output = output?;
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && printed != "none").then_some(printed)
}

/// Every way `doc` breaks the deployment rules, one line each.
fn compose_violations(doc: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(services) = doc["services"].as_mapping() else {
        return vec!["no services".to_owned()];
    };
    let networks = &doc["networks"];
    let internal = |n: &str| networks[n]["internal"].as_bool() == Some(true);
    let nginx_networks: Vec<String> = names(&doc["services"]["nginx"]["networks"]);
    // The networks with a way out that nginx is on: where its ports are published.
    let public: Vec<String> = nginx_networks
        .iter()
        .filter(|n| !internal(n))
        .cloned()
        .collect();
    if public.is_empty() {
        bad.push("nginx must be on a public (not internal) network".to_owned());
    }

    for (name, service) in services {
        let name = name.as_str().unwrap_or("?");
        match service["image"].as_str() {
            Some(image) if has_explicit_tag(image) => {}
            other => bad.push(format!("{name}: image {other:?} has no explicit tag")),
        }
        if service["privileged"].as_bool() == Some(true) {
            bad.push(format!("{name}: privileged"));
        }
        for key in ["network_mode", "pid", "ipc", "userns_mode"] {
            if service[key].as_str() == Some("host") {
                bad.push(format!("{name}: {key}: host"));
            }
        }
        if !strings(&service["security_opt"]).contains(&"no-new-privileges:true".to_owned()) {
            bad.push(format!("{name}: no no-new-privileges:true"));
        }
        if !strings(&service["cap_drop"]).contains(&"ALL".to_owned()) {
            bad.push(format!("{name}: does not drop ALL capabilities"));
        }
        if service["read_only"].as_bool() != Some(true) {
            bad.push(format!("{name}: root filesystem not read_only"));
        }
        let one_shot = service["restart"].as_str() == Some("no");
        if service["restart"].is_null() {
            bad.push(format!("{name}: no restart policy"));
        }
        if !one_shot
            && (service["healthcheck"]["test"].is_null()
                || service["healthcheck"]["disable"].as_bool() == Some(true))
        {
            bad.push(format!("{name}: long-running without a healthcheck"));
        }
        let ports = published_ports(service);
        if name == "nginx" {
            let mut sorted = ports.clone();
            sorted.sort();
            if sorted != ["443", "80"] {
                bad.push(format!("nginx publishes {ports:?}, not exactly 80 and 443"));
            }
        } else if !ports.is_empty() || !service["ports"].is_null() {
            bad.push(format!("{name}: publishes ports {ports:?}; only nginx may"));
        }
        for (key, value) in environment(service) {
            if looks_secret(&key) && !from_env_file(&value) {
                bad.push(format!("{name}: literal secret in {key}"));
            }
        }
        for file in strings(&service["env_file"]) {
            if file != ".env" {
                bad.push(format!("{name}: env_file {file} (secrets come from .env)"));
            }
        }
        if name != "nginx" {
            for net in names(&service["networks"]) {
                if public.contains(&net) {
                    bad.push(format!(
                        "{name}: on the public network {net}; nginx alone belongs there"
                    ));
                }
            }
        }
        if service["image"]
            .as_str()
            .is_some_and(|i| i.contains("mailpit"))
            && !strings(&service["profiles"]).contains(&"dev".to_owned())
        {
            bad.push(format!("{name}: the mail catcher must be in profile dev"));
        }
    }

    let service = |n: &str| &doc["services"][n];
    let postgres = service("postgres");
    let pg_networks = names(&postgres["networks"]);
    if pg_networks.is_empty() || pg_networks.iter().any(|n| !internal(n)) {
        bad.push(format!(
            "postgres must be on internal networks only, is on {pg_networks:?}"
        ));
    }
    let named_volume = strings(&postgres["volumes"]).iter().any(|v| {
        let mut parts = v.split(':');
        let (source, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        target == "/var/lib/postgresql/data"
            && !source.contains('/')
            && !source.starts_with('.')
            && !doc["volumes"][source].is_null()
    });
    if !named_volume {
        bad.push("postgres: data not in a named volume".to_owned());
    }

    for name in ["web", "worker", "migrate"] {
        if env_value(service(name), "LOG_FORMAT").as_deref() != Some("json") {
            bad.push(format!("{name}: LOG_FORMAT is not json"));
        }
        if !names(&service(name)["networks"])
            .iter()
            .any(|n| pg_networks.contains(n))
        {
            bad.push(format!("{name}: cannot reach postgres"));
        }
    }
    for name in ["web", "worker"] {
        if !service(name)["container_name"].is_null() {
            bad.push(format!("{name}: container_name prevents --scale"));
        }
        if service(name)["depends_on"]["migrate"]["condition"].as_str()
            != Some("service_completed_successfully")
        {
            bad.push(format!("{name}: does not wait for migrate to succeed"));
        }
    }
    if !strings(&service("migrate")["command"]).contains(&"migrate".to_owned()) {
        bad.push("migrate: does not run `azione-web migrate`".to_owned());
    }

    let web_networks = names(&service("web")["networks"]);
    let shared: Vec<&String> = web_networks
        .iter()
        .filter(|n| nginx_networks.contains(n))
        .collect();
    match shared.first() {
        None => bad.push("web: not on nginx's network".to_owned()),
        Some(net) => {
            let nginx_address = doc["services"]["nginx"]["networks"][net.as_str()]["ipv4_address"]
                .as_str()
                .unwrap_or("");
            if nginx_address.is_empty()
                || env_value(service("web"), "TRUSTED_PROXIES").as_deref() != Some(nginx_address)
            {
                bad.push("web: TRUSTED_PROXIES is not nginx's fixed address".to_owned());
            }
        }
    }
    if !web_networks.iter().any(|n| internal(n)) {
        bad.push("web: not on the internal network".to_owned());
    }
    for net in web_networks.iter().filter(|n| !internal(n)) {
        bad.push(format!(
            "web: on a network with a way out ({net}); web needs none"
        ));
    }
    if env_value(service("web"), "BIND_ADDR").as_deref() != Some("0.0.0.0:8000") {
        bad.push("web: BIND_ADDR is not 0.0.0.0:8000".to_owned());
    }

    let worker = service("worker");
    let worker_networks = names(&worker["networks"]);
    if worker_networks.iter().any(|n| nginx_networks.contains(n)) {
        bad.push("worker: on a network of nginx".to_owned());
    }
    let egress: Vec<String> = worker_networks
        .iter()
        .filter(|n| !internal(n))
        .cloned()
        .collect();
    if egress.is_empty() {
        bad.push("worker: no egress network to reach the SMTP relay".to_owned());
    }
    let backend = pg_networks.first().cloned().unwrap_or_default();
    match backend_address(doc, &backend) {
        None => bad.push(format!("networks.{backend}: no IPv4 subnet")),
        Some(address) => {
            let bound = worker_bind_address(worker, address);
            if bound.as_deref() != Some(format!("{address}:8001").as_str()) {
                bad.push(format!(
                    "worker: health listener binds {bound:?}, not its {backend} address {address}:8001 only"
                ));
            }
        }
    }

    for name in ["prometheus", "alertmanager", "grafana"] {
        let service = service(name);
        if service.is_null() {
            bad.push(format!("{name}: missing (monitoring profile)"));
            continue;
        }
        if !strings(&service["profiles"]).contains(&"monitoring".to_owned()) {
            bad.push(format!("{name}: must be in profile monitoring"));
        }
        let nets = names(&service["networks"]);
        // Alertmanager may also use the worker's way out, to reach the SMTP relay.
        let allowed = |n: &String| *n == backend || (name == "alertmanager" && egress.contains(n));
        if !nets.contains(&backend) || !nets.iter().all(allowed) {
            bad.push(format!(
                "{name}: must be on the {backend} network only, is on {nets:?}"
            ));
        }
    }
    let alertmanager = service("alertmanager");
    let address = alertmanager["networks"][backend.as_str()]["ipv4_address"]
        .as_str()
        .unwrap_or("?");
    let flags = strings(&alertmanager["command"]);
    if !flags.contains(&format!("--web.listen-address={address}:9093"))
        || !flags.contains(&"--cluster.listen-address=".to_owned())
    {
        bad.push(format!(
            "alertmanager: listens beyond its {backend} address {address}:9093 ({flags:?})"
        ));
    }
    if worker["stop_grace_period"].as_str() != Some("40s") {
        bad.push("worker: stop_grace_period is not 40s".to_owned());
    }
    bad
}

#[test]
fn the_compose_file_keeps_the_deployment_rules() {
    let violations = compose_violations(&compose());
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_compose_rules_catch_each_kind_of_breakage() {
    // (expected violation, where in the file, what to put there; `~` is YAML's null, the
    // same to the rules as a missing key)
    let breakages = [
        (
            "web: publishes ports",
            "services.web.ports",
            "['8000:8000']",
        ),
        (
            "postgres: publishes ports",
            "services.postgres.ports",
            "['127.0.0.1:5432:5432']",
        ),
        (
            "nginx publishes",
            "services.nginx.ports",
            "['80:80', '443:443', '8080:80']",
        ),
        ("postgres: image", "services.postgres.image", "postgres"),
        ("nginx: image", "services.nginx.image", "nginx:latest"),
        ("web: image", "services.web.image", "~"),
        ("worker: privileged", "services.worker.privileged", "true"),
        (
            "web: no no-new-privileges",
            "services.web.security_opt",
            "[]",
        ),
        (
            "migrate: does not drop ALL",
            "services.migrate.cap_drop",
            "~",
        ),
        (
            "nginx: root filesystem not read_only",
            "services.nginx.read_only",
            "false",
        ),
        (
            "postgres must be on internal networks only",
            "networks.backend.internal",
            "false",
        ),
        (
            "postgres must be on internal networks only",
            "services.postgres.networks",
            "[backend, public]",
        ),
        (
            "postgres: data not in a named volume",
            "services.postgres.volumes",
            "['./pg:/var/lib/postgresql/data']",
        ),
        (
            "worker: on the public network",
            "services.worker.networks",
            "[backend, public]",
        ),
        (
            "web: on a network with a way out (egress)",
            "services.web.networks",
            "[frontend, backend, egress]",
        ),
        (
            "web: on a network with a way out (frontend)",
            "networks.frontend.internal",
            "false",
        ),
        (
            "web: on the public network public",
            "services.web.networks",
            "[public, frontend, backend]",
        ),
        (
            "worker: health listener binds Some(\"0.0.0.0:8001\")",
            "services.worker.command",
            "['bash', '-c', 'WORKER_BIND_ADDR=0.0.0.0:8001 exec azione-worker']",
        ),
        (
            "worker: health listener binds None",
            "services.worker.command",
            "[azione-worker]",
        ),
        (
            "worker: health listener binds None",
            "networks.backend.ipam.config",
            "[{subnet: 10.99.0.0/24}]",
        ),
        (
            "grafana: publishes ports",
            "services.grafana.ports",
            "['127.0.0.1:3000:3000']",
        ),
        (
            "prometheus: image",
            "services.prometheus.image",
            "prom/prometheus:latest",
        ),
        (
            "grafana: image",
            "services.grafana.image",
            "grafana/grafana",
        ),
        (
            "prometheus: must be on the backend network only",
            "services.prometheus.networks",
            "[backend, egress]",
        ),
        (
            "grafana: must be on the backend network only",
            "services.grafana.networks",
            "[backend, frontend]",
        ),
        (
            "alertmanager: must be on the backend network only",
            "services.alertmanager.networks",
            "[backend, public]",
        ),
        (
            "alertmanager: listens beyond",
            "services.alertmanager.command",
            "['--config.file=/etc/alertmanager/alertmanager.yml']",
        ),
        (
            "alertmanager: must be in profile monitoring",
            "services.alertmanager.profiles",
            "~",
        ),
        ("prometheus: missing", "services.prometheus", "~"),
        (
            "postgres: literal secret in POSTGRES_PASSWORD",
            "services.postgres.environment.POSTGRES_PASSWORD",
            "hunter2",
        ),
        (
            "postgres: long-running without a healthcheck",
            "services.postgres.healthcheck",
            "~",
        ),
        (
            "worker: container_name",
            "services.worker.container_name",
            "azione-worker",
        ),
        (
            "web: does not wait for migrate",
            "services.web.depends_on.migrate.condition",
            "service_started",
        ),
        (
            "web: TRUSTED_PROXIES",
            "services.web.environment.TRUSTED_PROXIES",
            "''",
        ),
        (
            "mailpit: the mail catcher must be in profile dev",
            "services.mailpit.profiles",
            "~",
        ),
    ];
    for (expected, path, value) in breakages {
        let mut doc = compose();
        let target = path.split('.').fold(&mut doc, |node, key| &mut node[key]);
        *target = serde_yaml_ng::from_str(value).unwrap();
        let violations = compose_violations(&doc);
        assert!(
            violations.iter().any(|v| v.contains(expected)),
            "{path} = {value}: expected a violation containing {expected:?}, got {violations:#?}"
        );
    }
}

// ----------------------------------------------------------------------------------------
// nginx

/// The real nginx with the rendered template, in a temporary folder; stopped when dropped.
struct Nginx {
    dir: PathBuf,
    http: SocketAddr,
    https: SocketAddr,
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
    /// app as upstream), checks them with `nginx -t` and starts nginx in the foreground.
    async fn start(upstream: SocketAddr) -> Nginx {
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
            ("NGINX_UPSTREAM", upstream.to_string()),
            ("NGINX_RESOLVER", "127.0.0.1".to_owned()),
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
            let caps: Vec<String> = strings(&compose()["services"]["nginx"]["cap_add"])
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

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// Waits until the access log mentions `needle` (nginx writes it after the response).
    async fn access_log_with(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log("access.log");
            if log.contains(needle) {
                return log;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "access log has no {needle:?}:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One HTTPS request from `source` (any loopback address), trusting only the test
    /// certificate. HTTP/1.0, so nginx closes the connection after an unchunked answer.
    async fn https(
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
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
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

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(k, _)| k == name).count()
    }

    fn json(&self) -> Json {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    /// The app echoes a request id on every answer; nginx's own answers have none.
    fn answered_by_app(&self) -> bool {
        self.header("x-request-id").is_some()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn booking(n: usize) -> String {
    json!({ "name": "Mirandolina", "email": format!("guest{n}@example.org"), "party_size": 1 })
        .to_string()
}

/// Runs a compose healthcheck (`["CMD", "bash", "-c", script]`) here, aimed at `port`.
fn run_healthcheck(service: &str, container_port: u16, port: u16) -> bool {
    let test = strings(&compose()["services"][service]["healthcheck"]["test"]);
    assert_eq!(test[..3], ["CMD", "bash", "-c"], "{service}: {test:?}");
    let script = test[3].replace(
        &format!("/dev/tcp/127.0.0.1/{container_port}"),
        &format!("/dev/tcp/127.0.0.1/{port}"),
    );
    assert_ne!(
        script, test[3],
        "{service}: the check does not target its port"
    );
    Command::new("bash")
        .args(["-c", &script])
        .stderr(Stdio::null())
        .status()
        .expect("bash")
        .success()
}

/// Runs the worker's compose healthcheck here against a worker on loopback `port`: the check
/// finds the worker's address the way its command does (`hostname -I`, the backend subnet),
/// so here `hostname -I` reports loopback and the subnet is read as loopback's.
fn run_worker_healthcheck(port: u16) -> bool {
    let doc = compose();
    let test = strings(&doc["services"]["worker"]["healthcheck"]["test"]);
    assert_eq!(test[..3], ["CMD", "bash", "-c"], "worker: {test:?}");
    let subnet = doc["networks"]["backend"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .expect("backend subnet");
    let prefix: Vec<&str> = subnet.split('.').take(3).collect();
    let pattern = format!("'^{}\\.'", prefix.join("\\."));
    let script = test[3].replace("$$", "$");
    let script = script
        .replace(&pattern, r"'^127\.0\.0\.'")
        .replace("/dev/tcp/$addr/8001", &format!("/dev/tcp/$addr/{port}"));
    assert!(
        script.contains("hostname -I")
            && script.contains(r"'^127\.0\.0\.'")
            && script.contains(&format!("/{port} ")),
        "the worker's check does not find its backend address and port: {script}"
    );
    let dir = std::env::temp_dir().join(format!("azione-hc-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("hostname"),
        "#!/bin/sh\necho '172.31.255.7 127.0.0.1 '\n",
    )
    .unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(dir.join("hostname"), executable).unwrap();
    let healthy = Command::new("bash")
        .args(["-c", &script])
        .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
        .stderr(Stdio::null())
        .status()
        .expect("bash")
        .success();
    let _ = std::fs::remove_dir_all(&dir);
    healthy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_redirects_to_https_adds_the_security_headers_and_keeps_secrets_out_of_its_logs() {
    let app = TestApp::spawn_with(|c| {
        c.http.trusted_proxies = vec![ip("127.0.0.1")];
    })
    .await;
    let nginx = Nginx::start(app.addr).await;
    let client = ip("127.0.0.1");

    // Plain HTTP only redirects, keeping path and query.
    let plain = app
        .client
        .get(format!(
            "http://{}/reservations/confirm?token=PLAINHTTPTOKENVALUE",
            nginx.http
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 301);
    assert_eq!(
        plain.headers()["location"],
        "https://localhost/reservations/confirm?token=PLAINHTTPTOKENVALUE"
    );

    // HTTPS: the app's page with the transport security headers, each once.
    let page = nginx.https(client, "GET", "/", &[], None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.answered_by_app());
    assert!(
        page.header("strict-transport-security")
            .is_some_and(|v| v.starts_with("max-age="))
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(
        page.header("content-security-policy")
            .is_some_and(|v| v.contains("frame-ancestors 'none'"))
    );
    for name in [
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
    ] {
        assert_eq!(page.count(name), 1, "{name} once");
    }

    // A booking through nginx reaches the app.
    let performance = app.create_performance(PerformanceSpec::default()).await;
    let booked = nginx
        .https(
            client,
            "POST",
            &format!("/api/v1/performances/{performance}/reservations"),
            &[],
            Some(&booking(0)),
        )
        .await;
    assert_eq!(booked.status, 202, "{}", booked.body);
    assert_eq!(booked.json(), json!({ "status": "pending" }));
    let request_id = booked.header("x-request-id").expect("the app's request id");

    // /metrics is refused by nginx itself, however it is spelled and whoever asks; the app
    // itself serves it to an operator key.
    let operator_key = app.api_key(Role::Operator).await;
    let operator = format!("Bearer {operator_key}");
    let direct = app
        .client
        .get(app.url("/metrics"))
        .header("Authorization", &operator)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    for path in ["/metrics", "/metrics/", "/metrics?name=x", "/%6detrics"] {
        let metrics = nginx
            .https(client, "GET", path, &[("Authorization", &operator)], None)
            .await;
        assert_eq!(metrics.status, 404, "{path}");
        assert!(!metrics.answered_by_app(), "{path} reached the app");
        assert!(metrics.header("strict-transport-security").is_some());
    }

    // Over 16 KiB the app answers its JSON 413; far over, nginx answers the same way.
    let padded = |bytes: usize| json!({ "name": "x".repeat(bytes) }).to_string();
    let path = format!("/api/v1/performances/{performance}/reservations");
    let too_large = nginx
        .https(client, "POST", &path, &[], Some(&padded(20 * 1024)))
        .await;
    assert_eq!(too_large.status, 413);
    assert!(too_large.answered_by_app());
    assert_eq!(too_large.json()["error"], "payload_too_large");
    let far_too_large = nginx
        .https(client, "POST", &path, &[], Some(&padded(40 * 1024)))
        .await;
    assert_eq!(far_too_large.status, 413);
    assert!(!far_too_large.answered_by_app());
    assert_eq!(far_too_large.json()["error"], "payload_too_large");

    // Tokens and credentials travel through nginx but stay out of its logs.
    let confirm = nginx
        .https(
            client,
            "GET",
            "/reservations/confirm?token=SOMESECRETTOKENVALUE",
            &[],
            None,
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    nginx
        .https(
            client,
            "GET",
            "/api/v1/performances",
            &[
                ("Authorization", "Bearer SECRETBEARERVALUE"),
                ("Cookie", "azione_session=SECRETCOOKIEVALUE"),
            ],
            None,
        )
        .await;
    nginx
        .https(client, "GET", "/t/SECRETTICKETVALUE", &[], None)
        .await;
    let log = nginx.access_log_with("/t/[token]").await;
    for line in log.lines() {
        serde_json::from_str::<Json>(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
    }
    assert!(log.contains(r#""path":"/reservations/confirm""#), "{log}");
    assert!(log.contains(r#""path":"/api/v1/performances""#), "{log}");
    assert!(
        log.contains(&format!(r#""request_id":"{request_id}""#)),
        "nginx and the app log the same request id"
    );
    assert!(
        log.contains(r#""method":"POST","path":"/api/v1/performances/"#)
            && log.contains(r#""status":413,"bytes""#),
        "{log}"
    );
    for secret in [
        operator_key.as_str(),
        "PLAINHTTPTOKENVALUE",
        "SOMESECRETTOKENVALUE",
        "SECRETBEARERVALUE",
        "SECRETCOOKIEVALUE",
        "SECRETTICKETVALUE",
        "Mirandolina",
        "guest0@example.org",
    ] {
        assert!(!log.contains(secret), "access log holds {secret}:\n{log}");
        assert!(
            !nginx.log("error.log").contains(secret),
            "error log holds {secret}"
        );
        assert!(!nginx.log("main-error.log").contains(secret));
    }
    assert_eq!(
        nginx.log("image-default-access.log"),
        "",
        "a request fell through to the image's default access log"
    );

    // The compose healthchecks work against the real servers.
    assert!(run_healthcheck("web", 8000, app.addr.port()));
    assert!(run_worker_healthcheck(app.worker_addr.port()));
    assert!(!run_worker_healthcheck(process::free_port().port()));
    assert!(run_healthcheck("nginx", 80, nginx.http.port()));
    assert!(!run_healthcheck("web", 8000, process::free_port().port()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_passes_each_clients_own_address_so_the_app_limits_clients_separately() {
    let app = TestApp::spawn_with(|c| {
        c.http.trusted_proxies = vec![ip("127.0.0.1")];
        c.rate_limit.per_minute = 3;
    })
    .await;
    let nginx = Nginx::start(app.addr).await;
    let performance = app.create_performance(PerformanceSpec::default()).await;
    let path = format!("/api/v1/performances/{performance}/reservations");
    let (first, second) = (ip("127.0.0.2"), ip("127.0.0.3"));

    for n in 0..3 {
        let reply = nginx
            .https(first, "POST", &path, &[], Some(&booking(n)))
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
    }
    // The fourth from the same client: the app's own limit, so the app saw this client.
    let limited = nginx
        .https(first, "POST", &path, &[], Some(&booking(3)))
        .await;
    assert_eq!(limited.status, 429);
    assert!(limited.answered_by_app());
    assert_eq!(limited.json()["error"], "rate_limited");
    // A forged X-Forwarded-For does not let the client escape its budget.
    let forged = nginx
        .https(
            first,
            "POST",
            &path,
            &[("X-Forwarded-For", "203.0.113.9")],
            Some(&booking(4)),
        )
        .await;
    assert_eq!(forged.status, 429);
    assert!(forged.answered_by_app());
    // Another client behind the same nginx has its own budget.
    let other = nginx
        .https(second, "POST", &path, &[], Some(&booking(5)))
        .await;
    assert_eq!(other.status, 202, "{}", other.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_cuts_a_burst_of_bookings_from_one_client_before_the_app_sees_it() {
    // The app's own limits are off: every 429 here is nginx's.
    let app = TestApp::spawn_with(|c| {
        c.http.trusted_proxies = vec![ip("127.0.0.1")];
        c.rate_limit.per_minute = 0;
    })
    .await;
    let nginx = Nginx::start(app.addr).await;
    let performance = app.create_performance(PerformanceSpec::default()).await;
    let path = format!("/api/v1/performances/{performance}/reservations");
    let client = ip("127.0.0.4");

    let mut accepted = 0;
    let mut refused = Vec::new();
    for n in 0..40 {
        let reply = nginx
            .https(client, "POST", &path, &[], Some(&booking(n)))
            .await;
        match reply.status {
            202 => accepted += 1,
            429 => refused.push(reply),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert!(accepted >= 1 && !refused.is_empty(), "{accepted} accepted");
    for reply in &refused {
        assert!(!reply.answered_by_app());
        assert_eq!(reply.json()["error"], "rate_limited");
    }
    let (reservations, _) = app.row_counts().await;
    assert_eq!(
        reservations, accepted,
        "refused requests never reached the app"
    );
    // Pages stay readable for the same client during the limit.
    let page = nginx.https(client, "GET", "/", &[], None).await;
    assert_eq!(page.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_refuses_methods_the_app_does_not_serve() {
    let app = TestApp::spawn_with(|c| c.http.trusted_proxies = vec![ip("127.0.0.1")]).await;
    let nginx = Nginx::start(app.addr).await;
    let client = ip("127.0.0.5");

    for method in ["FOO", "PROPFIND", "PUT", "TRACE"] {
        let reply = nginx.https(client, method, "/healthz", &[], None).await;
        assert_eq!(reply.status, 405, "{method}");
        assert!(!reply.answered_by_app(), "{method} reached the app");
    }
    for method in ["GET", "HEAD"] {
        let reply = nginx.https(client, method, "/healthz", &[], None).await;
        assert_eq!(reply.status, 200, "{method}");
        assert!(reply.answered_by_app());
    }
}

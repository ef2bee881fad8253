//! `docker-compose.yml`, parsed and held to the deployment rules of the security notes, and
//! its healthchecks run here against the real processes.

use std::{
    net::Ipv4Addr,
    process::{Command, Stdio},
};

use serde_yaml_ng::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

pub(super) fn compose() -> Value {
    let text = std::fs::read_to_string(format!("{ROOT}/docker-compose.yml")).expect("compose file");
    serde_yaml_ng::from_str(&text).expect("docker-compose.yml is valid YAML")
}

/// The strings of a YAML list (or a single string).
pub(super) fn strings(value: &Value) -> Vec<String> {
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

/// Runs a compose healthcheck (`["CMD", "bash", "-c", script]`) here, aimed at `port`.
pub(super) fn run_healthcheck(service: &str, container_port: u16, port: u16) -> bool {
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
pub(super) fn run_worker_healthcheck(port: u16) -> bool {
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

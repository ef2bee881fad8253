//! What operators get in `monitoring/`: the alert rules pass their promtool unit tests, with a
//! firing and a quiet case for every alert; the Prometheus configuration is valid; and every
//! metric the rules and the Grafana dashboard query is in a real scrape of the running
//! `azione-web` and `azione-worker` binaries, which promtool accepts. A renamed metric fails
//! here, not in production. Needs promtool (Debian's `prometheus` package; `.ci/run` installs
//! it): without it these tests fail.

use std::{
    collections::BTreeSet,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use serde_json::{Value as Json, json};
use serde_yaml_ng::Value;
use tests::{
    db::TestDatabase,
    process::{self, Running},
    smtp::SmtpServer,
};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const RULES: &str = "monitoring/prometheus/rules/azione.yml";
const RULE_TESTS: &str = "monitoring/prometheus/tests/azione.test.yml";
const DASHBOARD: &str = "monitoring/grafana/dashboards/azione.json";

fn path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

/// promtool from `PATH` (or Debian's place); a missing promtool fails the test.
fn promtool() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("promtool"))
        .find(|p| p.is_file())
        .expect("promtool not found: install Debian's `prometheus` package (.ci/run does)")
}

fn run_promtool(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(promtool())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write to promtool");
    drop(input);
    child.wait_with_output().expect("promtool output")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn rules() -> Value {
    let text = std::fs::read_to_string(path(RULES)).expect("rules file");
    serde_yaml_ng::from_str(&text).expect("rules are YAML")
}

/// Every alerting rule as (alert name, expression).
fn alerts(rules: &Value) -> Vec<(String, String)> {
    let groups = rules["groups"].as_sequence().expect("groups");
    groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules").iter())
        .filter_map(|r| {
            Some((
                r["alert"].as_str()?.to_owned(),
                r["expr"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The PromQL expressions of every panel of the dashboard.
fn dashboard_expressions() -> Vec<String> {
    let text = std::fs::read_to_string(path(DASHBOARD)).expect("dashboard");
    let dashboard: Json = serde_json::from_str(&text).expect("dashboard is JSON");
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(
                target["datasource"]["uid"], "azione-prometheus",
                "panel {} queries the provisioned Prometheus",
                panel["title"]
            );
            exprs.push(target["expr"].as_str().expect("expr").to_owned());
        }
    }
    exprs
}

/// Names of our metrics in PromQL expressions (`up` is Prometheus's own).
fn metric_names(exprs: &[String]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for expr in exprs {
        let mut rest = expr.as_str();
        while let Some(start) = rest.find("azione_") {
            let tail = &rest[start..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            names.insert(tail[..end].to_owned());
            rest = &tail[end..];
        }
    }
    names
}

/// The label values the expressions select on our metrics, as (metric, the `label="value"`
/// alternatives of which one must exist): `label="v"` and literal `label=~"a|b"` matchers
/// (regexes with wildcards, negations and `job` are Prometheus's business, not ours).
fn label_matchers(exprs: &[String]) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for expr in exprs {
        for part in expr.split("azione_").skip(1) {
            let Some((name, rest)) = part.split_once('{') else {
                continue;
            };
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name = format!("azione_{name}");
            let name = name
                .strip_suffix("_bucket")
                .map_or(name.clone(), |base| format!("{base}_bucket"));
            let Some((body, _)) = rest.split_once("\"}") else {
                continue;
            };
            for matcher in format!("{body}\"").split("\",") {
                let matcher = matcher.trim().trim_end_matches('"');
                let (label, value, regex) = match matcher.split_once("=~\"") {
                    Some((l, v)) => (l, v, true),
                    None => match matcher.split_once("=\"") {
                        Some((l, v)) if !l.ends_with('!') => (l, v, false),
                        _ => continue,
                    },
                };
                if label == "job" || (regex && value.contains(['.', '*', '+', '?', '[', '('])) {
                    continue;
                }
                let alternatives = if regex {
                    value.split('|').collect()
                } else {
                    vec![value]
                };
                found.push((
                    name.clone(),
                    alternatives
                        .iter()
                        .map(|v| format!("{label}=\"{v}\""))
                        .collect(),
                ));
            }
        }
    }
    found
}

/// Names of the samples in a Prometheus text exposition.
fn sample_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_alert_rules_are_valid_and_pass_their_unit_tests() {
    let checked = run_promtool(&["check", "rules", path(RULES).to_str().unwrap()], None);
    assert!(checked.status.success(), "{}", text(&checked));
    let tested = run_promtool(&["test", "rules", path(RULE_TESTS).to_str().unwrap()], None);
    assert!(tested.status.success(), "{}", text(&tested));
}

/// Each alert in turn is made to fire always, then never: the unit tests must fail both
/// times, naming the alert, which shows they hold a quiet and a firing case for it.
#[test]
fn every_alert_has_a_firing_and_a_quiet_case() {
    let original = rules();
    let names = alerts(&original);
    assert!(names.len() >= 9, "{names:?}");
    let dir = std::env::temp_dir().join(format!("azione-rules-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::copy(path(RULE_TESTS), dir.join("tests/azione.test.yml")).unwrap();
    let run_with = |rules: &Value| {
        std::fs::write(
            dir.join("rules/azione.yml"),
            serde_yaml_ng::to_string(rules).unwrap(),
        )
        .unwrap();
        run_promtool(
            &[
                "test",
                "rules",
                dir.join("tests/azione.test.yml").to_str().unwrap(),
            ],
            None,
        )
    };
    let baseline = run_with(&original);
    assert!(baseline.status.success(), "{}", text(&baseline));

    for (alert, _) in &names {
        for (expr, missing) in [("vector(1)", "quiet"), ("vector(0) > 1", "firing")] {
            let mut mutated = original.clone();
            for group in mutated["groups"].as_sequence_mut().unwrap() {
                for rule in group["rules"].as_sequence_mut().unwrap() {
                    if rule["alert"].as_str() == Some(alert) {
                        rule["expr"] = Value::String(expr.to_owned());
                    }
                }
            }
            let output = run_with(&mutated);
            assert!(
                !output.status.success() && text(&output).contains(alert.as_str()),
                "{alert} has no {missing} case: its tests still pass with `expr: {expr}`"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_prometheus_configuration_is_valid() {
    // The paths are those inside the container; here they point at the repository's rules
    // and a stand-in key file.
    let dir = std::env::temp_dir().join(format!("azione-prom-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key"), "stand-in").unwrap();
    let config = std::fs::read_to_string(path("monitoring/prometheus/prometheus.yml")).unwrap();
    assert!(
        config.contains("/run/secrets/metrics_api_key")
            && config.contains("/etc/prometheus/rules/")
    );
    let config = config
        .replace(
            "/run/secrets/metrics_api_key",
            dir.join("key").to_str().unwrap(),
        )
        .replace(
            "/etc/prometheus/rules/",
            &format!("{}/", path("monitoring/prometheus/rules").display()),
        );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let checked = run_promtool(
        &[
            "check",
            "config",
            dir.join("prometheus.yml").to_str().unwrap(),
        ],
        None,
    );
    let output = text(&checked);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked.status.success(), "{output}");
    assert!(output.contains("SUCCESS: 1 rule files found"), "{output}");

    // The jobs the rules name are the jobs Prometheus scrapes.
    let config: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(path("monitoring/prometheus/prometheus.yml")).unwrap(),
    )
    .unwrap();
    let jobs: Vec<&str> = config["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs")
        .iter()
        .filter_map(|c| c["job_name"].as_str())
        .collect();
    for (alert, expr) in alerts(&rules()) {
        for matcher in expr.split("job=").skip(1) {
            let value = matcher
                .trim_start_matches('~')
                .split('"')
                .nth(1)
                .unwrap_or("");
            for job in value.split('|') {
                assert!(
                    jobs.contains(&job),
                    "{alert} names job {job:?}; scraped: {jobs:?}"
                );
            }
        }
    }
}

/// The extraction the scrape test relies on finds the names it should.
#[test]
fn metric_names_are_read_from_the_rules_and_the_dashboard() {
    let rule_exprs: Vec<String> = alerts(&rules()).into_iter().map(|(_, e)| e).collect();
    let names = metric_names(&rule_exprs);
    assert!(names.contains("azione_workers_live"), "{names:?}");
    let dashboard = metric_names(&dashboard_expressions());
    assert!(dashboard.contains("azione_bookings_total"), "{dashboard:?}");
    assert_eq!(
        metric_names(&["rate(azione_jobs_total{outcome!=\"ok\"}[5m]) / up".to_owned()]),
        BTreeSet::from(["azione_jobs_total".to_owned()])
    );
    let matchers = label_matchers(&[
        r#"rate(azione_x_bucket{method="POST", route=~"/a|/b", status=~"5..", s!="1", job="w"}[5m])"#
            .to_owned(),
    ]);
    assert_eq!(
        matchers,
        [
            (
                "azione_x_bucket".to_owned(),
                vec![r#"method="POST""#.to_owned()]
            ),
            (
                "azione_x_bucket".to_owned(),
                vec![r#"route="/a""#.to_owned(), r#"route="/b""#.to_owned()]
            ),
        ]
    );
}

fn env_vars(database_url: &str, smtp_url: &str, web: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url.to_owned()),
        (
            "SECRET_KEY",
            "a-secret-key-for-tests-that-is-long-enough".to_owned(),
        ),
        ("PUBLIC_BASE_URL", "https://tickets.example.org".to_owned()),
        ("BIND_ADDR", web.to_owned()),
        ("SMTP_URL", smtp_url.to_owned()),
        ("MAIL_FROM", "tickets@example.org".to_owned()),
        ("RATE_LIMIT_PER_MINUTE", "0".to_owned()),
        ("JOB_POLL_INTERVAL_MS", "100".to_owned()),
    ]
}

fn refs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn create_key(vars: &[(&'static str, String)], role: &str) -> String {
    let output = process::run(
        "azione-web",
        &["create-api-key", "--role", role, "--label", role],
        &refs(vars),
    );
    assert!(output.status.success(), "create-api-key --role {role}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn scrape(client: &reqwest::Client, url: &str, key: &str) -> String {
    let response = client
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.expect("metrics text")
}

async fn wait_for_mail(
    smtp: &SmtpServer,
    to: &str,
    count: usize,
) -> Vec<tests::smtp::ReceivedMail> {
    tests::eventually(&format!("{count} e-mail(s) to {to}"), || async {
        Some(smtp.messages_to(to)).filter(|m| m.len() >= count)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_rules_and_the_dashboard_is_in_a_real_scrape_of_both_processes() {
    let db = TestDatabase::create().await;
    let smtp = SmtpServer::start().await;
    let web_addr = process::free_port();
    let worker_addr = process::free_port();
    let vars = env_vars(&db.url, &smtp.url(), &web_addr.to_string());
    let admin = create_key(&vars, "admin");
    let operator = create_key(&vars, "operator");
    let door = create_key(&vars, "door");
    let web = Running::spawn("azione-web", &["serve"], &refs(&vars));
    process::wait_for_port(web_addr).await;
    let client = reqwest::Client::new();
    let url = |p: &str| format!("http://{web_addr}{p}");

    // A performance in an hour (its check-in window is open), booked while no worker runs:
    // its confirmation e-mail waits, which web reports.
    let room: Json = client
        .post(url("/api/v1/admin/rooms"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Sala", "capacity": 10 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let performance: Json = client
        .post(url("/api/v1/admin/performances"))
        .bearer_auth(&admin)
        .json(&json!({ "title": "Arlecchino", "room_id": room["id"], "booking_status": "open",
                       "starts_at": (chrono::Utc::now() + chrono::Duration::minutes(60)).to_rfc3339() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = performance["id"].as_str().expect("performance id");
    let booked = client
        .post(url(&format!("/api/v1/performances/{id}/reservations")))
        .json(&json!({ "name": "Smeraldina", "email": "smeraldina@example.org", "party_size": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), 202);
    let waiting = scrape(&client, &url("/metrics"), &operator).await;
    assert!(
        waiting.contains(&format!(
            "azione_unsent_confirmation_age_seconds{{performance_id=\"{id}\"}}"
        )),
        "{waiting}"
    );

    // The worker sends the confirmation; the visitor confirms; the ticket goes out; the door
    // checks it in.
    let mut worker_vars = vars.clone();
    worker_vars.push(("WORKER_BIND_ADDR", worker_addr.to_string()));
    let worker = Running::spawn("azione-worker", &[], &refs(&worker_vars));
    process::wait_for_port(worker_addr).await;
    let mail = wait_for_mail(&smtp, "smeraldina@example.org", 1).await;
    let token = mail[0]
        .token_after("/reservations/confirm?token=")
        .expect("confirmation link");
    let confirmed = client
        .post(url("/api/v1/reservations/confirm"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let mail = wait_for_mail(&smtp, "smeraldina@example.org", 2).await;
    let ticket = mail[1].token_after("/t/").expect("ticket link");
    let checked_in = client
        .post(url("/api/v1/checkin"))
        .bearer_auth(&door)
        .json(&json!({ "token": ticket }))
        .send()
        .await
        .unwrap();
    assert_eq!(checked_in.status(), 200);

    let web_scrape = scrape(&client, &url("/metrics"), &operator).await;
    let worker_scrape = scrape(&client, &format!("http://{worker_addr}/metrics"), &operator).await;
    for (process, exposition) in [("web", &web_scrape), ("worker", &worker_scrape)] {
        let checked = run_promtool(&["check", "metrics"], Some(exposition));
        assert!(
            checked.status.success(),
            "promtool check metrics on {process}'s scrape: {}",
            text(&checked)
        );
    }

    let scraped: BTreeSet<String> = [&waiting, &web_scrape, &worker_scrape]
        .iter()
        .flat_map(|s| sample_names(s))
        .collect();
    let rule_exprs: Vec<String> = alerts(&rules()).into_iter().map(|(_, e)| e).collect();
    let all_exprs: Vec<String> = rule_exprs
        .iter()
        .cloned()
        .chain(dashboard_expressions())
        .collect();
    let samples: Vec<&str> = [&waiting, &web_scrape, &worker_scrape]
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| !l.starts_with('#'))
        .collect();
    let unmatched: Vec<String> = label_matchers(&all_exprs)
        .into_iter()
        .filter(|(name, _)| scraped.contains(name))
        .filter(|(name, wanted)| {
            !samples.iter().any(|line| {
                line.starts_with(&format!("{name}{{"))
                    && wanted.iter().any(|pair| line.contains(pair.as_str()))
            })
        })
        .map(|(name, wanted)| format!("{name}{{{}}}", wanted.join(" or ")))
        .collect();
    assert!(
        unmatched.is_empty(),
        "label values that no scraped series has: {unmatched:?}"
    );
    let missing: Vec<(&str, Vec<String>)> = [
        ("the alert rules", metric_names(&rule_exprs)),
        ("the dashboard", metric_names(&dashboard_expressions())),
    ]
    .into_iter()
    .map(|(what, names)| (what, names.difference(&scraped).cloned().collect()))
    .collect();
    assert!(
        missing.iter().all(|(_, names)| names.is_empty()),
        "metrics that no process exports: {missing:?}\nscraped: {scraped:?}"
    );
    drop(worker);
    drop(web);
}

/// The gauge behind `AzioneConfirmationsUnsent`: only performances within 24 h, only while
/// their confirmation e-mails wait; and the threshold gauge is the configured setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_reports_unsent_confirmations_of_performances_within_24_hours_until_they_are_sent() {
    let app = tests::TestApp::spawn_web_only(|c| {
        c.jobs.alert_oldest_waiting = Duration::from_secs(123);
    })
    .await;
    let operator = app.api_key(common::auth::Role::Operator).await;
    let soon = app
        .create_performance(tests::PerformanceSpec {
            starts_in: chrono::Duration::hours(23),
            ..Default::default()
        })
        .await;
    let later = app
        .create_performance(tests::PerformanceSpec {
            starts_in: chrono::Duration::hours(25),
            ..Default::default()
        })
        .await;
    app.book(soon, "soon@example.org", 1).await;
    app.book(later, "later@example.org", 1).await;
    let metrics_url = app.url("/metrics");

    let waiting = scrape(&app.client, &metrics_url, &operator).await;
    let line = |id: uuid::Uuid| {
        format!("azione_unsent_confirmation_age_seconds{{performance_id=\"{id}\"}} ")
    };
    assert!(waiting.contains(&line(soon)), "{waiting}");
    assert!(!waiting.contains(&line(later)), "{waiting}");
    assert!(
        waiting.contains("\nazione_queue_oldest_waiting_threshold_seconds 123\n"),
        "{waiting}"
    );

    app.spawn_extra_worker();
    app.wait_for_mail("soon@example.org", 1).await;
    app.wait_for_jobs().await;
    let sent = scrape(&app.client, &metrics_url, &operator).await;
    assert!(!sent.contains(&line(soon)), "{sent}");
    assert!(sent.contains("# TYPE azione_unsent_confirmation_age_seconds gauge"));
}

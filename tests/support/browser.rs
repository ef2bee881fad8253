//! A real headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`),
//! with the few commands the page tests need.

use std::{path::PathBuf, time::Duration};

use serde_json::{Value, json};

use crate::{
    eventually::eventually_within,
    process::{self, Running},
};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; the driver and browser stop when it is dropped.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: Running,
    _profile: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn find(candidates: &[&str]) -> String {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!("none of {candidates:?} is installed (apt-get install chromium chromium-driver)")
        })
        .to_string()
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn start() -> Browser {
        let driver_path = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        let chromium = find(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"]);
        let port = process::free_port().port();
        let driver = Running::spawn_path(&driver_path, &[&format!("--port={port}")]);
        process::wait_for_port(([127, 0, 0, 1], port).into()).await;
        let profile =
            std::env::temp_dir().join(format!("azione-chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).expect("profile folder");
        let http = reqwest::Client::new();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=412,915",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let created: Value = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new WebDriver session")
            .json()
            .await
            .expect("session JSON");
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        Browser {
            http,
            base: format!("http://127.0.0.1:{port}/session/{id}"),
            _driver: driver,
            _profile: TempDir(profile),
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let reply: Value = req
            .send()
            .await
            .expect("WebDriver command")
            .json()
            .await
            .expect("WebDriver JSON");
        if reply["value"]["error"].is_string() {
            panic!("WebDriver {path} failed: {}", reply["value"]);
        }
        reply["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The element matching `css`, waiting up to ten seconds for it to appear.
    pub async fn element(&self, css: &str) -> String {
        eventually_within(
            Duration::from_secs(10),
            &format!("element {css}"),
            || async {
                let reply: Value = self
                    .http
                    .post(format!("{}/element", self.base))
                    .json(&json!({ "using": "css selector", "value": css }))
                    .send()
                    .await
                    .expect("find element")
                    .json()
                    .await
                    .expect("JSON");
                reply["value"][ELEMENT].as_str().map(str::to_owned)
            },
        )
        .await
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        self.command(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The text of `css` now, or `None` while it is missing or the page is being replaced
    /// (a form post can turn a found element stale before its text is read).
    async fn try_text(&self, css: &str) -> Option<String> {
        let found: Value = self
            .http
            .post(format!("{}/element", self.base))
            .json(&json!({ "using": "css selector", "value": css }))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let id = found["value"][ELEMENT].as_str()?;
        let text: Value = self
            .http
            .get(format!("{}/element/{id}/text", self.base))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        text["value"].as_str().map(str::to_owned)
    }

    /// Waits until the text of `css` contains `expected`; returns the text.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let what = format!("{css} to show {expected:?}");
        eventually_within(Duration::from_secs(10), &what, || async {
            self.try_text(css).await.filter(|t| t.contains(expected))
        })
        .await
    }

    /// Resizes the window, e.g. to a phone's 390 × 844.
    pub async fn set_size(&self, width: u32, height: u32) {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Runs `script` (a function body that may `return` a value) in the page.
    pub async fn run_script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Runs `script` as an asynchronous function body: it ends by calling its last argument
    /// with the result.
    pub async fn run_async_script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// The serious and critical accessibility violations axe-core (vendored in
    /// `tests/vendor/axe-core`) finds on the current page, one line each.
    pub async fn axe_violations(&self) -> Vec<String> {
        const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");
        self.run_script(&format!("{AXE}\nreturn true;")).await;
        let found = self
            .run_async_script(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => `${v.impact} ${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)))
                   .catch(e => done([`axe failed: ${e}`]));",
            )
            .await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn current_url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a screenshot under `target/browser-screenshots/` (a local artefact, not committed).
    pub async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let data = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("screenshot PNG");
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/browser-screenshots"
        ));
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), bytes).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let base = self.base.clone();
        // Close the session (and so the browser) before the driver goes.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    let _ = reqwest::Client::new().delete(&base).send().await;
                });
            }
        })
        .join();
    }
}

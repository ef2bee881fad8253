//! `StaffClient`: a staff member logged in through the form, whose requests carry the
//! session cookie and the session's CSRF token (`X-CSRF-Token` on JSON, the hidden
//! `csrf_token` field on forms), as the browser pages send them.

use common::auth::Role;
use reqwest::{Method, Response};
use serde_json::Value;

use crate::html::Page;

pub struct StaffClient {
    /// The bare client holding the session cookie: for requests that deliberately leave the
    /// CSRF token out.
    pub client: reqwest::Client,
    /// The session's CSRF token, as the pages carry it.
    pub csrf: String,
    /// The session cookie's value (to show it stays out of logs).
    pub session: String,
    pub email: String,
    pub role: Role,
    base_url: String,
}

impl StaffClient {
    /// Logs in with `email` and `password` through the form at `base_url`; panics unless the
    /// login succeeds and the landing page shows a CSRF token.
    pub async fn log_in(base_url: &str, role: Role, email: &str, password: &str) -> StaffClient {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = client
            .post(format!("{base_url}/admin/login"))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 303, "login as {role:?}");
        let session = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.strip_prefix("azione_session="))
            .find_map(|rest| rest.split(';').next())
            .expect("session cookie")
            .to_owned();
        let landing = response.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        let page = client
            .get(format!("{base_url}{landing}"))
            .send()
            .await
            .expect("landing page");
        assert_eq!(page.status(), 200, "landing page {landing} for {role:?}");
        let csrf = Page::parse(&page.text().await.expect("html")).csrf_token();
        StaffClient {
            client,
            csrf,
            session,
            email: email.to_owned(),
            role,
            base_url: base_url.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// `GET path`, asserting 200, parsed.
    pub async fn page(&self, path: &str) -> Page {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path} as {:?}", self.role);
        Page::parse(&response.text().await.expect("html"))
    }

    /// A form post with the CSRF token added as `csrf_token`.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut form = vec![("csrf_token", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.client
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .expect("form post")
    }

    /// A JSON request (with `body`, if any) and the `X-CSRF-Token` header.
    pub async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("X-CSRF-Token", &self.csrf);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.expect("JSON request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.json(Method::POST, path, Some(body)).await
    }
}

//! Headless Chromium through chromedriver: finding the tools, one chromedriver per run, one
//! browser (fresh profile) per session, and the checks made on every page: no request to another
//! origin, no CSP violation, no uncaught script error.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::Env;
use crate::server::{die_with_parent, free_port};

/// How long a wait for an element, a navigation or a live update may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// The window every session starts with.
pub const DESKTOP: (u32, u32) = (1280, 900);

const MISSING: &str = "e2e: Chromium and chromedriver are needed for the browser tests: install the Debian packages `chromium chromium-driver` (apt-get install chromium chromium-driver)";

/// The browser and its driver, found on `PATH` (or `NEXUS_E2E_CHROMIUM`,
/// `NEXUS_E2E_CHROMEDRIVER`).
pub struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

impl Tools {
    /// Finds both, or returns the one-line message telling what to install.
    pub fn find() -> Result<Tools, String> {
        let chromium = std::env::var_os("NEXUS_E2E_CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| on_path(&["chromium", "chromium-browser"]))
            .filter(|p| p.is_file());
        let chromedriver = std::env::var_os("NEXUS_E2E_CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| on_path(&["chromedriver"]))
            .filter(|p| p.is_file());
        match (chromium, chromedriver) {
            (Some(chromium), Some(chromedriver)) => Ok(Tools {
                chromium,
                chromedriver,
            }),
            _ => Err(MISSING.to_string()),
        }
    }
}

/// A chromedriver for the whole run.
pub struct Driver {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    url: String,
    chromium: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready.
    pub async fn start(tools: &Tools) -> Driver {
        let port = free_port();
        let mut cmd = Command::new(&tools.chromedriver);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{MISSING} ({e})"));
        let url = format!("http://127.0.0.1:{port}/");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{url}status")).send().await
                && let Ok(body) = r.json::<Value>().await
                && body["value"]["ready"] == true
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("chromedriver exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver {
            child,
            url,
            chromium: tools.chromium.clone(),
        }
    }

    /// Stops chromedriver.
    pub fn stop(mut self) {
        use rustix::process::{Pid, Signal, kill_process};
        let _ = kill_process(Pid::from_child(&self.child), Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Chrome DevTools Protocol command, through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"cmd": self.cmd, "params": self.params}).to_string()),
        )
    }
}

/// Reads (and empties) the session's performance log: every network request of the page.
#[derive(Debug)]
struct PerformanceLog;

impl WebDriverCompatibleCommand for PerformanceLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "performance"}).to_string()),
        )
    }
}

/// Installed in every document before its own scripts run: collects CSP violations and uncaught
/// errors, so a check after load sees those that happened during it.
const MONITOR: &str = r#"
(() => {
  const seen = { violations: [], errors: [] };
  Object.defineProperty(window, '__e2e', { value: seen });
  document.addEventListener('securitypolicyviolation', (e) => {
    seen.violations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
  });
  window.addEventListener('error', (e) => {
    if (e instanceof ErrorEvent) seen.errors.push(`${e.message} at ${e.filename}:${e.lineno}`);
  });
  window.addEventListener('unhandledrejection', (e) => {
    seen.errors.push(`unhandled rejection: ${e.reason}`);
  });
})();
"#;

/// What a loaded page is checked for: requests or references to another origin, CSP violations,
/// uncaught errors.
const PAGE_CHECK: &str = r#"
const origin = location.origin;
const foreign = (u) => {
  try {
    const url = new URL(u, location.href);
    return /^(https?|wss?):$/.test(url.protocol) && url.origin !== origin;
  } catch (e) { return true; }
};
const requests = performance.getEntriesByType('resource').map((e) => e.name).filter(foreign);
const references = [];
for (const el of document.querySelectorAll('[src], link[href], form[action], object[data], [poster], [srcset]')) {
  for (const attr of ['src', 'href', 'action', 'data', 'poster']) {
    const v = el.getAttribute(attr);
    if (v !== null && foreign(v)) references.push(`<${el.localName} ${attr}="${v}">`);
  }
  const srcset = el.getAttribute('srcset');
  if (srcset) for (const part of srcset.split(',')) {
    const u = part.trim().split(/\s+/)[0];
    if (u && foreign(u)) references.push(`<${el.localName} srcset="${u}">`);
  }
}
const seen = window.__e2e || { violations: ['(the monitor script did not run)'], errors: [] };
return { requests, references, violations: seen.violations, errors: seen.errors };
"#;

/// One browser session: a fresh Chromium profile, signed in as nobody until `sign_in`.
pub struct Browser {
    client: Client,
    base: String,
    /// A short name for messages ("alice's browser").
    pub label: String,
    documents: Mutex<Vec<(String, u16)>>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens a new browser session for the run's server.
    pub async fn open(env: &Env, label: &str) -> Browser {
        Self::open_on(env, &env.server.base, label).await
    }

    /// Opens a new browser session for the server at `base`.
    pub async fn open_on(env: &Env, base: &str, label: &str) -> Browser {
        let profile = tempfile::tempdir().expect("browser profile dir");
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".to_string(),
            "--disable-dev-shm-usage".to_string(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            // Nothing but the server under test resolves: a page that tries to load from
            // elsewhere fails, and the checks below see the attempt.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--disable-extensions".to_string(),
            "--lang=en-US".to_string(),
            "--force-color-profile=srgb".to_string(),
            "--hide-scrollbars".to_string(),
            "--mute-audio".to_string(),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": env.driver.chromium, "args": args}),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"performance": "ALL"}));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&env.driver.url)
            .await
            .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver: {e}"));
        let browser = Browser {
            client,
            base: base.to_string(),
            label: label.to_string(),
            documents: Mutex::new(Vec::new()),
            _profile: profile,
        };
        browser
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({"source": MONITOR}),
            )
            .await;
        browser.color_scheme("light").await;
        browser
    }

    /// Ends the session (closes Chromium).
    pub async fn close(self) {
        let _ = self.client.close().await;
    }

    /// The underlying WebDriver client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a DevTools command.
    pub async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    /// Emulates `prefers-color-scheme: light|dark`.
    pub async fn color_scheme(&self, scheme: &str) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await;
    }

    /// Emulates a viewport `width` × `height` (a phone when narrow: touch, meta viewport).
    pub async fn viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1,
                   "mobile": width < 600}),
        )
        .await;
    }

    /// Back to the window's own size.
    pub async fn desktop(&self) {
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
    }

    /// Absolute URL of `path` on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Opens `path` and checks the page.
    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&self.url(path))
            .await
            .unwrap_or_else(|e| panic!("{}: open {path}: {e}", self.label));
        self.settled().await;
    }

    /// The current path and query ("/login?next=%2F").
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The HTTP status the current document was served with (from the network log).
    pub async fn status(&self) -> u16 {
        self.drain_log().await;
        let documents = self.documents.lock().expect("documents");
        documents
            .last()
            .map(|(_, status)| *status)
            .unwrap_or_else(|| panic!("{}: no document response seen", self.label))
    }

    /// Runs `script` (a function body) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.label))
    }

    /// Waits until `expr` (a JavaScript expression) is truthy; panics naming `what` otherwise.
    pub async fn wait_for(&self, what: &str, expr: &str) {
        let script = format!("return !!({expr});");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Value::Bool(true)) = self.client.execute(&script, vec![]).await {
                return;
            }
            if Instant::now() > deadline {
                let path = self.path().await;
                panic!(
                    "{}: timed out after {}s waiting for {what} (on {path})",
                    self.label,
                    WAIT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(el) => el,
            Err(e) => {
                let path = self.path().await;
                panic!("{}: no element {css} on {path}: {e}", self.label)
            }
        }
    }

    /// Every element matching `css` now (no wait).
    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> bool {
        !self.all(css).await.is_empty()
    }

    /// The visible text of `css` (waits for it).
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_default()
    }

    /// The number shown in `css` (0 when it is absent, empty or not a number).
    pub async fn number(&self, css: &str) -> u64 {
        self.js(
            "const el = document.querySelector(arguments[0]);
             const n = el ? parseInt(el.textContent.replace(/[^0-9]/g, ''), 10) : 0;
             return isNaN(n) ? 0 : n;",
            vec![json!(css)],
        )
        .await
        .as_u64()
        .unwrap_or(0)
    }

    /// The whole page's visible text.
    pub async fn page_text(&self) -> String {
        self.js(
            "return document.body ? document.body.innerText : '';",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Types `value` into the field `css`, replacing what it held.
    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("{}: clear {css}: {e}", self.label));
        el.send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("{}: type into {css}: {e}", self.label));
    }

    /// Sets the value of `css` as a script would (for `datetime-local`, whose typing depends on
    /// the locale), firing `input` and `change`.
    pub async fn set_value(&self, css: &str, value: &str) {
        self.find(css).await;
        self.js(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];
             el.dispatchEvent(new Event('input', {bubbles: true}));
             el.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![json!(css), json!(value)],
        )
        .await;
    }

    /// Chooses the option with `value` in the select `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("{}: choose {value:?} in {css}: {e}", self.label));
    }

    /// The `value` property of the field `css`.
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Clicks `css` without expecting a navigation.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: click {css}: {e}", self.label));
    }

    /// Marks the current document, so a later check can tell whether it was replaced.
    pub async fn mark(&self) {
        self.js("window.__e2eMark = true;", vec![]).await;
    }

    /// Whether the document marked by `mark` is still the one shown (no reload happened).
    pub async fn still_marked(&self) -> bool {
        self.js("return window.__e2eMark === true;", vec![]).await == Value::Bool(true)
    }

    /// Does `action` (a click, a key press) and waits until it has loaded another document.
    pub async fn navigating<F: std::future::Future<Output = ()>>(&self, what: &str, action: F) {
        self.mark().await;
        action.await;
        self.wait_for(
            &format!("a new page after {what}"),
            "window.__e2eMark === undefined && document.readyState === 'complete'",
        )
        .await;
        self.settled().await;
    }

    /// Clicks `css` and waits for the page it leads to.
    pub async fn click_to_page(&self, css: &str) {
        self.navigating(&format!("clicking {css}"), self.click(css))
            .await;
    }

    /// Presses Enter in `css` and waits for the page it leads to.
    pub async fn enter_to_page(&self, css: &str) {
        let el = self.find(css).await;
        self.navigating(&format!("Enter in {css}"), async {
            el.send_keys("\u{E007}")
                .await
                .unwrap_or_else(|e| panic!("{}: Enter in {css}: {e}", self.label));
        })
        .await;
    }

    /// The browser's Back button.
    pub async fn back(&self) {
        self.mark().await;
        self.client.back().await.expect("back");
        self.wait_for(
            "the previous page after Back",
            "window.__e2eMark === undefined && document.readyState === 'complete'",
        )
        .await;
        self.settled().await;
    }

    /// Signs in through `form#login` on the current page (or `/login` if not on one) and waits
    /// for the page it leads to.
    pub async fn sign_in(&self, username: &str, password: &str) {
        if !self.exists("form#login").await {
            self.goto("/login").await;
        }
        self.fill("form#login [name=username]", username).await;
        self.fill("form#login [name=password]", password).await;
        self.click_to_page("form#login [type=submit]").await;
        let status = self.status().await;
        if status >= 400 {
            let text = self.page_text().await;
            panic!(
                "{}: signing in as {username} answered {status}: {}",
                self.label,
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }

    /// Signs out through the top bar's `form#logout`, opening the menu that holds it first when
    /// it is folded away (the user menu is a `<details>`).
    pub async fn sign_out(&self) {
        let button = self.find("form#logout button").await;
        if !button.is_displayed().await.unwrap_or(false) {
            self.js(
                "const menu = document.querySelector('form#logout').closest('details');
                 if (menu) menu.querySelector('summary').click();",
                vec![],
            )
            .await;
        }
        self.click_to_page("form#logout button").await;
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// The checks made on every page once it has loaded (and after live changes): no request or
    /// reference to another origin, no CSP violation, no uncaught script error.
    pub async fn settled(&self) {
        let problems = self.page_problems().await;
        let path = self.path().await;
        assert!(
            problems.is_empty(),
            "{} on {path}:\n  {}",
            self.label,
            problems.join("\n  ")
        );
    }

    /// What `settled` finds wrong with the page shown (empty when nothing).
    pub async fn page_problems(&self) -> Vec<String> {
        let report = self.js(PAGE_CHECK, vec![]).await;
        let foreign_requests = self.drain_log().await;
        let mut problems = Vec::new();
        for (key, what) in [
            ("requests", "request to another origin"),
            ("references", "reference to another origin"),
            ("violations", "Content-Security-Policy violation"),
            ("errors", "uncaught script error"),
        ] {
            for item in report[key].as_array().into_iter().flatten() {
                problems.push(format!("{what}: {}", item.as_str().unwrap_or_default()));
            }
        }
        for url in foreign_requests {
            problems.push(format!("request to another origin (network log): {url}"));
        }
        problems
    }

    /// Reads the network log: remembers document responses, returns requests to other origins.
    async fn drain_log(&self) -> Vec<String> {
        let entries = self
            .client
            .issue_cmd(PerformanceLog)
            .await
            .unwrap_or_else(|e| panic!("{}: read the performance log: {e}", self.label));
        let mut foreign = Vec::new();
        let mut documents = self.documents.lock().expect("documents");
        for entry in entries.as_array().into_iter().flatten() {
            let Some(message) = entry["message"]
                .as_str()
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
            else {
                continue;
            };
            let message = &message["message"];
            let params = &message["params"];
            let url = match message["method"].as_str() {
                Some("Network.requestWillBeSent") => params["request"]["url"].as_str(),
                Some("Network.webSocketCreated") => params["url"].as_str(),
                Some("Network.responseReceived") => {
                    if params["type"] == "Document"
                        && let (Some(url), Some(status)) = (
                            params["response"]["url"].as_str(),
                            params["response"]["status"].as_u64(),
                        )
                    {
                        documents.push((url.to_string(), status as u16));
                    }
                    None
                }
                _ => None,
            };
            if let Some(url) = url
                && is_foreign(url, &self.base)
            {
                foreign.push(url.to_string());
            }
        }
        foreign
    }
}

/// An http(s)/ws(s) URL outside `base` (data:, blob:, about: and the browser's own chrome: pages
/// are not network requests of the page).
fn is_foreign(url: &str, base: &str) -> bool {
    let network = ["http://", "https://", "ws://", "wss://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    let ws_base = base.replacen("http://", "ws://", 1);
    let same = [base, ws_base.as_str()].iter().any(|origin| {
        url.strip_prefix(origin)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    });
    network && !same
}

/// What is missing from the layout every page shares (the markup contract: header, nav when
/// signed in, `main#main`, exactly one h1, a skip link to `#main`); empty when nothing is.
pub async fn layout_problems(b: &Browser) -> Vec<String> {
    let report = b
        .js(
            "const q = (s) => document.querySelectorAll(s).length;
             const skip = document.querySelector('a.skip-link');
             return { header: q('header'), nav: q('nav'), main: q('main#main'), h1: q('h1'),
                      skip: skip ? skip.getAttribute('href') : null,
                      signed_in: q('form#logout') > 0 };",
            vec![],
        )
        .await;
    let mut problems = Vec::new();
    if report["header"].as_u64() < Some(1) {
        problems.push("no <header>".to_string());
    }
    // The sign-in page has nowhere to go yet: no navigation there.
    if report["signed_in"] == true && report["nav"].as_u64() < Some(1) {
        problems.push("no <nav>".to_string());
    }
    if report["main"] != 1 {
        problems.push(format!("{} <main id=main>, expected 1", report["main"]));
    }
    if report["h1"] != 1 {
        problems.push(format!("{} h1, expected exactly 1", report["h1"]));
    }
    if report["skip"] != "#main" {
        problems.push(format!("a.skip-link to #main: {}", report["skip"]));
    }
    problems
}

/// Asserts the shared layout (see `layout_problems`).
pub async fn assert_layout(b: &Browser) {
    let problems = layout_problems(b).await;
    let path = b.path().await;
    assert!(
        problems.is_empty(),
        "{path}: layout: {}",
        problems.join("; ")
    );
}

//! Headless Chromium for the pages' tests: Debian's `chromium` driven through `chromedriver`
//! on a loopback port, with fantoccini. `scripts/test` installs both; a missing one fails the
//! test with what to install.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// A browser session and the chromedriver behind it (stopped when dropped).
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    /// Ends chromedriver and every process it started (its process group): a failed test
    /// leaves no browser behind. A test that ends well closes the session first ([`close`]).
    ///
    /// [`close`]: Browser::close
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

/// A free loopback port (bound, then released for chromedriver to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of `width` × `height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is not installed: apt-get install chromium chromium-driver");
        let url = format!("http://127.0.0.1:{port}");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", format!("--window-size={width},{height}")],
            }),
        );
        // chromedriver answers once it listens: its readiness is the session it opens.
        let mut last = String::new();
        for _ in 0..200 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => return Browser { client, driver },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not open a session on {url}: {last}");
    }

    /// Ends the browser session (Chromium quits), then chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigating");
    }

    /// The text of the page's body.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("a body")
            .text()
            .await
            .expect("its text")
    }

    /// The value of the field with this id.
    pub async fn value(&self, id: &str) -> String {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id}: {e}"))
            .prop("value")
            .await
            .expect("a value")
            .unwrap_or_default()
    }

    /// Types into the field with this id, replacing what it held.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id}: {e}"));
        field.clear().await.expect("clearing");
        field.send_keys(text).await.expect("typing");
    }

    /// Clicks what `css` finds first, a link or a button that submits a form, and waits for
    /// the page it leads to: the old document gone, the new one loaded.
    pub async fn click(&self, css: &str) {
        let old = self
            .client
            .find(Locator::Css("html"))
            .await
            .expect("a document");
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
        self.loaded(old).await;
    }

    /// Runs a script in the page and returns what it returns.
    pub async fn script(&self, js: &str) -> serde_json::Value {
        self.client
            .execute(js, vec![])
            .await
            .unwrap_or_else(|e| panic!("running {js}: {e}"))
    }

    /// The HTTP status the page was answered with (its navigation's, a form's answer too).
    pub async fn status(&self) -> u64 {
        let js = "return performance.getEntriesByType('navigation')[0].responseStatus;";
        self.script(js)
            .await
            .as_u64()
            .unwrap_or_else(|| panic!("{js} gave no status"))
    }

    /// Waits (up to 10 s, looking every 25 ms) until the page's text contains `needle`, as it
    /// does once a script has changed the page.
    pub async fn wait_for_text(&self, needle: &str) {
        for _ in 0..400 {
            if self.text().await.contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the page never said {needle:?}: {}", self.text().await);
    }

    /// Picks the option with this value in the select with this id.
    pub async fn choose(&self, id: &str, value: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id}: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choosing {value} in #{id}: {e}"));
    }

    /// Clicks what `css` finds first without leaving the page (a checkbox).
    pub async fn tick(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Waits until `old` is no longer the document and the new one has loaded.
    async fn loaded(&self, old: fantoccini::elements::Element) {
        for _ in 0..400 {
            if old.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        for _ in 0..400 {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await
                .ok();
            if state.as_ref().and_then(|s| s.as_str()) == Some("complete") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the page did not load");
    }

    /// Scrolls the element with this id to the middle of the window.
    pub async fn reveal(&self, id: &str) {
        let script = format!("document.getElementById('{id}').scrollIntoView({{block: 'center'}})");
        self.client
            .execute(&script, vec![])
            .await
            .unwrap_or_else(|e| panic!("scrolling to #{id}: {e}"));
    }

    /// Writes a screenshot to `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("writing a screenshot");
    }
}

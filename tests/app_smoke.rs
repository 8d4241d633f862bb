//! Smoke tests of the real desktop app (the `outpost-app` binary built with the UI inside),
//! driven through `tauri-driver` + WebKitWebDriver under a virtual display. They need the
//! display, a D-Bus session and the driver, so `scripts/test.sh` runs them with
//! `OUTPOST_APP_E2E=1` inside `xvfb-run dbus-run-session`; without that variable they say so
//! and stop.
//!
//! They also print the figures the desktop issue asks for: cold start to first paint, and
//! resident memory with the window open and in background mode.

use outpost_e2e::{signal, wait_exit, Machine};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn enabled() -> bool {
    if std::env::var_os("OUTPOST_APP_E2E").is_none() {
        eprintln!("skipped: set OUTPOST_APP_E2E=1 (scripts/test.sh runs these under xvfb-run and dbus-run-session)");
        return false;
    }
    true
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn app_binary() -> PathBuf {
    let bin = outpost_e2e::outpost_bin().with_file_name("outpost-app");
    assert!(bin.exists(), "{} is missing — build it: npm --prefix ui run build && cargo build -p outpost-app --features custom-protocol", bin.display());
    bin
}

/// Ends every running `outpost-app` (SIGTERM, then SIGKILL) and waits until none is left.
async fn stop_apps() {
    let _ = Command::new("pkill")
        .args(["-TERM", "-f", "target/debug/outpost-app"])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while app_pid().is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("pkill")
        .args(["-KILL", "-f", "target/debug/outpost-app"])
        .status();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn app_pid() -> Option<u32> {
    let out = Command::new("pgrep")
        .args(["-n", "-f", "outpost-app"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A minimal WebDriver client over plain HTTP.
struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
}

impl Driver {
    async fn start(m: &Machine) -> Driver {
        let port = free_port();
        let native = free_port();
        let tool = repo_root().join(".tools/bin/tauri-driver");
        assert!(
            tool.exists(),
            "tauri-driver is missing: cargo install tauri-driver --locked --root .tools"
        );
        let mut cmd = Command::new(tool);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in m.env() {
            cmd.env(k, v);
        }
        let driver = cmd.spawn().expect("spawn tauri-driver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app_binary()}}}});
        let v: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        Driver {
            http,
            base,
            session,
            driver,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver json");
        v["value"].clone()
    }

    async fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Waits (bounded) until `script` returns a truthy value; returns it.
    async fn wait_for(&self, what: &str, script: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.exec(script, json!([])).await;
            if !(v.is_null() || v == json!(false) || v == json!("")) && v.get("error").is_none() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} (last: {v})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(|e| e.as_str())
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn screenshot(&self, name: &str) {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        if let Some(b64) = v.as_str() {
            let dir = repo_root().join("target/app-screenshots");
            let _ = std::fs::create_dir_all(&dir);
            use base64::Engine as _;
            if let Ok(png) = base64::engine::general_purpose::STANDARD.decode(b64) {
                let _ = std::fs::write(dir.join(format!("{name}.png")), png);
            }
        }
    }

    async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_window_opens_on_the_calendar() {
    if !enabled() {
        return;
    }
    let m = Machine::new().await;
    let started = Instant::now();
    let d = Driver::start(&m).await;
    d.wait_for(
        "the calendar",
        "return document.querySelector('.fc-daygrid-day') !== null",
        Duration::from_secs(30),
    )
    .await;
    let first_paint = started.elapsed();
    let title = d.cmd(reqwest::Method::GET, "/title", None).await;
    assert_eq!(title, json!("Outpost"));
    let status = d.wait_for("the status bar", "const e = document.querySelector('[data-testid=runner-state]'); return e && e.textContent", Duration::from_secs(30)).await;
    assert!(
        status.as_str().is_some_and(|s| s.contains("Publishing")),
        "status bar: {status}"
    );
    println!(
        "figure: cold start to first paint of the calendar: {} ms",
        first_paint.as_millis()
    );
    if let Some(pid) = app_pid() {
        if let Some(kib) = rss_kib(pid) {
            println!(
                "figure: resident memory with the window open: {} MiB",
                kib / 1024
            );
        }
    }
    d.screenshot("calendar").await;

    // Pause and Resume (the status bar's button and the tray's item run the same action).
    let invoke = |cmd: &str| {
        json!({"script": format!("const done = arguments[arguments.length - 1];\
            window.__TAURI_INTERNALS__.invoke('{cmd}').then(r => done(r ?? true), e => done({{ error: e }}));"), "args": []})
    };
    d.cmd(
        reqwest::Method::POST,
        "/execute/async",
        Some(invoke("pause")),
    )
    .await;
    assert_eq!(
        m.json(&["status"]).await["paused"],
        json!(true),
        "pause is stored for every runner"
    );
    d.wait_for(
        "the paused status bar",
        "const e = document.querySelector('[data-testid=runner-state]'); return e && /paused/i.test(e.textContent)",
        Duration::from_secs(30),
    )
    .await;
    d.cmd(
        reqwest::Method::POST,
        "/execute/async",
        Some(invoke("resume")),
    )
    .await;
    assert_eq!(m.json(&["status"]).await["paused"], json!(false));

    // "Start at login" in settings writes the desktop autostart entry with --background.
    let saved = d
        .cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": "const done = arguments[arguments.length - 1];\
                window.__TAURI_INTERNALS__.invoke('get_settings').then(s => \
                  window.__TAURI_INTERNALS__.invoke('save_settings', { settings: { ...s, start_at_login: true } }))\
                .then(r => done(r), e => done({ error: e }));", "args": []})),
        )
        .await;
    assert_eq!(saved["start_at_login"], json!(true), "{saved}");
    // The autostart entry goes to $HOME/.config/autostart (this test machine's own HOME).
    let home = m
        .env()
        .into_iter()
        .find(|(k, _)| k == "HOME")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let autostart = PathBuf::from(home).join(".config/autostart");
    let entry = std::fs::read_dir(&autostart)
        .ok()
        .and_then(|mut rd| rd.next())
        .and_then(|e| e.ok())
        .and_then(|e| std::fs::read_to_string(e.path()).ok())
        .unwrap_or_default();
    assert!(
        entry.contains("--background"),
        "autostart entry in {}: {entry}",
        autostart.display()
    );
    d.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_composed_in_the_window_is_published_and_its_card_turns_posted() {
    if !enabled() {
        return;
    }
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    let d = Driver::start(&m).await;
    d.wait_for(
        "the calendar",
        "return document.querySelector('.fc-daygrid-day') !== null",
        Duration::from_secs(30),
    )
    .await;
    d.exec("location.hash = '#/compose'; return true;", json!([]))
        .await;
    d.wait_for(
        "the composer",
        "return document.querySelector('[data-testid=submit]') !== null",
        Duration::from_secs(30),
    )
    .await;
    d.type_into(
        "textarea",
        "Hello from the desktop app https://example.com #outpost",
    )
    .await;
    // Choose the account and "Post now".
    d.exec(
        "const l = [...document.querySelectorAll('label')].find(l => l.textContent.includes('bluesky:alice.test'));\
         const i = l && (l.querySelector('input') || document.getElementById(l.htmlFor)); if (i && !i.checked) i.click(); return !!i;",
        json!([]),
    )
    .await;
    d.exec(
        "const l = [...document.querySelectorAll('label')].find(l => l.textContent.trim().startsWith('Post now'));\
         const i = l && (l.querySelector('input') || document.getElementById(l.htmlFor)); if (i) i.click(); return !!i;",
        json!([]),
    )
    .await;
    d.wait_for(
        "the submit button",
        "const b = document.querySelector('[data-testid=submit]'); return b && !b.disabled",
        Duration::from_secs(30),
    )
    .await;
    d.click("[data-testid=submit]").await;
    // The engine stores it and the dispatcher publishes it to the fake network.
    let deadline = Instant::now() + Duration::from_secs(20);
    while m.fake.records(&did).is_empty() {
        assert!(Instant::now() < deadline, "nothing was published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let posts = m.json(&["posts", "list"]).await;
    let id = posts["posts"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    m.wait_status(&id, "published", Duration::from_secs(30))
        .await;
    d.exec("location.hash = '#/calendar'; return true;", json!([]))
        .await;
    let chip = d
        .wait_for(
            "the published chip",
            "const e = document.querySelector('.fc-event[data-status=published]'); return e && e.textContent",
            Duration::from_secs(30),
        )
        .await;
    assert!(
        chip.as_str()
            .is_some_and(|t| t.contains("Hello from the desktop app")),
        "{chip}"
    );
    d.screenshot("published").await;
    d.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_network_shows_its_error_on_the_card_in_the_window() {
    if !enabled() {
        return;
    }
    let m = Machine::new().await;
    m.connect("alice.test").await;
    m.fake.push_fault(outpost_testkit::bluesky::Fault::status(
        "com.atproto.repo.createRecord",
        1,
        400,
        "InvalidRequest",
        "Invalid app.bsky.feed.post record: text too long",
    ));
    let id = m
        .post(&["this one fails", "--to", "bluesky:alice.test", "--now"])
        .await;
    let d = Driver::start(&m).await;
    m.wait_status(&id, "failed", Duration::from_secs(20)).await;
    d.exec(
        &format!("location.hash = '#/post/{id}'; return true;"),
        json!([]),
    )
    .await;
    let err = d
        .wait_for(
            "the error on the card",
            "const e = document.querySelector('[data-testid=target-error]'); return e && e.textContent",
            Duration::from_secs(30),
        )
        .await;
    assert!(
        err.as_str().is_some_and(|e| e.starts_with("Bluesky:")),
        "{err}"
    );
    d.screenshot("failed").await;
    d.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn background_mode_has_no_window_and_still_publishes() {
    if !enabled() {
        return;
    }
    stop_apps().await;
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    let mut cmd = Command::new(app_binary());
    cmd.arg("--background")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in m.env() {
        cmd.env(k, v);
    }
    let mut app = cmd.spawn().expect("start the app in the background");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let windows = Command::new("xdotool")
        .args(["search", "--name", "^Outpost$"])
        .output()
        .expect("xdotool");
    assert!(
        String::from_utf8_lossy(&windows.stdout).trim().is_empty(),
        "background mode opened a window"
    );
    let id = m
        .post(&["from the tray agent", "--to", "bluesky:alice.test", "--now"])
        .await;
    m.wait_status(&id, "published", Duration::from_secs(30))
        .await;
    assert_eq!(m.fake.records(&did).len(), 1);
    if let Some(kib) = rss_kib(app.id()) {
        println!(
            "figure: resident memory of the background agent (no webview): {} MiB",
            kib / 1024
        );
    }

    // Starting Outpost again hands over to the running instance (which opens its window)
    // and exits at once.
    let mut again = Command::new(app_binary());
    again.stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in m.env() {
        again.env(k, v);
    }
    let mut second = again.spawn().expect("second launch");
    assert_eq!(
        wait_exit(&mut second, Duration::from_secs(30)).await,
        0,
        "the second launch exits 0"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = Command::new("xdotool")
            .args(["search", "--name", "^Outpost$"])
            .output()
            .expect("xdotool");
        if !String::from_utf8_lossy(&found.stdout).trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the running instance did not open its window"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        app.try_wait().expect("try_wait").is_none(),
        "the first instance keeps running"
    );
    signal(&app, "TERM");
    wait_exit(&mut app, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_raises_one_desktop_notification_naming_the_network() {
    if !enabled() {
        return;
    }
    if Command::new("dunst").arg("--version").output().is_err() {
        panic!("dunst is missing: scripts/install-deps.sh installs it");
    }
    stop_apps().await;
    let mut dunst = Command::new("dunst")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dunst");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let m = Machine::new().await;
    m.connect("alice.test").await;
    m.fake.push_fault(outpost_testkit::bluesky::Fault::status(
        "com.atproto.repo.createRecord",
        1,
        400,
        "InvalidRequest",
        "Invalid app.bsky.feed.post record",
    ));
    let mut cmd = Command::new(app_binary());
    cmd.arg("--background")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in m.env() {
        cmd.env(k, v);
    }
    let mut app = cmd.spawn().expect("start the app");
    let id = m
        .post(&["will fail", "--to", "bluesky:alice.test", "--now"])
        .await;
    m.wait_status(&id, "failed", Duration::from_secs(30)).await;
    let count = |what: &str| -> u32 {
        Command::new("dunstctl")
            .args(["count", what])
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count("displayed") + count("history") + count("waiting") == 0 {
        assert!(Instant::now() < deadline, "no desktop notification arrived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count("displayed") + count("history") + count("waiting"),
        1,
        "one notification for the post"
    );
    signal(&app, "TERM");
    wait_exit(&mut app, Duration::from_secs(30)).await;
    let _ = dunst.kill();
    let _ = dunst.wait();
}

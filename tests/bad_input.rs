//! Bad input gets a clear error (naming the field and the fix), exit code 2, and nothing is
//! half-written.

use outpost_e2e::{png, Machine};

async fn machine_with_account() -> Machine {
    let m = Machine::new().await;
    m.connect("alice.test").await;
    m
}

async fn refused(m: &Machine, args: &[&str], expect: &[&str]) {
    let r = m.run_async(args, None).await;
    assert_eq!(
        r.code, 2,
        "{args:?} should be refused as bad input; stderr: {} stdout: {}",
        r.stderr, r.stdout
    );
    for e in expect {
        assert!(
            r.stderr.contains(e),
            "{args:?}: error should mention {e:?}: {}",
            r.stderr
        );
    }
    let posts = m.json(&["posts", "list"]).await;
    assert_eq!(
        posts["posts"].as_array().map(|a| a.len()),
        Some(0),
        "nothing half-written after {args:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn times_that_cannot_be_used() {
    let m = machine_with_account().await;
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--at",
            "2020-01-01T00:00:00Z",
        ],
        &["--at", "past"],
    )
    .await;
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--at",
            "next tuesday",
        ],
        &["--at", "RFC 3339"],
    )
    .await;
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--at",
            "2030-03-31 02:30",
            "--tz",
            "Europe/Berlin",
        ],
        &["does not exist"],
    )
    .await;
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--at",
            "2030-10-27 02:30",
            "--tz",
            "Europe/Berlin",
        ],
        &["happens twice", "+02:00", "+01:00"],
    )
    .await;
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--at",
            "2030-01-01 10:00",
            "--tz",
            "Mars/Base",
        ],
        &["IANA"],
    )
    .await;
    refused(&m, &["post", "x", "--to", "bluesky:alice.test"], &["--at"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn content_over_the_networks_limits() {
    let m = machine_with_account().await;
    let long = "a".repeat(301);
    refused(
        &m,
        &["post", &long, "--to", "bluesky:alice.test", "--now"],
        &["Bluesky", "301", "300"],
    )
    .await;
    refused(
        &m,
        &["post", "   ", "--to", "bluesky:alice.test", "--now"],
        &["Bluesky", "empty"],
    )
    .await;
    let dir = m.data_dir().to_path_buf();
    let mut args: Vec<String> = ["post", "five", "--to", "bluesky:alice.test", "--now"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for i in 0..5 {
        let p = dir.join(format!("img{i}.png"));
        std::fs::write(&p, png(10, 10, 100)).expect("write");
        args.push("--media".into());
        args.push(p.display().to_string());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&m, &a, &["Bluesky", "5 images", "at most 4"]).await;
    let big = dir.join("big.png");
    std::fs::write(&big, png(2000, 2000, 1_200_000)).expect("write");
    refused(
        &m,
        &[
            "post",
            "big",
            "--to",
            "bluesky:alice.test",
            "--now",
            "--media",
            big.to_str().unwrap_or(""),
        ],
        &["big.png", "1000000"],
    )
    .await;
    let long_part = "b".repeat(400);
    refused(
        &m,
        &[
            "post",
            "ok",
            "--part",
            &long_part,
            "--to",
            "bluesky:alice.test",
            "--now",
        ],
        &["part 2"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn media_files_that_are_missing_or_broken() {
    let m = machine_with_account().await;
    let dir = m.data_dir().to_path_buf();
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--now",
            "--media",
            "/nonexistent/photo.jpg",
        ],
        &["photo.jpg", "does not exist"],
    )
    .await;
    let cut = dir.join("cut.png");
    let mut bytes = png(100, 100, 2000);
    bytes.truncate(bytes.len() - 30);
    std::fs::write(&cut, bytes).expect("write");
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--now",
            "--media",
            cut.to_str().unwrap_or(""),
        ],
        &["cut.png", "damaged"],
    )
    .await;
    let liar = dir.join("photo.jpg");
    std::fs::write(&liar, "<!DOCTYPE html><html><body>Not found</body></html>").expect("write");
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--now",
            "--media",
            liar.to_str().unwrap_or(""),
        ],
        &["photo.jpg", "HTML"],
    )
    .await;
    let empty = dir.join("empty.png");
    std::fs::write(&empty, b"").expect("write");
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--now",
            "--media",
            empty.to_str().unwrap_or(""),
        ],
        &["empty.png", "empty"],
    )
    .await;
    let a = dir.join("one.png");
    std::fs::write(&a, png(10, 10, 100)).expect("write");
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--now",
            "--media",
            a.to_str().unwrap_or(""),
            "--alt",
            "one",
            "--alt",
            "two",
        ],
        &["--alt"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_that_are_unknown_or_named_twice() {
    let m = machine_with_account().await;
    refused(
        &m,
        &["post", "x", "--to", "bluesky:bob.test", "--now"],
        &["unknown account", "bluesky:bob.test", "alice.test"],
    )
    .await;
    refused(
        &m,
        &[
            "post",
            "x",
            "--to",
            "bluesky:alice.test",
            "--to",
            "bluesky:alice.test",
            "--now",
        ],
        &["named twice"],
    )
    .await;
    refused(
        &m,
        &["post", "x", "--to", "myspace:tom", "--now"],
        &["unknown network"],
    )
    .await;
    refused(
        &m,
        &["post", "x", "--to", "alice.test", "--now"],
        &["NETWORK:HANDLE"],
    )
    .await;
    refused(&m, &["post", "x", "--now"], &["--to"]).await;
    // A wrong app password is refused and leaves no account behind.
    m.fake.add_account("carol.test", "right-password-1234");
    let r = m
        .run_async(
            &[
                "accounts",
                "add",
                "bluesky",
                "--handle",
                "carol.test",
                "--app-password-stdin",
            ],
            Some("wrong-password\n"),
        )
        .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("Bluesky") && !r.stderr.contains("wrong-password"),
        "{}",
        r.stderr
    );
    let accounts = m.json(&["accounts", "list"]).await;
    assert_eq!(accounts["accounts"].as_array().map(|a| a.len()), Some(1));
    // Unknown post ids.
    let r = m.run_async(&["posts", "show", "p_nope"], None).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("p_nope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_that_is_not_outposts_is_refused_untouched() {
    let m = Machine::new().await;
    let db = m.data_dir().join("outpost.db");
    std::fs::write(
        &db,
        "shopping list: eggs, milk, and a database that is not one at all....",
    )
    .expect("write");
    let before = std::fs::read(&db).expect("read");
    let r = m.run_async(&["posts", "list"], None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not an Outpost database"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&db).expect("read"),
        before,
        "the file must not be touched"
    );
    let r = m.run_async(&["--json", "status"], None).await;
    assert_eq!(r.code, 2);
    let err: serde_json::Value =
        serde_json::from_str(r.stderr.trim()).expect("JSON error on stderr with --json");
    assert_eq!(err["error"]["code"], "invalid_input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_output_of_post_and_list_is_stable() {
    let m = machine_with_account().await;
    let r = m
        .run_async(
            &[
                "--json",
                "post",
                "json please",
                "--to",
                "bluesky:alice.test",
                "--at",
                "2031-05-01 09:00",
            ],
            None,
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let id = v["post_id"].as_str().expect("post_id").to_string();
    assert_eq!(v["post"]["status"], "scheduled");
    assert_eq!(
        v["post"]["scheduled_at"], "2031-05-01T07:00:00Z",
        "09:00 in Berlin summer time"
    );
    assert_eq!(v["post"]["time_zone"], "Europe/Berlin");
    assert_eq!(v["post"]["targets"][0]["network"], "bluesky");
    assert_eq!(v["post"]["targets"][0]["state"], "scheduled");
    let list = m.json(&["posts", "list", "--status", "scheduled"]).await;
    assert_eq!(list["posts"][0]["id"], serde_json::json!(id));
    let r = m
        .run_async(
            &["posts", "reschedule", &id, "--at", "2031-05-02 10:00"],
            None,
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = m.run_async(&["posts", "cancel", &id], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(m.status_of(&id).await, "cancelled");
    let r = m.run_async(&["posts", "delete", &id], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = m
        .run_async(&["posts", "list", "--status", "bogus"], None)
        .await;
    assert_eq!(r.code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn output_to_a_closed_pipe_or_a_full_device_never_panics() {
    let m = machine_with_account().await;
    for i in 0..50 {
        m.post(&[
            &format!("post {i}"),
            "--to",
            "bluesky:alice.test",
            "--at",
            "2099-01-01T10:00",
        ])
        .await;
    }
    // `outpost posts list | head -0`: the reader is gone before the first line.
    let mut c = m.command(&["posts", "list"]);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Standard output on a full device: one clear line, exit 1.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut c = m.command(&["posts", "list"]);
    c.stdout(full).stderr(std::process::Stdio::piped());
    let out = c.output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: cannot write the output (No space left on device"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

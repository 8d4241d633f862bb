//! The media library through the `outpost` binary: files and URLs are copied in once, probed,
//! refused with a clear error when they are not media, and usable by id in a post.

use outpost_e2e::{png, Machine};
use std::time::Duration;

/// A local web server: /img.png (a PNG), /page (HTML), anything else 404.
async fn web() -> String {
    use axum::{http::header, response::IntoResponse, routing::get, Router};
    let app = Router::new()
        .route(
            "/img.png",
            get(|| async {
                ([(header::CONTENT_TYPE, "image/png")], png(64, 32, 2000)).into_response()
            }),
        )
        .route(
            "/page",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    "<!doctype html><html><body>hi</body></html>",
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn files_and_urls_enter_the_library_once_and_posts_use_them_by_id() {
    let m = Machine::new().await;
    let did = m.connect("alice.test").await;
    let file = m.data_dir().join("photo.png");
    std::fs::write(&file, png(640, 480, 5000)).expect("write");
    let a = m
        .run_async(&["media", "add", file.to_str().unwrap_or("")], None)
        .await;
    let b = m
        .run_async(&["media", "add", file.to_str().unwrap_or("")], None)
        .await;
    assert_eq!((a.code, b.code), (0, 0), "{} {}", a.stderr, b.stderr);
    assert_eq!(a.stdout, b.stdout, "the same file twice is stored once");
    assert!(file.exists(), "the original is never moved");
    let id = a.stdout.trim().to_string();
    let shown = m.json(&["media", "show", &id]).await;
    assert_eq!(shown["media"]["mime"], "image/png");
    assert_eq!(shown["media"]["width"], 640);
    assert_eq!(shown["media"]["height"], 480);
    let copy = shown["media"]["path"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        copy.starts_with(&m.data_dir().join("media").display().to_string()),
        "{copy}"
    );

    let base = web().await;
    let url = m
        .run_async(
            &["--json", "media", "add", &format!("{base}/img.png")],
            None,
        )
        .await;
    assert_eq!(url.code, 0, "{}", url.stderr);
    assert_eq!(url.json()["media"]["width"], 64);
    let list = m.json(&["media", "list"]).await;
    assert_eq!(list["media"].as_array().map(|a| a.len()), Some(2));

    let missing = m
        .run_async(&["media", "add", &format!("{base}/gone.png")], None)
        .await;
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("404") && missing.stderr.contains("gone.png"),
        "{}",
        missing.stderr
    );
    let html = m
        .run_async(&["media", "add", &format!("{base}/page")], None)
        .await;
    assert_eq!(html.code, 2);
    assert!(
        html.stderr.to_lowercase().contains("html"),
        "{}",
        html.stderr
    );

    let id_post = m
        .post(&[
            "by media id",
            "--to",
            "bluesky:alice.test",
            "--now",
            "--media",
            &id,
            "--alt",
            "a photo",
        ])
        .await;
    let url_post = m
        .post(&[
            "by URL",
            "--to",
            "bluesky:alice.test",
            "--now",
            "--media",
            &format!("{base}/img.png"),
        ])
        .await;
    let r = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    m.wait_status(&id_post, "published", Duration::from_secs(1))
        .await;
    m.wait_status(&url_post, "published", Duration::from_secs(1))
        .await;
    let recs = m.fake.records(&did);
    assert_eq!(recs.len(), 2);
    assert!(recs
        .iter()
        .any(|r| r.value["embed"]["images"][0]["alt"] == "a photo"));
    let unknown = m
        .run_async(
            &[
                "post",
                "x",
                "--to",
                "bluesky:alice.test",
                "--now",
                "--media",
                "abcdef123456",
            ],
            None,
        )
        .await;
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no such media id"),
        "{}",
        unknown.stderr
    );
}

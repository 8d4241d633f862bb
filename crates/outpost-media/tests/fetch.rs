//! Adding media from a URL, against a local server that serves an image, a video, a 404, a
//! slow answer, an HTML page (announced, and disguised as a JPEG), a server that refuses HEAD,
//! a 503 and an endless body.

mod common;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use common::*;
use outpost_media::{check_url, CheckMethod, FetchOptions, MediaError, MediaLibrary};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

struct Server {
    base: String,
    seen: Seen,
}

async fn serve() -> Server {
    let seen = Seen::default();
    let image = png(64, 48);
    let video = Mp4::new(2, vec![Mp4Track::video(b"avc1", 640, 360, 2, 24)]).build();
    let app = Router::new()
        .route(
            "/img.png",
            get({
                let image = image.clone();
                move || async move { ([(header::CONTENT_TYPE, "image/png")], image) }
            }),
        )
        .route(
            "/clip.mp4",
            get(move || async move { ([(header::CONTENT_TYPE, "video/mp4")], video) }),
        )
        .route("/missing.png", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/slow.png",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                StatusCode::OK
            }),
        )
        .route(
            "/page",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<!doctype html><html><body><img src=a.png></body></html>",
                )
            }),
        )
        .route(
            "/disguised.jpg",
            get(|| async {
                let page = format!(
                    "<!DOCTYPE html><html><body>{}</body></html>",
                    "x".repeat(2000)
                );
                ([(header::CONTENT_TYPE, "image/jpeg")], page)
            }),
        )
        .route(
            "/busy.png",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route(
            "/nohead.png",
            any({
                let image = image.clone();
                move |State(seen): State<Seen>, method: Method, headers: HeaderMap| {
                    let image = image.clone();
                    async move { no_head(seen, method, headers, image) }
                }
            }),
        )
        .route(
            "/endless.png",
            get(|| async {
                // A PNG signature, then more and more bytes without a length.
                let first = futures_chunk(png(2, 2)[..16].to_vec());
                let rest = std::iter::repeat_with(|| futures_chunk(vec![0u8; 64 * 1024])).take(200);
                let stream = tokio_stream_iter(std::iter::once(first).chain(rest));
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    Body::from_stream(stream),
                )
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server");
    });
    Server {
        base: format!("http://{addr}"),
        seen,
    }
}

fn futures_chunk(v: Vec<u8>) -> Result<Vec<u8>, std::io::Error> {
    Ok(v)
}

fn tokio_stream_iter<I: Iterator<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static>(
    it: I,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::iter(it)
}

fn no_head(seen: Seen, method: Method, headers: HeaderMap, image: Vec<u8>) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.0
        .lock()
        .expect("lock")
        .push(format!("{method} {}", range.clone().unwrap_or_default()));
    if method == Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if range.as_deref() == Some("bytes=0-0") {
        return (
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, "image/png".to_string()),
                (header::CONTENT_RANGE, format!("bytes 0-0/{}", image.len())),
            ],
            image[..1].to_vec(),
        )
            .into_response();
    }
    ([(header::CONTENT_TYPE, "image/png")], image).into_response()
}

fn options() -> FetchOptions {
    FetchOptions {
        timeout: Duration::from_secs(1),
        max_bytes: 1024 * 1024,
        allow_http: true,
    }
}

fn library() -> (tempfile::TempDir, MediaLibrary) {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = MediaLibrary::open(dir.path()).expect("library");
    (dir, lib)
}

fn leftovers(lib: &MediaLibrary) -> Vec<String> {
    std::fs::read_dir(lib.dir())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn an_image_url_is_checked_then_downloaded_into_the_library() {
    let s = serve().await;
    let (_d, lib) = library();
    let url = format!("{}/img.png", s.base);
    let check = check_url(&url, &options()).await.expect("check");
    assert_eq!(check.method, CheckMethod::Head);
    assert_eq!(check.status, 200);
    assert_eq!(check.content_type.as_deref(), Some("image/png"));
    assert_eq!(check.content_length, Some(png(64, 48).len() as u64));

    let (_, item) = lib.add_url(&url, &options()).await.expect("download");
    assert_eq!(item.mime, "image/png");
    assert_eq!((item.width, item.height), (Some(64), Some(48)));
    assert_eq!(std::fs::read(&item.path).expect("copy"), png(64, 48));
    let (_, again) = lib.add_url(&url, &options()).await.expect("again");
    assert_eq!(again.path, item.path, "same content, same file");
    assert_eq!(leftovers(&lib).len(), 1);
}

#[tokio::test]
async fn a_video_url_is_probed_after_download() {
    let s = serve().await;
    let (_d, lib) = library();
    let (_, item) = lib
        .add_url(&format!("{}/clip.mp4", s.base), &options())
        .await
        .expect("download");
    assert_eq!(item.mime, "video/mp4");
    assert_eq!(item.duration_ms, Some(2000));
}

#[tokio::test]
async fn a_server_that_refuses_head_is_checked_with_a_ranged_get() {
    let s = serve().await;
    let url = format!("{}/nohead.png", s.base);
    let check = check_url(&url, &options()).await.expect("check");
    assert_eq!(check.method, CheckMethod::RangedGet);
    assert_eq!(check.status, 206);
    assert_eq!(
        check.content_length,
        Some(png(64, 48).len() as u64),
        "total from Content-Range"
    );
    let seen = s.seen.0.lock().expect("lock").clone();
    assert_eq!(seen, vec!["HEAD ".to_string(), "GET bytes=0-0".to_string()]);
    let (_d, lib) = library();
    let (_, item) = lib.add_url(&url, &options()).await.expect("download");
    assert_eq!(item.width, Some(64));
}

#[tokio::test]
async fn a_404_is_refused_naming_the_url() {
    let s = serve().await;
    let url = format!("{}/missing.png", s.base);
    let e = check_url(&url, &options()).await.expect_err("404");
    assert!(
        matches!(e, MediaError::UrlNotFound { status: 404, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains(&url) && msg.contains("Not Found"), "{msg}");
    assert!(!e.is_transient());
}

#[tokio::test]
async fn a_slow_server_times_out_and_may_be_retried() {
    let s = serve().await;
    let (_d, lib) = library();
    let url = format!("{}/slow.png", s.base);
    let started = std::time::Instant::now();
    let e = lib.add_url(&url, &options()).await.expect_err("timeout");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up after the timeout"
    );
    assert!(matches!(e, MediaError::UrlTimeout { .. }), "{e}");
    assert!(e.to_string().contains(&url), "{e}");
    assert!(e.is_transient());
    assert!(leftovers(&lib).is_empty());
}

#[tokio::test]
async fn the_default_timeout_is_five_seconds() {
    assert_eq!(FetchOptions::default().timeout, Duration::from_secs(5));
    assert!(!FetchOptions::default().allow_http);
}

#[tokio::test]
async fn an_html_page_is_refused_by_type_and_by_content() {
    let s = serve().await;
    let (_d, lib) = library();
    let url = format!("{}/page", s.base);
    let e = check_url(&url, &options()).await.expect_err("HTML");
    assert!(matches!(e, MediaError::UrlIsHtml { .. }), "{e}");
    assert!(e.to_string().contains("web page"), "{e}");

    let url = format!("{}/disguised.jpg", s.base);
    check_url(&url, &options())
        .await
        .expect("the headers look fine");
    let e = lib.add_url(&url, &options()).await.expect_err("HTML bytes");
    assert!(matches!(e, MediaError::UrlIsHtml { .. }), "{e}");
    assert!(e.to_string().contains(&url));
    assert!(leftovers(&lib).is_empty());
}

#[tokio::test]
async fn a_server_error_is_transient() {
    let s = serve().await;
    let e = check_url(&format!("{}/busy.png", s.base), &options())
        .await
        .expect_err("503");
    assert!(
        matches!(e, MediaError::UrlStatus { status: 503, .. }),
        "{e}"
    );
    assert!(e.is_transient());
}

#[tokio::test]
async fn downloads_are_capped_even_without_a_length() {
    let s = serve().await;
    let (_d, lib) = library();
    let e = lib
        .add_url(&format!("{}/endless.png", s.base), &options())
        .await
        .expect_err("too large");
    assert!(
        matches!(e, MediaError::TooLarge { limit: 1048576, .. }),
        "{e}"
    );
    assert!(
        leftovers(&lib).is_empty(),
        "the partial download is removed"
    );

    let small = FetchOptions {
        max_bytes: 100,
        ..options()
    };
    let e = check_url(&format!("{}/img.png", s.base), &small)
        .await
        .expect_err("announced size too large");
    assert!(matches!(e, MediaError::TooLarge { .. }), "{e}");
}

#[tokio::test]
async fn nothing_listening_is_a_transient_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let e = check_url(&format!("http://127.0.0.1:{port}/a.png"), &options())
        .await
        .expect_err("refused");
    assert!(matches!(e, MediaError::UrlConnect { .. }), "{e}");
    assert!(e.is_transient());
}

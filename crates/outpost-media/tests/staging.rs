//! Staging against a real S3-compatible server on loopback (s3s-fs, which checks SigV4
//! signatures): start it with `eval "$(scripts/s3-test-server.sh start)"`.
//!
//! Without `OUTPOST_TEST_S3_ENDPOINT` these tests print "skipped" and pass — unless
//! `OUTPOST_TEST_S3_REQUIRED=1`, when they fail (CI sets it so a missing server is noticed).

mod common;

use chrono::Utc;
use common::*;
use outpost_auth::{account_key, MemoryStore, Secret, SecretStore};
use outpost_media::{
    LibraryItem, MediaError, MediaLibrary, Staging, StagingConfig, StagingLedger, TargetPhase,
    ACCESS_KEY_ID, SECRET_ACCESS_KEY, STAGING_ACCOUNT,
};
use std::collections::HashSet;
use std::time::Duration;

struct Env {
    endpoint: String,
    public_url: String,
    bucket: String,
    key_id: String,
    secret: String,
}

fn env() -> Option<Env> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(endpoint) = var("OUTPOST_TEST_S3_ENDPOINT") else {
        if var("OUTPOST_TEST_S3_REQUIRED").as_deref() == Some("1") {
            panic!("OUTPOST_TEST_S3_REQUIRED=1 but OUTPOST_TEST_S3_ENDPOINT is not set: run eval \"$(scripts/s3-test-server.sh start)\" first");
        }
        eprintln!("skipped: start scripts/s3-test-server.sh");
        return None;
    };
    let required = |k: &str| {
        var(k)
            .unwrap_or_else(|| panic!("{k} is not set (scripts/s3-test-server.sh start prints it)"))
    };
    Some(Env {
        endpoint,
        public_url: required("OUTPOST_TEST_S3_PUBLIC_URL"),
        bucket: var("OUTPOST_TEST_S3_BUCKET").unwrap_or_else(|| "outpost-test".into()),
        key_id: required("OUTPOST_TEST_S3_ACCESS_KEY_ID"),
        secret: required("OUTPOST_TEST_S3_SECRET_ACCESS_KEY"),
    })
}

/// Each test works under its own prefix, so sweeps in parallel tests never meet.
fn config(env: &Env, public: bool) -> StagingConfig {
    StagingConfig {
        endpoint: env.endpoint.clone(),
        bucket: env.bucket.clone(),
        region: "us-east-1".into(),
        prefix: format!("outpost-staging/{}", hex::encode(rand::random::<[u8; 6]>())),
        public_base_url: public.then(|| env.public_url.clone()),
        presign_expiry: Duration::from_secs(3600),
        path_style: true,
    }
}

fn staging(env: &Env, config: StagingConfig) -> Staging {
    Staging::with_credentials(
        config,
        &Secret::new(env.key_id.clone()),
        &Secret::new(env.secret.clone()),
    )
    .expect("valid settings")
}

fn item(dir: &std::path::Path, name: &str, bytes: &[u8]) -> LibraryItem {
    let lib = MediaLibrary::open(dir).expect("library");
    lib.add_file(&write(dir, name, bytes)).expect("add")
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("GET")
}

#[tokio::test]
async fn the_connection_test_passes_with_the_right_keys_from_the_secret_store() {
    let Some(env) = env() else { return };
    let secrets = MemoryStore::new();
    secrets
        .set(
            &account_key(STAGING_ACCOUNT, ACCESS_KEY_ID),
            &Secret::new(env.key_id.clone()),
        )
        .expect("save");
    secrets
        .set(
            &account_key(STAGING_ACCOUNT, SECRET_ACCESS_KEY),
            &Secret::new(env.secret.clone()),
        )
        .expect("save");
    let s = Staging::new(config(&env, false), &secrets).expect("settings");
    s.test_connection().await.expect("connection works");
    let report = s
        .sweep(
            Utc::now() + chrono::Duration::days(9),
            Duration::ZERO,
            &HashSet::new(),
        )
        .await
        .expect("sweep");
    assert!(
        report.removed.is_empty(),
        "the canary was deleted: {report:?}"
    );
}

#[tokio::test]
async fn wrong_keys_fail_the_connection_test_with_a_clear_message() {
    let Some(env) = env() else { return };
    let cfg = config(&env, false);
    let s = Staging::with_credentials(
        cfg,
        &Secret::new(env.key_id.clone()),
        &Secret::new("wrong-secret"),
    )
    .expect("settings");
    let e = s.test_connection().await.expect_err("wrong secret");
    assert!(matches!(e, MediaError::StagingAuth { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&env.endpoint), "names the endpoint: {msg}");
    assert!(msg.contains(&env.bucket), "names the bucket: {msg}");
    assert!(msg.contains("check the access key and secret"), "{msg}");
    assert!(
        !msg.contains("wrong-secret"),
        "never shows the secret: {msg}"
    );
    assert!(!e.is_transient());

    let s = Staging::with_credentials(
        config(&env, false),
        &Secret::new("nobody"),
        &Secret::new(env.secret.clone()),
    )
    .expect("settings");
    let e = s.test_connection().await.expect_err("unknown key id");
    assert!(matches!(e, MediaError::StagingAuth { .. }), "{e:?}");
}

#[tokio::test]
async fn a_missing_bucket_is_named() {
    let Some(env) = env() else { return };
    let mut cfg = config(&env, false);
    cfg.bucket = format!("no-such-bucket-{}", hex::encode(rand::random::<[u8; 4]>()));
    let cfg_bucket = cfg.bucket.clone();
    let e = staging(&env, cfg)
        .test_connection()
        .await
        .expect_err("no bucket");
    assert!(
        matches!(e, MediaError::StagingBucketMissing { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains(&cfg_bucket), "{e}");
}

#[tokio::test]
async fn a_staged_file_is_served_at_its_public_url_with_its_type() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = item(dir.path(), "photo.jpg", &jpeg(64, 64));
    let s = staging(&env, config(&env, true));
    let staged = s.stage(&photo).await.expect("stage");
    assert!(staged.key.starts_with(&s.config().prefix), "{}", staged.key);
    assert!(staged.key.ends_with(".jpg"));
    assert_eq!(staged.url, format!("{}/{}", env.public_url, staged.key));
    assert_eq!(staged.expires_at, None, "public URLs do not expire");

    let resp = get(&staged.url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(resp.bytes().await.expect("body").to_vec(), jpeg(64, 64));

    // The import check agrees: a network's crawler would see an image.
    let check = outpost_media::check_url(
        &staged.url,
        &outpost_media::FetchOptions {
            allow_http: true,
            ..Default::default()
        },
    )
    .await
    .expect("check");
    assert_eq!(check.content_type.as_deref(), Some("image/jpeg"));

    s.delete(&staged.key).await.expect("delete");
    assert_eq!(get(&staged.url).await.status(), 404, "gone after delete");
    s.delete(&staged.key).await.expect("deleting twice is fine");
    let e = s
        .delete("elsewhere/file.jpg")
        .await
        .expect_err("outside the prefix");
    assert!(e.to_string().contains("not under"), "{e}");
}

#[tokio::test]
async fn a_presigned_url_works_and_a_tampered_one_does_not() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = Mp4::new(1, vec![Mp4Track::video(b"avc1", 320, 240, 1, 10)]).build();
    let video = item(dir.path(), "clip.mp4", &clip);
    let s = staging(&env, config(&env, false));
    let before = Utc::now();
    let staged = s.stage(&video).await.expect("stage");
    let expires = staged.expires_at.expect("presigned URLs expire");
    let lifetime = (expires - before).num_seconds();
    assert!(
        (3595..=3605).contains(&lifetime),
        "valid for presign_expiry: {lifetime}"
    );
    assert!(staged.url.contains("X-Amz-Signature="), "{}", staged.url);
    assert_eq!(staged.content_type, "video/mp4");

    let resp = get(&staged.url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    assert_eq!(resp.bytes().await.expect("body").to_vec(), clip);

    // Flip the last hex digit of the signature.
    let mut tampered = staged.url.clone();
    let last = tampered.pop().expect("non-empty");
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        get(&tampered).await.status(),
        403,
        "a changed signature is refused"
    );
    // Another key with the same signature.
    let other = staged.url.replacen(".mp4?", ".jpg?", 1);
    assert_eq!(
        get(&other).await.status(),
        403,
        "a signature covers one key only"
    );
    // Without any signature the bucket is private.
    let bare = staged.url.split('?').next().expect("path").to_string();
    assert_eq!(get(&bare).await.status(), 403);
    s.delete(&staged.key).await.expect("delete");
}

#[tokio::test]
async fn large_files_are_uploaded_in_parts_intact() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    // 20 MiB: three 8 MiB parts. A valid MP4 whose mdat is big.
    let mut mp4 = Mp4::new(1, vec![Mp4Track::video(b"avc1", 320, 240, 1, 10)]);
    mp4.mdat_len = 20 * 1024 * 1024;
    let bytes: Vec<u8> = mp4.build();
    let big = item(dir.path(), "big.mp4", &bytes);
    let s = staging(&env, config(&env, true));
    let staged = s.stage(&big).await.expect("stage");
    assert_eq!(staged.bytes, bytes.len() as u64);
    let body = get(&staged.url).await.bytes().await.expect("body");
    assert_eq!(
        outpost_core::media::sha256_hex(&body),
        big.sha256,
        "the same bytes came back"
    );
    s.delete(&staged.key).await.expect("delete");
}

#[tokio::test]
async fn a_sweep_removes_old_leftovers_only() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let a = item(dir.path(), "a.png", &png(5, 5));
    let cfg = config(&env, true);
    let s = staging(&env, cfg.clone());
    let old = s.stage(&a).await.expect("stage");
    let old_but_live = s.stage(&a).await.expect("stage");
    // A neighbour outside our prefix must never be touched.
    let mut neighbour_cfg = cfg.clone();
    neighbour_cfg.prefix = format!("{}-other", cfg.prefix);
    let neighbour = staging(&env, neighbour_cfg);
    let theirs = neighbour.stage(&a).await.expect("stage");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let new = s.stage(&a).await.expect("stage");

    let mut ledger = StagingLedger::new();
    ledger.attach(&old_but_live.key, "threads-target");
    ledger.set_phase("threads-target", TargetPhase::InDoubt);
    let keep: HashSet<String> = ledger.live_keys().into_iter().collect();

    let report = s
        .sweep(Utc::now(), Duration::from_secs(2), &keep)
        .await
        .expect("sweep");
    assert_eq!(report.removed, vec![old.key.clone()], "{report:?}");
    assert_eq!(report.kept, 2);
    assert_eq!(get(&old.url).await.status(), 404);
    assert_eq!(get(&new.url).await.status(), 200, "recent objects stay");
    assert_eq!(
        get(&old_but_live.url).await.status(),
        200,
        "in-doubt targets keep theirs"
    );
    assert_eq!(
        get(&theirs.url).await.status(),
        200,
        "other prefixes are not ours"
    );

    // Once the target is terminal the ledger lets it go.
    ledger.set_phase("threads-target", TargetPhase::Published);
    for key in ledger.deletable() {
        s.delete(&key).await.expect("delete");
        ledger.forget(&key);
    }
    assert_eq!(get(&old_but_live.url).await.status(), 404);
    for (st, key) in [(&s, &new.key), (&neighbour, &theirs.key)] {
        st.delete(key).await.expect("clean up");
    }
}

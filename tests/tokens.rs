//! Token lifecycle through the `outpost` binary: two agents sharing one database refresh an
//! expiring X token once (single-use rotating refresh tokens must not be spent twice), and a
//! LinkedIn token that cannot be refreshed is announced a week before it expires.

use outpost_e2e::Machine;
use outpost_testkit::linkedin::{LinkedInConfig, LinkedInFake};
use outpost_testkit::x::{Endpoint, XConfig, XFake, DEFAULT_CLIENT_ID};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_agents_refresh_an_expiring_token_once_and_both_keep_publishing() {
    let mut m = Machine::new().await;
    let x = XFake::start(XConfig::default()).await;
    m.set_var("OUTPOST_X_BASE_URL", &x.base_url());
    let r = m
        .run_async(
            &["apps", "set", "x", "--client-id", DEFAULT_CLIENT_ID],
            None,
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_user, tokens) = x.create_user_with_tokens("alice");
    // Imported as expiring in 60 s: inside X's refresh margin (10 min), so the first agent to
    // publish refreshes before posting.
    let json = serde_json::json!({
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_in": 60,
        "scope": tokens.scope,
    })
    .to_string();
    let r = m
        .run_async(&["accounts", "add", "x", "--token-stdin"], Some(&json))
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            m.post(&[
                &format!("post {i} from two agents"),
                "--to",
                "x:alice",
                "--now",
            ])
            .await,
        );
    }
    let mut a = m.spawn_agent(&[]);
    let mut b = m.spawn_agent(&[]);
    for id in &ids {
        m.wait_status(id, "published", Duration::from_secs(30))
            .await;
    }
    for child in [&mut a, &mut b] {
        outpost_e2e::signal(child, "TERM");
        outpost_e2e::wait_exit(child, Duration::from_secs(10)).await;
    }
    assert_eq!(
        x.count(Endpoint::Token),
        1,
        "one refresh grant for the account, whichever agent got there first"
    );
    assert_eq!(x.tweets().len(), 6, "every post once");
    let acc = m.json(&["accounts", "list"]).await;
    assert_eq!(acc["accounts"][0]["status"], "active");
    assert!(
        !x.refresh_token_is_live(tokens.refresh_token.as_deref().unwrap_or_default()),
        "the old refresh token was rotated out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_linkedin_token_that_cannot_be_refreshed_is_announced_a_week_ahead() {
    let mut m = Machine::new().await;
    let li = LinkedInFake::start(LinkedInConfig::default()).await;
    m.set_var("OUTPOST_LINKEDIN_BASE_URL", &li.base_url());
    let sub = li.add_member("Lena");
    let tokens = li.issue_tokens(&sub, &["openid", "profile", "w_member_social"], false);
    let json = serde_json::json!({
        "access_token": tokens.access_token,
        "expires_in": 3 * 86_400,
    })
    .to_string();
    let r = m
        .run_async(
            &["--json", "accounts", "add", "linkedin", "--token-stdin"],
            Some(&json),
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let handle = r.json()["account"]["handle"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let acc = m.json(&["accounts", "list"]).await;
    let a = &acc["accounts"][0];
    assert_eq!(a["status"], "active", "still usable until it expires: {a}");
    let reason = a["status_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("expires on") && reason.contains("(2 days)") || reason.contains("(3 days)"),
        "{reason}"
    );
    assert!(reason.contains("reconnect"), "{reason}");
    assert!(reason.contains(&format!("linkedin:{handle}")), "{reason}");
    // Announced once: a second run does not repeat it (the log has one warning line).
    let r2 = m.run_async(&["agent", "--once"], None).await;
    assert_eq!(r2.code, 0);
    assert!(
        !r2.stderr.contains("cannot be refreshed"),
        "already announced: {}",
        r2.stderr
    );
    assert!(r.stderr.contains("cannot be refreshed"), "{}", r.stderr);
}

//! Publishing one claimed target: checks, reconciliation, the attempt itself, and deciding
//! what happens next from the error class the network module chose.

use crate::{blocking, chrono_dur, Engine, Event};
use chrono::{DateTime, Utc};
use outpost_core::error::{sanitize_message, MAX_NETWORK_ERROR_CHARS};
use outpost_core::ids::idempotency_key;
use outpost_core::retry::{catch_up, default_quotas, BreakerDecision, CatchUp};
use outpost_core::{Account, AccountStatus, ErrorClass, Network, PublishError, Target};
use outpost_networks::{Lookup, MediaByUrl, PartOutcome, PartRequest, Publisher};
use outpost_store::{AttemptEnd, Transition};
use rand::SeedableRng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the worker decided; applied to the store in one place.
enum Outcome {
    Done,
    Move(Transition),
}

pub(crate) async fn process(engine: &Engine, target: Target, window: Duration) {
    let span = tracing::info_span!(
        "target",
        post_id = %target.post_id,
        target = %target.id,
        network = %target.network,
        account = %target.account_address,
    );
    let outcome = {
        use tracing::Instrument;
        run(engine, &target, window).instrument(span.clone()).await
    };
    let inner = &engine.inner;
    let now = inner.clock.now();
    let transition = match outcome {
        Ok(Outcome::Done) => None,
        Ok(Outcome::Move(t)) => Some(t),
        Err(e) => {
            // The store failed under us (disk full, database gone): give the target back
            // for a later try; never mark it failed because of our own trouble.
            tracing::error!(parent: &span, error = %e, "store error while publishing; will retry");
            Some(Transition::Retry {
                at: now + chrono::Duration::seconds(30),
                reason: format!("Outpost could not write its database: {e}"),
                error: None,
                class: None,
                count_attempt: false,
            })
        }
    };
    if let Some(t) = transition {
        let (id, runner) = (target.id.clone(), inner.runner_id.clone());
        match blocking(&inner.store, move |s| s.transition(&id, &runner, &t, now)).await {
            Ok(updated) => emit_target(engine, updated),
            Err(e) => {
                tracing::warn!(parent: &span, error = %e, "could not record the target's new state")
            }
        }
    } else if let Ok(Some(updated)) = {
        let id = target.id.clone();
        blocking(&inner.store, move |s| s.target(&id)).await
    } {
        emit_target(engine, updated);
    }
}

fn emit_target(engine: &Engine, t: Target) {
    tracing::info!(
        post_id = %t.post_id,
        network = %t.network,
        account = %t.account_address,
        state = %t.state,
        attempts = t.attempts,
        error = t.last_error.as_deref().unwrap_or(""),
        "target changed"
    );
    let _ = engine.inner.events.send(Event::TargetChanged {
        post_id: t.post_id.clone(),
        target: Box::new(t),
    });
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

async fn run(
    engine: &Engine,
    target: &Target,
    window: Duration,
) -> Result<Outcome, crate::EngineError> {
    let inner = &engine.inner;
    let store = &inner.store;
    let clock = &inner.clock;
    let now = clock.now();
    let name = target.network.display_name();

    let post = {
        let id = target.post_id.clone();
        blocking(store, move |s| s.post(&id)).await?
    };
    let Some(post) = post else {
        return Ok(Outcome::Move(failed(
            format!("{name}: the post was deleted"),
            "permanent",
        )));
    };
    let account = {
        let id = target.account_id.clone();
        blocking(store, move |s| s.account(&id)).await?
    };
    let Some(account) = account else {
        return Ok(Outcome::Move(failed(
            format!("{name}: the account was removed — choose another account and retry"),
            "permanent",
        )));
    };
    if account.status != AccountStatus::Active {
        let reason = account.status_reason.clone().unwrap_or_else(|| {
            format!(
                "{name}: account {} needs reconnecting — reconnect it, then retry",
                account.address()
            )
        });
        return Ok(Outcome::Move(failed(reason, "reauth")));
    }
    let Some(publisher) = inner.publishers.get(&target.network).cloned() else {
        return Ok(Outcome::Move(failed(
            format!("{name}: publishing to {name} is not available in this version of Outpost"),
            "permanent",
        )));
    };

    // Two-phase work that never finishes, or that the network let expire.
    if let Some(since) = target.processing_since {
        if now - since > chrono_dur(inner.config.processing_timeout) {
            return Ok(Outcome::Move(failed(
                format!(
                    "{name}: processing timed out after {} minutes — retry to upload again",
                    inner.config.processing_timeout.as_secs() / 60
                ),
                "permanent",
            )));
        }
    }
    if let Some(expiry) = target
        .phase
        .as_ref()
        .and_then(|p| p.get("expires_at"))
        .and_then(|v| v.as_str())
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
    {
        if now > expiry.with_timezone(&Utc) {
            return Ok(Outcome::Move(failed(
                format!("{name}: the upload expired on {name}'s side before it could be published (containers expired) — retry to upload again"),
                "permanent",
            )));
        }
    }

    // Catch-up: a post that became due while nothing ran, and never started.
    let untouched = target.attempts == 0 && target.progress.is_empty() && {
        let id = target.id.clone();
        blocking(store, move |s| s.attempts(&id)).await?.is_empty()
    };
    if let Some(due) = target.due_at {
        if untouched && catch_up(now, due, window) == CatchUp::Missed {
            let late = (now - due).num_minutes();
            return Ok(Outcome::Move(Transition::Missed {
                reason: format!(
                    "{name}: missed — it was due at {} and Outpost was not running ({late} min late, beyond the {} min catch-up window); publish now, reschedule or cancel",
                    fmt_time(due),
                    window.as_secs() / 60
                ),
            }));
        }
    }

    // Check again right before publishing: the files may have changed since scheduling, and
    // the post must still fit the network's limits. Not while the network is processing what
    // was already sent (the files went out already).
    if target.phase.is_none() {
        let (content, acct, from) = (post.content.clone(), account.clone(), target.progress.len());
        let checked = blocking(store, move |s| {
            Ok(crate::media::recheck_before_publish(
                s, &content, &acct, from,
            ))
        })
        .await?;
        if let Err(problem) = checked {
            tracing::warn!(reason = %problem, "refused before publishing");
            return Ok(Outcome::Move(failed(problem, "permanent")));
        }
    }

    // Circuit breakers: the network, then the account.
    for scope in [
        format!("network:{}", target.network),
        format!("account:{}", account.id),
    ] {
        let s2 = scope.clone();
        let state = blocking(store, move |s| s.breaker(&s2)).await?;
        match state.decide(now) {
            BreakerDecision::Closed => {}
            BreakerDecision::Open { until } => {
                return Ok(Outcome::Move(wait(
                    until,
                    format!(
                        "{name} is failing repeatedly; Outpost pauses calls to it until {}",
                        fmt_time(until)
                    ),
                )));
            }
            BreakerDecision::Probe => {
                if !probe(engine, &publisher, &account, &scope).await? {
                    let s3 = scope.clone();
                    let st = blocking(store, move |s| s.breaker(&s3)).await?;
                    let until = st.open_until.unwrap_or(now);
                    return Ok(Outcome::Move(wait(
                        until,
                        format!("{name} is still failing; next check at {}", fmt_time(until)),
                    )));
                }
            }
        }
    }

    // Quotas: documented per-account caps over rolling windows.
    let quotas = inner
        .config
        .quotas
        .get(&target.network)
        .cloned()
        .unwrap_or_else(|| default_quotas(target.network));
    for q in quotas {
        let since = now - chrono_dur(q.window);
        let id = account.id.clone();
        let (used, oldest) = blocking(store, move |s| s.published_count(&id, since)).await?;
        if used >= q.max {
            let until = oldest
                .map(|o| o + chrono_dur(q.window))
                .unwrap_or(now + chrono_dur(q.window));
            return Ok(Outcome::Move(wait(
                until,
                format!(
                    "{name}: limit reached for {} ({used} of {} — {}); waiting until {}",
                    account.address(),
                    q.max,
                    q.source,
                    fmt_time(until)
                ),
            )));
        }
    }

    // Wait for this network's concurrency slot (the lease is renewed meanwhile).
    let _permit = match inner.network_permits.get(&target.network) {
        Some(s) => Some(
            s.clone()
                .acquire_owned()
                .await
                .map_err(|e| crate::EngineError::Join(e.to_string()))?,
        ),
        None => None,
    };

    // OAuth accounts: a token about to expire is refreshed first (one refresher per account
    // across processes), and the account is verified as still connected and authorised with
    // a cheap read (at most every 10 minutes per account).
    let issued_at = match crate::tokens::ensure_fresh(engine, &publisher, &account).await {
        Ok(v) => v,
        Err(e) => {
            return Ok(Outcome::Move(
                after_error(engine, target, &account, e, false).await?,
            ))
        }
    };
    if issued_at.is_some() && target.phase.is_none() {
        let now = clock.now();
        let recent = {
            let verified = inner.verified.lock().unwrap_or_else(|p| p.into_inner());
            verified
                .get(&account.id)
                .is_some_and(|at| now - *at < chrono::Duration::minutes(10))
        };
        if !recent {
            match publisher.probe(&account).await {
                Ok(()) => {
                    inner
                        .verified
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(account.id.clone(), now);
                }
                Err(e) if e.class == ErrorClass::Reauth => {
                    // One refresh, then the verdict.
                    let retried = match crate::tokens::refresh_locked(
                        engine, &publisher, &account, issued_at,
                    )
                    .await
                    {
                        Ok(()) => publisher.probe(&account).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = retried {
                        return Ok(Outcome::Move(
                            after_error(engine, target, &account, e, false).await?,
                        ));
                    }
                }
                Err(e) => {
                    return Ok(Outcome::Move(
                        after_error(engine, target, &account, e, false).await?,
                    ))
                }
            }
        }
    }

    let parts = post.content.parts_for(target.network);
    let options = post
        .content
        .options_for(target.network, &target.account_address);
    let first_comment = post.content.first_comment.as_deref();
    let mut progress = target.progress.clone();
    let phase = target.phase.clone();
    let mut refreshed = false;
    let mut reconciled_once = false;
    let mut i = progress.len();
    while i < parts.len() {
        let last = i + 1 == parts.len();
        let key = idempotency_key(&post.id, target.network.as_str(), &account.id, i);

        // An attempt in doubt is reconciled before anything else.
        let doubt = {
            let id = target.id.clone();
            blocking(store, move |s| s.in_doubt_attempt(&id, i)).await?
        };
        if let Some(att) = doubt {
            let req = PartRequest {
                post_id: &post.id,
                target_id: &target.id,
                account: &account,
                part_index: i,
                part: &parts[i],
                previous: &progress,
                client_handle: att.client_handle.as_deref(),
                intent_at: att.intent_at,
                options: &options,
                first_comment,
                scheduled_at: post.scheduled_at,
            };
            let mut found = publisher.lookup(&req).await;
            if matches!(&found, Err(e) if e.class == ErrorClass::Reauth) && !refreshed {
                // An expired token must not hide a post that went out: renew once, ask again.
                refreshed = true;
                if crate::tokens::refresh_locked(engine, &publisher, &account, issued_at)
                    .await
                    .is_ok()
                {
                    found = publisher.lookup(&req).await;
                }
            }
            let now = clock.now();
            match found {
                Ok(Lookup::Found(published)) => {
                    tracing::info!(attempt = att.try_no, remote = %published.remote_id, "reconciled: the earlier attempt was published");
                    let (id, r, p) = (
                        target.id.clone(),
                        inner.runner_id.clone(),
                        published.clone(),
                    );
                    let rid = published.remote_id.clone();
                    blocking(store, move |s| {
                        s.settle_in_doubt(&id, i, AttemptEnd::Reconciled, Some(&rid), now)?;
                        s.record_part(&id, &r, i, &p, last, now)
                    })
                    .await?;
                    progress.push(published);
                    i += 1;
                    continue;
                }
                Ok(Lookup::NotFound) => {
                    tracing::info!(
                        attempt = att.try_no,
                        "reconciled: the earlier attempt was not published; sending again"
                    );
                    let id = target.id.clone();
                    blocking(store, move |s| {
                        s.settle_in_doubt(&id, i, AttemptEnd::NotPublished, None, now)
                    })
                    .await?;
                }
                Ok(Lookup::CannotTell(why)) => {
                    return Ok(Outcome::Move(Transition::Unconfirmed {
                        error: format!("{name}: Outpost cannot tell whether part {} went out ({why}) — check {name}, then choose “It was posted” or “Post again”", i + 1),
                    }));
                }
                Err(e) => {
                    // Could not ask: try again later; never re-post blind.
                    return Ok(Outcome::Move(
                        after_error(engine, target, &account, e, true).await?,
                    ));
                }
            }
        }

        // Networks that fetch media by URL get staged copies (uploaded just now, or earlier
        // for this target and still valid), handed over as `options.media_urls`.
        let mut part_options = options.clone();
        if !polling_this_part(&phase, i) {
            let need = publisher.media_by_url(&parts[i], &options);
            let wanted = match need {
                MediaByUrl::No => false,
                MediaByUrl::Required => true,
                MediaByUrl::IfAvailable => {
                    blocking(store, |s| {
                        Ok(crate::staging::config(s).ok().flatten().is_some())
                    })
                    .await?
                }
            };
            if wanted && !parts[i].media.is_empty() {
                let now = clock.now();
                match crate::staging::ensure_staged(
                    engine,
                    &target.id,
                    target.network,
                    &parts[i].media,
                    now,
                )
                .await
                {
                    Ok(urls) => {
                        let map: serde_json::Map<String, serde_json::Value> = urls
                            .into_iter()
                            .map(|(sha, url)| (sha, serde_json::Value::String(url)))
                            .collect();
                        if let Some(o) = part_options.as_object_mut() {
                            o.insert("media_urls".into(), serde_json::Value::Object(map));
                        }
                    }
                    Err(e) if need == MediaByUrl::Required => {
                        // Nothing was sent to the network yet (no attempt recorded).
                        return Ok(Outcome::Move(
                            after_error(engine, target, &account, e, false).await?,
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.message, "staging failed; sending the bytes instead");
                    }
                }
            }
        }
        let (handle, intent_at) = {
            let k = key.clone();
            match blocking(store, move |s| s.client_handle(&k)).await? {
                Some((h, at)) => (Some(h), at),
                None => {
                    let now = clock.now();
                    (publisher.new_client_handle(&key, now), now)
                }
            }
        };
        let attempt_id = {
            let (id, r, k, h) = (
                target.id.clone(),
                inner.runner_id.clone(),
                key.clone(),
                handle.clone(),
            );
            let now = clock.now();
            // Continuing two-phase work: the card keeps saying how far it is.
            let activity = phase.as_ref().map(|p| processing_note(target.network, p));
            match blocking(store, move |s| {
                s.begin_attempt(
                    &id,
                    &r,
                    i,
                    &k,
                    h.as_deref(),
                    intent_at,
                    now,
                    activity.as_deref(),
                )
            })
            .await
            {
                Ok(a) => a,
                Err(crate::EngineError::Store(outpost_store::StoreError::Conflict(_))) => {
                    tracing::warn!("lost the lease before sending; another runner has the target");
                    return Ok(Outcome::Done);
                }
                Err(e) => return Err(e),
            }
        };
        let req = PartRequest {
            post_id: &post.id,
            target_id: &target.id,
            account: &account,
            part_index: i,
            part: &parts[i],
            previous: &progress,
            client_handle: handle.as_deref(),
            intent_at,
            options: &part_options,
            first_comment,
            scheduled_at: post.scheduled_at,
        };
        let started = Instant::now();
        let continuing = phase
            .as_ref()
            .filter(|p| p.get("part").and_then(|v| v.as_u64()) == Some(i as u64));
        let result = match continuing {
            Some(p) => publisher.poll(&req, p).await,
            None => publisher.start(&req).await,
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let now = clock.now();
        match result {
            Ok(PartOutcome::Processing {
                phase: mut next,
                poll_after,
            }) => {
                tracing::info!(
                    part = i,
                    duration_ms,
                    poll_in_ms = poll_after.as_millis() as u64,
                    "processing on the network"
                );
                if let Some(obj) = next.as_object_mut() {
                    obj.insert("part".into(), serde_json::json!(i));
                }
                // An upload that moves forward is not stuck: the processing time-out counts
                // from its last progress (a 4 GB video needs more than 30 minutes on a slow
                // line), not from its first chunk.
                let offset = |p: Option<&serde_json::Value>| {
                    p.and_then(|p| p.get("offset")).and_then(|v| v.as_u64())
                };
                let progressed = match (offset(phase.as_ref()), offset(Some(&next))) {
                    (Some(before), Some(after)) => after > before,
                    (None, Some(after)) => after > 0,
                    _ => false,
                };
                if progressed {
                    let (id, r) = (target.id.clone(), inner.runner_id.clone());
                    blocking(store, move |s| s.restart_processing_clock(&id, &r)).await?;
                }
                blocking(store, move |s| {
                    s.finish_attempt(
                        attempt_id,
                        AttemptEnd::Processing,
                        None,
                        None,
                        None,
                        None,
                        now,
                    )
                })
                .await?;
                breaker_success(engine, target, &account).await?;
                let note = processing_note(target.network, &next);
                return Ok(Outcome::Move(Transition::Processing {
                    phase: next,
                    at: now + chrono_dur(poll_after),
                    note,
                }));
            }
            Ok(PartOutcome::Published(published)) => {
                tracing::info!(attempt = target.attempts + 1, part = i, duration_ms, remote = %published.remote_id, "published");
                let (id, r, p) = (
                    target.id.clone(),
                    inner.runner_id.clone(),
                    published.clone(),
                );
                let rid = published.remote_id.clone();
                blocking(store, move |s| {
                    s.finish_attempt(
                        attempt_id,
                        AttemptEnd::Succeeded,
                        None,
                        Some(&rid),
                        None,
                        None,
                        now,
                    )?;
                    s.record_part(&id, &r, i, &p, last, now)
                })
                .await?;
                breaker_success(engine, target, &account).await?;
                progress.push(published);
                i += 1;
            }
            Err(e) => {
                tracing::warn!(attempt = target.attempts + 1, part = i, duration_ms, class = e.class.name(), error = %e.message, "attempt failed");
                let end = if e.class == ErrorClass::UnknownOutcome {
                    AttemptEnd::Unknown
                } else {
                    AttemptEnd::Failed
                };
                let (class, msg, excerpt) = (
                    e.class.name().to_string(),
                    e.message.clone(),
                    e.excerpt.clone(),
                );
                blocking(store, move |s| {
                    s.finish_attempt(
                        attempt_id,
                        end,
                        Some(&class),
                        None,
                        Some(&msg),
                        excerpt.as_deref(),
                        now,
                    )
                })
                .await?;
                match e.class {
                    ErrorClass::Reauth if !refreshed => {
                        refreshed = true;
                        match crate::tokens::refresh_locked(engine, &publisher, &account, issued_at)
                            .await
                        {
                            Ok(()) => {
                                tracing::info!("credentials refreshed; trying once more");
                                continue;
                            }
                            Err(re) => {
                                return Ok(Outcome::Move(
                                    after_error(engine, target, &account, re, false).await?,
                                ))
                            }
                        }
                    }
                    ErrorClass::UnknownOutcome if !reconciled_once => {
                        // Ask the network at once (the loop starts with the in-doubt attempt).
                        reconciled_once = true;
                        continue;
                    }
                    _ => {
                        return Ok(Outcome::Move(
                            after_error(engine, target, &account, e, false).await?,
                        ))
                    }
                }
            }
        }
    }
    Ok(Outcome::Done)
}

fn failed(error: String, class: &str) -> Transition {
    Transition::Failed {
        error: sanitize_message(&error, MAX_NETWORK_ERROR_CHARS),
        class: class.into(),
    }
}

fn wait(until: DateTime<Utc>, reason: String) -> Transition {
    Transition::Retry {
        at: until,
        reason,
        error: None,
        class: None,
        count_attempt: false,
    }
}

/// Runs the breaker's half-open probe (a cheap read, never a publish). True if it passed.
async fn probe(
    engine: &Engine,
    publisher: &Arc<dyn Publisher>,
    account: &Account,
    scope: &str,
) -> Result<bool, crate::EngineError> {
    let inner = &engine.inner;
    {
        let mut probing = inner.probing.lock().unwrap_or_else(|p| p.into_inner());
        if !probing.insert(scope.to_string()) {
            return Ok(false); // another task of ours is probing
        }
    }
    let result = publisher.probe(account).await;
    let now = inner.clock.now();
    let s = scope.to_string();
    let policy = inner.config.breaker;
    let ok = result.is_ok();
    let state = blocking(&inner.store, move |st| {
        let mut b = st.breaker(&s)?;
        if ok {
            b.record_success();
        } else {
            b.record_failure(now, &policy);
        }
        st.save_breaker(&s, &b, now)?;
        Ok(b)
    })
    .await?;
    inner
        .probing
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(scope);
    tracing::info!(scope, ok, "breaker probe");
    let _ = inner.events.send(Event::Breaker {
        scope: scope.to_string(),
        open_until: state.open_until,
    });
    Ok(ok)
}

async fn breaker_success(
    engine: &Engine,
    target: &Target,
    account: &Account,
) -> Result<(), crate::EngineError> {
    let now = engine.inner.clock.now();
    for scope in [
        format!("network:{}", target.network),
        format!("account:{}", account.id),
    ] {
        let s = scope.clone();
        let changed = blocking(&engine.inner.store, move |st| {
            let mut b = st.breaker(&s)?;
            if b == Default::default() {
                return Ok(false);
            }
            b.record_success();
            st.save_breaker(&s, &b, now)?;
            Ok(true)
        })
        .await?;
        if changed {
            let _ = engine.inner.events.send(Event::Breaker {
                scope,
                open_until: None,
            });
        }
    }
    Ok(())
}

/// Decides the target's next state from a classified error.
async fn after_error(
    engine: &Engine,
    target: &Target,
    account: &Account,
    e: PublishError,
    reconciling: bool,
) -> Result<Transition, crate::EngineError> {
    let inner = &engine.inner;
    let store = &inner.store;
    let now = inner.clock.now();
    let name = target.network.display_name();
    let message = sanitize_message(&e.message, MAX_NETWORK_ERROR_CHARS);
    Ok(match e.class {
        ErrorClass::Reauth => {
            let reason = message.clone();
            let (id, r2) = (account.id.clone(), reason.clone());
            let (changed, posts) = blocking(store, move |s| {
                let changed = s.set_account_status(&id, AccountStatus::NeedsReconnect, Some(&r2))?;
                let posts = s.fail_due_targets_of_account(&id, &r2, now)?;
                Ok((changed, posts))
            })
            .await?;
            if changed {
                tracing::warn!(account = %account.address(), "account needs reconnecting");
                let _ = inner.events.send(Event::AccountNeedsReconnect {
                    account_id: account.id.clone(),
                    network: account.network,
                    address: account.address(),
                    reason: reason.clone(),
                });
            }
            if !posts.is_empty() {
                tracing::info!(count = posts.len(), "failed the account's other due targets");
            }
            failed(reason, "reauth")
        }
        ErrorClass::RateLimited { until } => {
            // Networks state resets in wall-clock time; carry the wait over to our clock.
            // Rounded up to whole seconds: never earlier than the reset.
            let wait_ms = (until - Utc::now()).num_milliseconds().max(0);
            let until = now + chrono::Duration::seconds((wait_ms + 999) / 1000);
            Transition::Retry {
            at: until,
            reason: format!("{name}: rate limited — waiting until {}", fmt_time(until)),
            error: Some(message),
            class: Some("rate_limited".into()),
            count_attempt: false,
        }
        }
        ErrorClass::Transient { retry_after } => {
            let policy = inner.config.breaker;
            for scope in [format!("network:{}", target.network), format!("account:{}", account.id)] {
                let s = scope.clone();
                let opened = blocking(store, move |st| {
                    let mut b = st.breaker(&s)?;
                    let opened = b.record_failure(now, &policy);
                    st.save_breaker(&s, &b, now)?;
                    Ok(opened.then_some(b.open_until).flatten())
                })
                .await?;
                if let Some(until) = opened {
                    tracing::warn!(scope = %scope, until = %until, "circuit breaker opened");
                    let _ = inner.events.send(Event::Breaker { scope, open_until: Some(until) });
                }
            }
            let attempt = target.attempts + 1;
            let retry = inner.config.retry;
            let mut rng = rand::rngs::StdRng::from_entropy();
            let delay = retry.delay(attempt, retry_after, &mut rng);
            let at = now + chrono_dur(delay);
            let window = engine.catch_up_window();
            let past_window = target.due_at.is_some_and(|d| at > d + chrono_dur(window));
            if retry.may_retry(attempt) && !past_window {
                Transition::Retry {
                    at,
                    reason: format!("{message} — retry {} of {} at {}", attempt, retry.max_attempts - 1, fmt_time(at)),
                    error: Some(message),
                    class: Some("transient".into()),
                    count_attempt: true,
                }
            } else if reconciling {
                Transition::Unconfirmed {
                    error: format!("{message} — Outpost could not confirm whether the post went out; check {name}, then choose “It was posted” or “Post again”"),
                }
            } else {
                failed(format!("{message} (gave up after {attempt} attempts)"), "transient")
            }
        }
        ErrorClass::Permanent => failed(message, "permanent"),
        ErrorClass::UnknownOutcome => Transition::Unconfirmed {
            error: format!("{message} — Outpost could not confirm whether the post went out; check {name}, then choose “It was posted” or “Post again”"),
        },
    })
}

/// True when the stored phase continues network-side work of part `i` (poll, not start).
fn polling_this_part(phase: &Option<serde_json::Value>, i: usize) -> bool {
    phase
        .as_ref()
        .is_some_and(|p| p.get("part").and_then(|v| v.as_u64()) == Some(i as u64))
}

/// What a target's card says while the network has it: the upload's progress when the phase
/// carries one (`offset` of `total` / `video_size` / `length` bytes), else that the network
/// is processing it.
pub(crate) fn processing_note(network: Network, phase: &serde_json::Value) -> String {
    let name = network.display_name();
    let number = |k: &str| phase.get(k).and_then(serde_json::Value::as_u64);
    let total = number("total")
        .or_else(|| number("video_size"))
        .or_else(|| number("length"))
        .filter(|t| *t > 0);
    match (number("offset"), total) {
        (Some(done), Some(total)) if done < total => format!(
            "uploading to {name} — {} % ({} of {})",
            done * 100 / total,
            human_bytes(done),
            human_bytes(total)
        ),
        _ => format!("processing on {name}"),
    }
}

/// 0 B, 950 kB, 12.4 MB, 2.1 GB (decimal units, as file managers show sizes).
fn human_bytes(n: u64) -> String {
    match n {
        0..=999 => format!("{n} B"),
        1_000..=999_999 => format!("{} kB", n / 1_000),
        1_000_000..=999_999_999 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

#[cfg(test)]
mod note_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_card_shows_upload_progress_then_processing() {
        let up = json!({"stage": "upload", "offset": 920_000_000u64, "total": 2_147_483_648u64});
        assert_eq!(
            processing_note(Network::YouTube, &up),
            "uploading to YouTube — 42 % (920.0 MB of 2.1 GB)"
        );
        let tiktok = json!({"offset": 64_000_000u64, "video_size": 280_000_000u64});
        assert_eq!(
            processing_note(Network::TikTok, &tiktok),
            "uploading to TikTok — 22 % (64.0 MB of 280.0 MB)"
        );
        let done = json!({"stage": "processing", "offset": 5u64, "total": 5u64});
        assert_eq!(
            processing_note(Network::YouTube, &done),
            "processing on YouTube"
        );
        assert_eq!(
            processing_note(Network::Instagram, &json!({"container": "1789"})),
            "processing on Instagram"
        );
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(950_000), "950 kB");
    }
}

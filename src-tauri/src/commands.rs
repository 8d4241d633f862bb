//! Tauri commands: each takes the app state and arguments, calls one engine function, and
//! returns its result or an `ApiError` (`{ code, message }`). Nothing else happens here.

use crate::state::AppState;
use chrono::Utc;
use outpost_auth::Secret;
use outpost_core::validate::Finding;
use outpost_core::{Account, Network, Post};
use outpost_engine::api::{
    ApiError, AppCredentials, ConnectResult, Draft, DraftWhen, PostDetail, PostFilter, Settings,
    StagedMedia, StagingKeys, StagingSettings, StatusReport,
};
use outpost_engine::connect::{AccountChoice, ConnectStart};
use std::path::PathBuf;
use tauri::{AppHandle, State};

type R<T> = Result<T, ApiError>;

pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        list_posts,
        get_post,
        check_draft,
        schedule_post,
        update_post,
        reschedule_post,
        cancel_post,
        retry_post,
        confirm_posted,
        delete_post,
        list_accounts,
        connect_bluesky,
        remove_account,
        get_status,
        pause,
        resume,
        get_settings,
        save_settings,
        list_app_credentials,
        set_app_credentials,
        begin_connect,
        finish_connect,
        paste_connect,
        cancel_connect,
        account_choices,
        set_account_default,
        connect_pages,
        get_staging,
        test_staging,
        save_staging,
        remove_staging,
        pick_media,
        add_media_bytes,
        media_previews,
        open_external,
        open_log_folder,
    ]
}

fn woke<T>(state: &AppState, r: R<T>) -> R<T> {
    if r.is_ok() {
        state.engine.wake();
    }
    r
}

fn post_of(state: &AppState, id: &str) -> R<Post> {
    Ok(state.api.get_post(id)?.post)
}

#[tauri::command]
pub fn list_posts(state: State<'_, AppState>, filter: Option<PostFilter>) -> R<Vec<Post>> {
    state.api.filter_posts(&filter.unwrap_or_default())
}

#[tauri::command]
pub fn get_post(state: State<'_, AppState>, id: String) -> R<PostDetail> {
    state.api.get_post(&id)
}

#[tauri::command]
pub fn check_draft(state: State<'_, AppState>, draft: Draft) -> R<Vec<Finding>> {
    state.api.check_draft(&draft)
}

#[tauri::command]
pub fn schedule_post(state: State<'_, AppState>, draft: Draft) -> R<Post> {
    woke(
        &state,
        state.api.schedule(&draft, Utc::now()).map(|s| s.post),
    )
}

/// Edits a post (and the copies a network holds until their time, there too).
#[tauri::command]
pub async fn update_post(state: State<'_, AppState>, id: String, draft: Draft) -> R<Post> {
    let r = state
        .api
        .update_post_everywhere(&id, &draft, Utc::now())
        .await;
    woke(&state, r)
}

#[tauri::command]
pub async fn reschedule_post(state: State<'_, AppState>, id: String, at: String) -> R<Post> {
    let when = DraftWhen::At {
        local: at,
        zone: None,
    };
    let r = state
        .api
        .reschedule_post_everywhere(&id, &when, Utc::now())
        .await;
    woke(&state, r.and_then(|_| post_of(&state, &id)))
}

#[tauri::command]
pub async fn cancel_post(state: State<'_, AppState>, id: String) -> R<Post> {
    let r = state.api.cancel_post_everywhere(&id, Utc::now()).await;
    woke(&state, r.and_then(|_| post_of(&state, &id)))
}

#[tauri::command]
pub fn retry_post(state: State<'_, AppState>, id: String, account_id: Option<String>) -> R<Post> {
    let r = state.api.retry_post(&id, account_id.as_deref(), Utc::now());
    woke(&state, r.and_then(|_| post_of(&state, &id)))
}

#[tauri::command]
pub fn confirm_posted(state: State<'_, AppState>, id: String, account_id: String) -> R<Post> {
    let r = state.api.confirm_posted(&id, &account_id, Utc::now());
    r.and_then(|_| post_of(&state, &id))
}

#[tauri::command]
pub fn delete_post(state: State<'_, AppState>, id: String) -> R<()> {
    state.api.delete_post(&id)
}

#[tauri::command]
pub fn list_accounts(state: State<'_, AppState>) -> R<Vec<Account>> {
    state.api.accounts()
}

#[tauri::command]
pub async fn connect_bluesky(
    state: State<'_, AppState>,
    handle: String,
    app_password: String,
    pds: Option<String>,
) -> R<ConnectResult> {
    let secret = Secret::new(app_password);
    let pds = pds.filter(|p| !p.trim().is_empty());
    let (account, reconnected) = state
        .api
        .connect_bluesky(&handle, pds.as_deref(), &secret, Utc::now())
        .await?;
    state.engine.wake();
    Ok(ConnectResult {
        account,
        reconnected,
    })
}

#[tauri::command]
pub fn remove_account(state: State<'_, AppState>, id: String) -> R<()> {
    state.api.remove_account(&id).map(|_| ())
}

#[tauri::command]
pub fn get_status(state: State<'_, AppState>) -> R<StatusReport> {
    state.api.status(Utc::now())
}

#[tauri::command]
pub fn pause(app: AppHandle) -> R<()> {
    crate::tray::perform(&app, crate::tray::TrayAction::Pause);
    Ok(())
}

#[tauri::command]
pub fn resume(app: AppHandle) -> R<()> {
    crate::tray::perform(&app, crate::tray::TrayAction::Resume);
    Ok(())
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> R<Settings> {
    state.api.settings()
}

#[tauri::command]
pub fn save_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> R<Settings> {
    let saved = state.api.save_settings(&settings)?;
    use tauri_plugin_autostart::ManagerExt;
    let autostart = app.autolaunch();
    let changed = if saved.start_at_login {
        autostart.enable()
    } else {
        autostart.disable()
    };
    if let Err(e) = changed {
        return Err(ApiError::failed(format!(
            "start at login: could not change it ({e})"
        )));
    }
    state.engine.wake();
    Ok(saved)
}

#[tauri::command]
pub fn list_app_credentials(state: State<'_, AppState>) -> R<Vec<AppCredentials>> {
    state.api.app_credentials()
}

#[tauri::command]
pub fn set_app_credentials(
    state: State<'_, AppState>,
    network: Network,
    client_id: String,
    client_secret: Option<String>,
) -> R<AppCredentials> {
    let secret = client_secret.map(Secret::new);
    state
        .api
        .set_app_credentials(network, &client_id, secret.as_ref())
}

/// Starts connecting an OAuth account and opens the authorisation page in the system
/// browser (never a webview, RFC 8252). The address is returned too, to copy by hand.
#[tauri::command]
pub fn begin_connect(
    app: AppHandle,
    state: State<'_, AppState>,
    network: Network,
    relay_url: Option<String>,
    pages: Option<bool>,
) -> R<ConnectStart> {
    use tauri_plugin_opener::OpenerExt;
    let start = state
        .api
        .begin_connect(network, relay_url.as_deref(), pages.unwrap_or(false))?;
    if let Err(e) = app.opener().open_url(&start.authorize_url, None::<&str>) {
        tracing::warn!(error = %e, "could not open the system browser; the dialog shows the address");
    }
    Ok(start)
}

/// Waits (up to 5 minutes) for the browser or a pasted address, then creates the account.
#[tauri::command]
pub async fn finish_connect(state: State<'_, AppState>, session: String) -> R<ConnectResult> {
    let r = state
        .api
        .finish_connect(&session, outpost_auth::oauth::DEFAULT_WAIT, Utc::now())
        .await;
    woke(&state, r)
}

#[tauri::command]
pub fn paste_connect(state: State<'_, AppState>, session: String, address: String) -> R<()> {
    state.api.paste_connect(&session, &address)
}

#[tauri::command]
pub fn cancel_connect(state: State<'_, AppState>, session: String) {
    state.api.cancel_connect(&session)
}

/// Pinterest boards (`boards`), LinkedIn organisations (`organizations`).
#[tauri::command]
pub async fn account_choices(
    state: State<'_, AppState>,
    account_id: String,
    kind: String,
) -> R<Vec<AccountChoice>> {
    state.api.account_choices(&account_id, &kind).await
}

/// Facebook: connects more Pages of the person who connected `account_id`.
#[tauri::command]
pub async fn connect_pages(
    state: State<'_, AppState>,
    account_id: String,
    page_ids: Vec<String>,
) -> R<Vec<ConnectResult>> {
    let r = state
        .api
        .connect_pages(&account_id, &page_ids, Utc::now())
        .await;
    woke(&state, r)
}

#[tauri::command]
pub fn set_account_default(
    state: State<'_, AppState>,
    account_id: String,
    key: String,
    value: Option<String>,
) -> R<Account> {
    state
        .api
        .set_account_default(&account_id, &key, value.as_deref())
}

#[tauri::command]
pub fn get_staging(state: State<'_, AppState>) -> R<Option<StagingSettings>> {
    state.api.staging_settings()
}

/// "Test connection" in Settings: the keys, when typed, are used for this test only.
#[tauri::command]
pub async fn test_staging(
    state: State<'_, AppState>,
    settings: StagingSettings,
    keys: Option<StagingKeys>,
) -> R<()> {
    state.api.test_staging(&settings, keys.as_ref()).await
}

#[tauri::command]
pub async fn save_staging(
    state: State<'_, AppState>,
    settings: StagingSettings,
    keys: Option<StagingKeys>,
) -> R<StagingSettings> {
    state.api.save_staging(&settings, keys.as_ref()).await
}

#[tauri::command]
pub fn remove_staging(state: State<'_, AppState>) -> R<()> {
    state.api.remove_staging()
}

#[tauri::command]
pub async fn pick_media(app: AppHandle, state: State<'_, AppState>) -> R<Vec<StagedMedia>> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .add_filter(
            "Images and videos",
            &["jpg", "jpeg", "png", "gif", "webp", "mp4", "mov", "webm"],
        )
        .pick_files(move |files| {
            let _ = tx.send(files);
        });
    let picked = rx
        .await
        .map_err(|_| ApiError::failed("the file picker closed unexpectedly"))?;
    let paths: Vec<PathBuf> = picked
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.into_path().ok())
        .collect();
    state
        .api
        .import_media(&state.data_dir, &paths, Utc::now())
        .await
}

/// A file dropped on the window: raw bytes in the body, its name in `x-file-name`.
/// Thumbnails and probed facts of files a saved post already uses (the edit view).
#[tauri::command]
pub fn media_previews(state: State<'_, AppState>, sha256s: Vec<String>) -> R<Vec<StagedMedia>> {
    state.api.media_previews(&state.data_dir, &sha256s)
}

#[tauri::command]
pub async fn add_media_bytes(
    state: State<'_, AppState>,
    request: tauri::ipc::Request<'_>,
) -> R<StagedMedia> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(ApiError::invalid(
            "media: send the file's bytes as the request body",
        ));
    };
    let name = request
        .headers()
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_else(|| "dropped-file".into());
    state
        .api
        .import_media_bytes(&state.data_dir, &name, bytes, Utc::now())
        .await
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

#[tauri::command]
pub fn open_external(app: AppHandle, url: String) -> R<()> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::invalid("only web links can be opened"));
    }
    use tauri_plugin_opener::OpenerExt;
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| ApiError::failed(format!("could not open the browser: {e}")))
}

#[tauri::command]
pub fn open_log_folder(app: AppHandle, state: State<'_, AppState>) -> R<()> {
    use tauri_plugin_opener::OpenerExt;
    let dir = state.log_dir();
    app.opener()
        .open_path(dir.to_string_lossy(), None::<&str>)
        .map_err(|e| ApiError::failed(format!("could not open {}: {e}", dir.display())))
}

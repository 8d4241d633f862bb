//! `api.linkedin.com`: `/v2/userinfo` and the versioned `/rest/…` resources, plus the upload
//! URLs (`PUT /dms-uploads/…`) that the image and video APIs hand out.

use axum::body::Body;
use axum::http::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::little;
use super::{
    decode_segment, empty_response, json_response, throttled, FakeComment, FakeImage, FakePost,
    FakeVideo, FakeVideoPart, Inner, Req, Shared, VideoOutcome, POSTING_ROLES,
};
use crate::common::random_string;

type Answer = Result<Response<Body>, Box<Response<Body>>>;

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn err(status: u16, body: Value) -> Box<Response<Body>> {
    Box::new(json_response(status, &body))
}

fn message(status: u16, message: impl Into<String>) -> Box<Response<Body>> {
    err(
        status,
        json!({ "message": message.into(), "status": status }),
    )
}

/// A Rest.li schema error (`422`).
fn schema(field: &str) -> Box<Response<Body>> {
    message(
        422,
        format!("ERROR :: {field} :: field is required but not found and has no default value\n"),
    )
}

fn forbidden(resource: &str) -> Box<Response<Body>> {
    err(
        403,
        json!({
            "status": 403,
            "serviceErrorCode": 100,
            "code": "ACCESS_DENIED",
            "message": format!("Not enough permissions to access: {resource}"),
        }),
    )
}

fn not_found(what: &str) -> Box<Response<Body>> {
    err(
        404,
        json!({ "status": 404, "serviceErrorCode": 0, "code": "NOT_FOUND", "message": format!("{what} does not exist") }),
    )
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The caller, from `Authorization: Bearer`.
pub(crate) struct Auth {
    sub: String,
    scopes: Vec<String>,
}

impl Auth {
    fn urn(&self) -> String {
        format!("urn:li:person:{}", self.sub)
    }
    fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn authenticate(inner: &Inner, req: &Req, now: DateTime<Utc>) -> Result<Auth, Box<Response<Body>>> {
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(err(
            401,
            json!({"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401}),
        ));
    };
    match inner.access.get(token) {
        None => Err(err(
            401,
            json!({"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401}),
        )),
        Some(t) if t.revoked => Err(err(
            401,
            json!({
                "status": 401,
                "serviceErrorCode": 65601,
                "code": "REVOKED_ACCESS_TOKEN",
                "message": "The token used in the request has been revoked by the user",
            }),
        )),
        // The distinct expiry code is UNCONFIRMED; 65600 with EXPIRED_ACCESS_TOKEN is the
        // reference's best guess.
        Some(t) if t.expires_at <= now => Err(err(
            401,
            json!({
                "status": 401,
                "serviceErrorCode": 65600,
                "code": "EXPIRED_ACCESS_TOKEN",
                "message": "The token used in the request has expired",
            }),
        )),
        Some(t) => Ok(Auth {
            sub: t.sub.clone(),
            scopes: t.scopes.clone(),
        }),
    }
}

/// `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0` on every `/rest/` call.
fn check_headers(shared: &Shared, inner: &Inner, req: &Req) -> Result<(), Box<Response<Body>>> {
    let Some(version) = req.header("linkedin-version").map(str::trim) else {
        return Err(err(
            400,
            json!({
                "status": 400,
                "code": "VERSION_MISSING",
                "message": "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            }),
        ));
    };
    let cfg = &shared.cfg;
    let number = (version.len() == 6 && version.bytes().all(|b| b.is_ascii_digit()))
        .then(|| version.parse::<u32>().ok())
        .flatten();
    let sunset = inner
        .sunset
        .as_ref()
        .unwrap_or(&cfg.sunset_versions)
        .iter()
        .any(|v| v == version);
    let active = number.is_some_and(|n| {
        (cfg.oldest_version..=cfg.newest_version).contains(&n) && (1..=12).contains(&(n % 100))
    });
    if !active || sunset {
        return Err(err(
            426,
            json!({
                "status": 426,
                "code": "NONEXISTENT_VERSION",
                "message": format!("Requested version {version} is not active"),
            }),
        ));
    }
    if req.header("x-restli-protocol-version").map(str::trim) != Some("2.0.0") {
        // LinkedIn's exact answer is not documented; the reference only says such requests
        // are rejected.
        return Err(err(
            400,
            json!({
                "status": 400,
                "code": "ILLEGAL_ARGUMENT",
                "message": "This resource requires the header X-Restli-Protocol-Version: 2.0.0",
            }),
        ));
    }
    Ok(())
}

fn json_body(req: &Req) -> Result<Map<String, Value>, Box<Response<Body>>> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(err(
            400,
            json!({"status": 400, "code": "ILLEGAL_ARGUMENT", "message": "Request body could not be converted to data map"}),
        )),
    }
}

/// Whether `auth` may act as `entity` (a person or organisation URN); `write` also checks
/// the posting scope.
fn may_act_as(
    inner: &Inner,
    auth: &Auth,
    entity: &str,
    write: bool,
    resource: &str,
) -> Result<(), Box<Response<Body>>> {
    if let Some(sub) = entity.strip_prefix("urn:li:person:") {
        if sub != auth.sub || (write && !auth.has("w_member_social")) {
            return Err(forbidden(resource));
        }
        return Ok(());
    }
    if let Some(id) = entity.strip_prefix("urn:li:organization:") {
        let Ok(id) = id.parse::<u64>() else {
            return Err(message(
                422,
                format!("ERROR :: invalid organization urn {entity}"),
            ));
        };
        let allowed = inner.org(id).is_some_and(|org| {
            org.acls.iter().any(|(s, role, state)| {
                *s == auth.sub && state == "APPROVED" && POSTING_ROLES.contains(&role.as_str())
            })
        });
        let scope = if write {
            auth.has("w_organization_social")
        } else {
            auth.has("r_organization_social") || auth.has("w_organization_social")
        };
        if !allowed || !scope {
            return Err(forbidden(resource));
        }
        return Ok(());
    }
    Err(message(
        422,
        format!("ERROR :: /author :: invalid urn {entity}"),
    ))
}

/// `GET /v2/userinfo` (OpenID Connect; not versioned).
pub(crate) fn userinfo(shared: &Shared, req: &Req) -> Response<Body> {
    let inner = shared.lock();
    let now = inner.now();
    let answer = (|| -> Answer {
        let auth = authenticate(&inner, req, now)?;
        if !auth.has("openid") {
            return Err(forbidden("userinfo.GET.NO_VERSION"));
        }
        let member = inner.member(&auth.sub).ok_or_else(|| not_found("member"))?;
        let mut body = json!({
            "sub": member.sub,
            "name": member.name,
            "given_name": member.given_name,
            "family_name": member.family_name,
            "picture": format!("https://media.licdn.com/dms/image/fake/{}", member.sub),
            "locale": {"country": "US", "language": "en"},
        });
        if auth.has("email") {
            body["email"] = json!(member.email);
            body["email_verified"] = json!(true);
        }
        Ok(json_response(200, &body))
    })();
    answer.unwrap_or_else(|e| *e)
}

/// Every `/rest/…` call.
pub(crate) fn rest(shared: &Shared, req: &Req) -> Response<Body> {
    let mut inner = shared.lock();
    let answer = (|| -> Answer {
        check_headers(shared, &inner, req)?;
        let now = inner.now();
        let auth = authenticate(&inner, req, now)?;
        let segments: Vec<String> = req
            .path
            .trim_start_matches("/rest/")
            .split('/')
            .map(decode_segment)
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let action = req.param("action");
        match (req.method.as_str(), segs.as_slice(), action.as_deref()) {
            ("POST", ["posts"], None) => create_post(shared, &mut inner, &auth, req, now),
            ("GET", ["posts"], _) => list_posts(shared, &inner, &auth, req),
            ("GET", ["posts", urn], _) => {
                let post = inner
                    .posts
                    .iter()
                    .find(|p| p.urn == *urn)
                    .ok_or_else(|| not_found(urn))?;
                may_act_as(&inner, &auth, &post.author, false, "posts.GET")?;
                Ok(json_response(200, &post_json(post)))
            }
            ("POST", ["images"], Some("initializeUpload")) => {
                init_image(shared, &mut inner, &auth, req, now)
            }
            ("GET", ["images", urn], _) => get_image(&inner, &auth, urn),
            ("POST", ["videos"], Some("initializeUpload")) => {
                init_video(shared, &mut inner, &auth, req, now)
            }
            ("POST", ["videos"], Some("finalizeUpload")) => finalize_video(&mut inner, &auth, req),
            ("GET", ["videos", urn], _) => get_video(&mut inner, &auth, urn),
            ("POST", ["socialActions", urn, "comments"], _) => {
                create_comment(&mut inner, &auth, req, urn, now)
            }
            ("GET", ["socialActions", urn, "comments"], _) => {
                let elements: Vec<Value> = inner
                    .comments
                    .iter()
                    .filter(|c| c.object == *urn)
                    .map(comment_json)
                    .collect();
                Ok(json_response(
                    200,
                    &json!({"elements": elements, "paging": {"start": 0, "count": 10, "links": []}}),
                ))
            }
            ("GET", ["organizationAcls"], _) => organization_acls(&inner, &auth, req),
            ("GET", ["organizations", id], _) => {
                let org = id
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| inner.org(id))
                    .ok_or_else(|| not_found(id))?;
                Ok(json_response(
                    200,
                    &json!({
                        "id": org.id,
                        "localizedName": org.name,
                        "vanityName": org.vanity,
                        "name": {"localized": {"en_US": org.name}, "preferredLocale": {"country": "US", "language": "en"}},
                    }),
                ))
            }
            _ => Err(message(
                404,
                format!("No virtual resource found for {} {}", req.method, req.path),
            )),
        }
    })();
    answer.unwrap_or_else(|e| *e)
}

fn post_json(p: &FakePost) -> Value {
    let mut v = json!({
        "id": p.urn,
        "author": p.author,
        "commentary": p.commentary,
        "visibility": p.visibility,
        "distribution": p.distribution,
        "lifecycleState": p.lifecycle_state,
        "isReshareDisabledByAuthor": false,
        "createdAt": millis(p.created_at),
        "publishedAt": millis(p.created_at),
        "lastModifiedAt": millis(p.created_at),
        "lifecycleStateInfo": {"isEditedByAuthor": false},
    });
    if !p.content.is_null() {
        v["content"] = p.content.clone();
    }
    v
}

/// A media id of the post's `content`, checked: exists, belongs to `author`, is available.
fn check_media(inner: &Inner, author: &str, id: &str) -> Result<(), Box<Response<Body>>> {
    if id.starts_with("urn:li:image:") {
        let image = inner
            .images
            .iter()
            .find(|i| i.urn == id)
            .ok_or_else(|| message(400, format!("Image {id} does not exist")))?;
        if image.owner != author {
            return Err(message(400, format!("Image {id} is not owned by {author}")));
        }
        if image.status != "AVAILABLE" {
            return Err(message(400, format!("Image {id} has not been uploaded")));
        }
        return Ok(());
    }
    if id.starts_with("urn:li:video:") {
        let video = inner
            .videos
            .iter()
            .find(|v| v.urn == id)
            .ok_or_else(|| message(400, format!("Video {id} does not exist")))?;
        if video.owner != author {
            return Err(message(400, format!("Video {id} is not owned by {author}")));
        }
        if video.status != "AVAILABLE" {
            return Err(message(
                400,
                format!("Video {id} is not AVAILABLE (status {})", video.status),
            ));
        }
        return Ok(());
    }
    Err(message(
        422,
        format!("ERROR :: /content/media/id :: unsupported media {id}"),
    ))
}

fn create_post(
    shared: &Shared,
    inner: &mut Inner,
    auth: &Auth,
    req: &Req,
    now: DateTime<Utc>,
) -> Answer {
    let body = json_body(req)?;
    let text_of = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    let author = text_of("author").ok_or_else(|| schema("/author"))?;
    let lifecycle = text_of("lifecycleState").ok_or_else(|| schema("/lifecycleState"))?;
    let visibility = text_of("visibility").ok_or_else(|| schema("/visibility"))?;
    let distribution = body
        .get("distribution")
        .filter(|d| d.is_object())
        .cloned()
        .ok_or_else(|| schema("/distribution"))?;
    if distribution
        .get("feedDistribution")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(schema("/distribution/feedDistribution"));
    }
    if !matches!(lifecycle.as_str(), "PUBLISHED" | "DRAFT") {
        return Err(message(
            422,
            format!("ERROR :: /lifecycleState :: \"{lifecycle}\" is not an enum symbol"),
        ));
    }
    if !matches!(
        visibility.as_str(),
        "PUBLIC" | "CONNECTIONS" | "LOGGED_IN" | "CONTAINER"
    ) {
        return Err(message(
            422,
            format!("ERROR :: /visibility :: \"{visibility}\" is not an enum symbol"),
        ));
    }
    may_act_as(inner, auth, &author, true, "partnerApiPostsExternal.CREATE")?;
    let commentary = match body.get("commentary") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(message(422, "ERROR :: /commentary :: not a string")),
    };
    let content = body.get("content").cloned().unwrap_or(Value::Null);
    if let Some(media) = content.get("media") {
        let id = media
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| schema("/content/media/id"))?;
        check_media(inner, &author, id)?;
    } else if let Some(multi) = content.get("multiImage") {
        let images = multi
            .get("images")
            .and_then(Value::as_array)
            .ok_or_else(|| schema("/content/multiImage/images"))?;
        if !(2..=20).contains(&images.len()) {
            return Err(message(
                422,
                format!("ERROR :: /content/multiImage/images :: a multi-image post needs 2 to 20 images, not {}", images.len()),
            ));
        }
        for image in images {
            let id = image
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| schema("/content/multiImage/images/id"))?;
            if !id.starts_with("urn:li:image:") {
                return Err(message(
                    422,
                    format!("ERROR :: /content/multiImage/images :: {id} is not an image"),
                ));
            }
            check_media(inner, &author, id)?;
        }
    } else if !content.is_null() {
        return Err(message(422, "ERROR :: /content :: unsupported content"));
    }
    if commentary.is_empty() && content.is_null() {
        return Err(message(
            422,
            "ERROR :: /commentary :: a post needs commentary or content",
        ));
    }

    let cfg = &shared.cfg;
    if !commentary.is_empty() {
        if let Some(original) = inner.posts.iter().rev().find(|p| {
            p.author == author
                && p.commentary_sent == commentary
                && p.lifecycle_state == "PUBLISHED"
                && now - p.created_at < cfg.duplicate_window
        }) {
            return Err(err(
                422,
                json!({
                    "errorDetailType": "com.linkedin.common.error.BadRequest",
                    "message": format!("com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of {}", original.urn),
                    "errorDetails": {"inputErrors": [{"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}]},
                    "status": 422,
                }),
            ));
        }
    }
    let day = (auth.sub.clone(), now.date_naive());
    let limit = inner.daily_limit.unwrap_or(cfg.daily_posts_per_member);
    if inner.daily.get(&day).copied().unwrap_or(0) >= limit {
        return Err(Box::new(throttled()));
    }

    let rendered = little::render(&commentary);
    let id = inner.next_id();
    let urn = format!("urn:li:share:{id}");
    inner.posts.push(FakePost {
        urn: urn.clone(),
        author,
        created_by: auth.urn(),
        commentary_sent: commentary,
        commentary: rendered.stored,
        text: rendered.text,
        truncated: rendered.truncated_at.is_some(),
        hashtags: rendered.hashtags,
        visibility,
        lifecycle_state: lifecycle,
        distribution,
        content,
        created_at: now,
    });
    *inner.daily.entry(day).or_insert(0) += 1;
    Ok(empty_response(
        201,
        &[("x-restli-id", &urn), ("x-linkedin-id", &urn)],
    ))
}

fn list_posts(shared: &Shared, inner: &Inner, auth: &Auth, req: &Req) -> Answer {
    if req.param("q").as_deref() != Some("author") {
        return Err(message(
            400,
            "Invalid query parameters passed to request: q must be author",
        ));
    }
    let author = req
        .param("author")
        .ok_or_else(|| message(400, "Missing required parameter: author"))?;
    may_act_as(
        inner,
        auth,
        &author,
        false,
        "partnerApiPostsExternal.FINDER-author",
    )?;
    if author.starts_with("urn:li:person:")
        && shared.cfg.member_reads_need_r_member_social
        && !auth.has("r_member_social")
    {
        return Err(forbidden("partnerApiPostsExternal.FINDER-author"));
    }
    let start: usize = req.param("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let count: usize = req
        .param("count")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .min(100);
    let mine: Vec<&FakePost> = inner
        .posts
        .iter()
        .rev()
        .filter(|p| p.author == author)
        .collect();
    let elements: Vec<Value> = mine
        .iter()
        .skip(start)
        .take(count)
        .map(|p| post_json(p))
        .collect();
    Ok(json_response(
        200,
        &json!({
            "paging": {"start": start, "count": count, "links": [], "total": mine.len()},
            "elements": elements,
        }),
    ))
}

fn owner_of(body: &Map<String, Value>) -> Result<String, Box<Response<Body>>> {
    body.get("initializeUploadRequest")
        .and_then(|r| r.get("owner"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| schema("/initializeUploadRequest/owner"))
}

fn init_image(
    shared: &Shared,
    inner: &mut Inner,
    auth: &Auth,
    req: &Req,
    now: DateTime<Utc>,
) -> Answer {
    let body = json_body(req)?;
    let owner = owner_of(&body)?;
    may_act_as(inner, auth, &owner, true, "images.ACTION-initializeUpload")?;
    let tail = format!("D4E10AQ{}", random_string(ID_ALPHABET, 12));
    let token = random_string(ID_ALPHABET, 24);
    let urn = format!("urn:li:image:{tail}");
    let upload_url = format!(
        "{}/dms-uploads/sp/v2/image/{tail}?ut={token}",
        shared.base_url
    );
    inner.images.push(FakeImage {
        urn: urn.clone(),
        owner,
        status: "WAITING_UPLOAD".into(),
        bytes: Vec::new(),
        size: 0,
        upload_token: token,
    });
    Ok(json_response(
        200,
        &json!({"value": {
            "uploadUrlExpiresAt": millis(now + chrono::Duration::days(1)),
            "uploadUrl": upload_url,
            "image": urn,
        }}),
    ))
}

fn get_image(inner: &Inner, auth: &Auth, urn: &str) -> Answer {
    let image = inner
        .images
        .iter()
        .find(|i| i.urn == urn)
        .ok_or_else(|| not_found(urn))?;
    // A member token cannot read images (Postiz, 3P): only organisation owners can.
    if image.owner.starts_with("urn:li:person:") {
        return Err(forbidden("images.GET"));
    }
    may_act_as(inner, auth, &image.owner, false, "images.GET")?;
    Ok(json_response(
        200,
        &json!({"id": image.urn, "owner": image.owner, "status": image.status, "mediaType": "image/jpeg"}),
    ))
}

fn init_video(
    shared: &Shared,
    inner: &mut Inner,
    auth: &Auth,
    req: &Req,
    now: DateTime<Utc>,
) -> Answer {
    let body = json_body(req)?;
    let owner = owner_of(&body)?;
    let size = body
        .get("initializeUploadRequest")
        .and_then(|r| r.get("fileSizeBytes"))
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
        .ok_or_else(|| schema("/initializeUploadRequest/fileSizeBytes"))?;
    may_act_as(inner, auth, &owner, true, "videos.ACTION-initializeUpload")?;
    let tail = format!("D5610AQ{}", random_string(ID_ALPHABET, 12));
    let urn = format!("urn:li:video:{tail}");
    let part_size = shared.cfg.video_part_size.max(1);
    let count = size.div_ceil(part_size);
    // LinkedIn answers an empty upload token for single-part uploads.
    let upload_token = if count > 1 {
        random_string(ID_ALPHABET, 32)
    } else {
        String::new()
    };
    let signature = random_string(ID_ALPHABET, 16);
    let parts: Vec<FakeVideoPart> = (0..count)
        .map(|i| {
            let first = i * part_size;
            FakeVideoPart {
                upload_url: format!(
                    "{}/dms-uploads/sp/v2/video/{tail}/part/{i}?ut={signature}",
                    shared.base_url
                ),
                first_byte: first,
                last_byte: (first + part_size).min(size) - 1,
                etag: None,
                bytes: Vec::new(),
                puts: 0,
            }
        })
        .collect();
    let instructions: Vec<Value> = parts
        .iter()
        .map(|p| json!({"uploadUrl": p.upload_url, "firstByte": p.first_byte, "lastByte": p.last_byte}))
        .collect();
    let outcome: VideoOutcome = inner.video_outcome.clone();
    inner.videos.push(FakeVideo {
        urn: urn.clone(),
        owner,
        file_size: size,
        upload_token: upload_token.clone(),
        parts,
        status: "WAITING_UPLOAD".into(),
        failure_reason: None,
        finalized_with: None,
        status_reads: 0,
        outcome,
    });
    Ok(json_response(
        200,
        &json!({"value": {
            "uploadUrlsExpireAt": millis(now + chrono::Duration::days(1)),
            "video": urn,
            "uploadInstructions": instructions,
            "uploadToken": upload_token,
        }}),
    ))
}

fn finalize_video(inner: &mut Inner, auth: &Auth, req: &Req) -> Answer {
    let body = json_body(req)?;
    let request = body
        .get("finalizeUploadRequest")
        .ok_or_else(|| schema("/finalizeUploadRequest"))?;
    let urn = request
        .get("video")
        .and_then(Value::as_str)
        .ok_or_else(|| schema("/finalizeUploadRequest/video"))?;
    let token = request
        .get("uploadToken")
        .and_then(Value::as_str)
        .ok_or_else(|| schema("/finalizeUploadRequest/uploadToken"))?;
    let ids: Vec<String> = request
        .get("uploadedPartIds")
        .and_then(Value::as_array)
        .ok_or_else(|| schema("/finalizeUploadRequest/uploadedPartIds"))?
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    let owner = inner
        .videos
        .iter()
        .find(|v| v.urn == urn)
        .map(|v| v.owner.clone())
        .ok_or_else(|| not_found(urn))?;
    may_act_as(inner, auth, &owner, true, "videos.ACTION-finalizeUpload")?;
    let video = inner
        .videos
        .iter_mut()
        .find(|v| v.urn == urn)
        .ok_or_else(|| not_found(urn))?;
    if video.upload_token != token {
        return Err(message(400, "The upload token does not match the video"));
    }
    if let Some(done) = &video.finalized_with {
        return if *done == ids {
            Ok(empty_response(200, &[]))
        } else {
            Err(message(400, "The video upload is already finalized"))
        };
    }
    if video.parts.iter().any(|p| p.etag.is_none()) {
        return Err(message(
            400,
            format!(
                "Upload incomplete: {} of {} parts were uploaded",
                video.parts.iter().filter(|p| p.etag.is_some()).count(),
                video.parts.len()
            ),
        ));
    }
    let etags: Vec<String> = video
        .parts
        .iter()
        .map(|p| p.etag.clone().unwrap_or_default())
        .collect();
    if etags != ids {
        return Err(message(
            400,
            "The uploadedPartIds do not match the ETags of the uploaded parts, in order",
        ));
    }
    video.finalized_with = Some(ids);
    video.status = "PROCESSING".into();
    video.status_reads = 0;
    Ok(empty_response(200, &[]))
}

fn get_video(inner: &mut Inner, auth: &Auth, urn: &str) -> Answer {
    let owner = inner
        .videos
        .iter()
        .find(|v| v.urn == urn)
        .map(|v| v.owner.clone())
        .ok_or_else(|| not_found(urn))?;
    if may_act_as(inner, auth, &owner, false, "videos.GET").is_err() {
        return Err(err(
            403,
            json!({"message": "Accessing this video resource is forbidden. Please check your permissions for this resource", "status": 403}),
        ));
    }
    let video = inner
        .videos
        .iter_mut()
        .find(|v| v.urn == urn)
        .ok_or_else(|| not_found(urn))?;
    if video.status == "PROCESSING" && video.finalized_with.is_some() {
        video.status_reads += 1;
        match &video.outcome {
            VideoOutcome::Available { after_polls } if video.status_reads > *after_polls => {
                video.status = "AVAILABLE".into();
            }
            VideoOutcome::Fails {
                after_polls,
                reason,
            } if video.status_reads > *after_polls => {
                video.status = "PROCESSING_FAILED".into();
                video.failure_reason = Some(reason.clone());
            }
            _ => {}
        }
    }
    let mut body = json!({
        "id": video.urn,
        "owner": video.owner,
        "status": video.status,
    });
    if video.status == "AVAILABLE" {
        body["downloadUrl"] = json!(format!("https://dms.licdn.com/playlist/fake/{}", video.urn));
    }
    if let Some(reason) = &video.failure_reason {
        body["processingFailureReason"] = json!(reason);
    }
    Ok(json_response(200, &body))
}

fn comment_json(c: &FakeComment) -> Value {
    json!({
        "actor": c.actor,
        "object": c.object,
        "message": {"text": c.text},
        "created": {"actor": c.actor, "time": millis(c.created_at)},
        "$URN": c.urn,
    })
}

fn create_comment(
    inner: &mut Inner,
    auth: &Auth,
    req: &Req,
    post_urn: &str,
    now: DateTime<Utc>,
) -> Answer {
    let body = json_body(req)?;
    let actor = body
        .get("actor")
        .and_then(Value::as_str)
        .ok_or_else(|| schema("/actor"))?
        .to_string();
    let text = body
        .get("message")
        .and_then(|m| m.get("text"))
        .and_then(Value::as_str)
        .ok_or_else(|| schema("/message/text"))?
        .to_string();
    if let Some(object) = body.get("object").and_then(Value::as_str) {
        if object != post_urn {
            return Err(message(
                400,
                "The object does not match the URN in the path",
            ));
        }
    }
    may_act_as(inner, auth, &actor, true, "socialActions.comments.CREATE")?;
    let activity = inner
        .posts
        .iter()
        .find(|p| p.urn == post_urn)
        .map(|p| p.urn.rsplit(':').next().unwrap_or_default().to_string())
        .ok_or_else(|| not_found(post_urn))?;
    let id = inner.next_id();
    let urn = format!("urn:li:comment:(urn:li:activity:{activity},{id})");
    let comment = FakeComment {
        urn: urn.clone(),
        object: post_urn.to_string(),
        actor,
        text,
        created_at: now,
    };
    let mut json = comment_json(&comment);
    json["id"] = json!(id.to_string());
    inner.comments.push(comment);
    let mut response = json_response(201, &json);
    if let Ok(v) = urn.parse() {
        response.headers_mut().insert("x-restli-id", v);
    }
    Ok(response)
}

fn organization_acls(inner: &Inner, auth: &Auth, req: &Req) -> Answer {
    if req.param("q").as_deref() != Some("roleAssignee") {
        return Err(message(
            400,
            "Invalid query parameters passed to request: q must be roleAssignee",
        ));
    }
    if !(auth.has("r_organization_admin") || auth.has("rw_organization_admin")) {
        return Err(forbidden("organizationAcls.FINDER-roleAssignee"));
    }
    let role = req.param("role");
    let state = req.param("state");
    let start: usize = req.param("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let count: usize = req
        .param("count")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .min(100);
    let all: Vec<Value> = inner
        .orgs
        .iter()
        .flat_map(|org| {
            org.acls
                .iter()
                .filter(|(s, r, st)| {
                    *s == auth.sub
                        && role.as_deref().is_none_or(|want| want == r)
                        && state.as_deref().is_none_or(|want| want == st)
                })
                .map(move |(s, r, st)| {
                    json!({
                        "roleAssignee": format!("urn:li:person:{s}"),
                        "state": st,
                        "role": r,
                        "organization": format!("urn:li:organization:{}", org.id),
                    })
                })
        })
        .collect();
    let total = all.len();
    let elements: Vec<Value> = all.into_iter().skip(start).take(count).collect();
    Ok(json_response(
        200,
        &json!({"paging": {"start": start, "count": count, "links": [], "total": total}, "elements": elements}),
    ))
}

/// `PUT` of the bytes to an upload URL (`/dms-uploads/sp/v2/image/<id>` or
/// `/dms-uploads/sp/v2/video/<id>/part/<n>`).
pub(crate) fn upload(shared: &Shared, req: &Req) -> Response<Body> {
    let mut inner = shared.lock();
    let answer = (|| -> Answer {
        let rest = req.path.trim_start_matches("/dms-uploads/sp/v2/");
        let segs: Vec<&str> = rest.split('/').collect();
        let token = req.param("ut").unwrap_or_default();
        match segs.as_slice() {
            ["image", tail] => {
                // The image upload URL wants the bearer token too (as LinkedIn's samples send it).
                let now = inner.now();
                authenticate(&inner, req, now)?;
                let urn = format!("urn:li:image:{tail}");
                let image = inner
                    .images
                    .iter_mut()
                    .find(|i| i.urn == urn && i.upload_token == token)
                    .ok_or_else(|| message(404, "Unknown or expired upload URL"))?;
                if req.body.is_empty() {
                    return Err(message(400, "Empty upload"));
                }
                image.bytes = req.body.to_vec();
                image.size = req.body.len();
                image.status = "AVAILABLE".into();
                Ok(empty_response(201, &[]))
            }
            ["video", tail, "part", index] => {
                let urn = format!("urn:li:video:{tail}");
                let index: usize = index.parse().map_err(|_| message(404, "Unknown part"))?;
                let video = inner
                    .videos
                    .iter_mut()
                    .find(|v| v.urn == urn)
                    .ok_or_else(|| message(404, "Unknown or expired upload URL"))?;
                if video.finalized_with.is_some() {
                    return Err(message(400, "The upload is already finalized"));
                }
                let part = video
                    .parts
                    .get_mut(index)
                    .filter(|p| p.upload_url.ends_with(&format!("?ut={token}")))
                    .ok_or_else(|| message(404, "Unknown or expired upload URL"))?;
                let want = part.last_byte - part.first_byte + 1;
                if req.body.len() as u64 != want {
                    return Err(message(
                        400,
                        format!(
                            "This part must be {want} bytes (bytes {}-{}), got {}",
                            part.first_byte,
                            part.last_byte,
                            req.body.len()
                        ),
                    ));
                }
                part.puts += 1;
                let digest = Sha256::digest(&req.body);
                let etag = format!(
                    "/ambry-video/signedId/{}-{}",
                    hex::encode(&digest[..12]),
                    part.puts
                );
                part.bytes = req.body.to_vec();
                part.etag = Some(etag.clone());
                Ok(empty_response(200, &[("ETag", &etag)]))
            }
            _ => Err(message(404, "Unknown upload URL")),
        }
    })();
    answer.unwrap_or_else(|e| *e)
}

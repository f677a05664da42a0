//! The REST API under `/api/v1`, described by the OpenAPI document at
//! `/api/v1/openapi.json` (generated from these handlers by utoipa).
//!
//! **Where an HTTP request is authorised:** every handler except `login` and the OpenAPI
//! document takes a [`Principal`] (401 without valid credentials) and, before touching a
//! project, calls [`authorize`] with what it is about to do (403/404 otherwise).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::auth::{self, Permission, Principal, authorize};
use crate::error::{ErrorBody, Result, ServerError, SqlProblem};
use crate::lifecycle::Action;
use crate::model::{
    AccessKey, CatalogDdl, CatalogObject, Instance, Job, JobSettings, JobVersion, LogLine, Member,
    Project, Role, Transition, User,
};
use crate::store::{ActionExtras, Store};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub token_ttl_ms: i64,
    /// Wakes this node's scheduler after an instance changed, so a start or pause takes
    /// effect now rather than at the next heartbeat.
    pub wake_scheduler: Arc<Notify>,
    /// How long a pause or stop with savepoint gives the node to take it.
    pub savepoint_timeout_ms: i64,
    /// The `stc` binary, started as `stc table preview …` for previews.
    pub worker_exe: std::path::PathBuf,
    /// Where previews' catalog snapshots are written.
    pub scratch_dir: std::path::PathBuf,
}

/// `Json<T>` whose rejections (malformed JSON, wrong content type, missing fields) are our
/// JSON errors (400) instead of axum's plain-text ones.
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ServerError::BadRequest(format!(
                "invalid request body: {}",
                e.body_text()
            ))),
        }
    }
}

/// An optional JSON body: an empty body means `T::default()`.
pub struct OptBody<T>(pub T);

impl<T, S> FromRequest<S> for OptBody<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ServerError::BadRequest(format!("cannot read the body: {e}")))?;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(OptBody(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptBody)
            .map_err(|e| ServerError::BadRequest(format!("invalid request body: {e}")))
    }
}

// ---- request and response bodies -----------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub user: User,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessKeyRequest {
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedAccessKey {
    pub key: AccessKey,
    /// The secret, shown only in this response.
    pub secret: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMemberRequest {
    pub role: Role,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJobRequest {
    pub name: String,
    pub sql: String,
    #[serde(default)]
    pub settings: JobSettings,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateJobRequest {
    pub sql: Option<String>,
    pub settings: Option<JobSettings>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StartRequest {
    /// Start from this checkpoint or savepoint path instead of from scratch.
    pub start_from: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StopRequest {
    /// Take a savepoint before stopping.
    pub savepoint: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    pub sql: String,
    #[serde(default)]
    pub settings: JobSettings,
    /// Compile against this project's catalog (you must be able to read the project).
    #[serde(default)]
    pub project: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PreviewRequest {
    /// At most this many records (default 20, at most 1000).
    pub limit: Option<u32>,
    /// Stop after this long, connecting included (default 10000, at most 60000).
    pub timeout_ms: Option<u64>,
    /// The latest records instead of the first (`kafka`: the last `limit` records of each
    /// partition; other sources show their first records and the answer's `note` says so).
    pub latest: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCatalogObjectRequest {
    /// One `CREATE TABLE` or `CREATE VIEW` statement declaring the object of the path's name.
    pub ddl: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidateResponse {
    pub valid: bool,
    pub error: Option<SqlProblem>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LogQuery {
    /// Only lines with an id greater than this.
    #[serde(default)]
    pub after: i64,
    /// At most this many lines (default 1000, at most 10000).
    pub limit: Option<i64>,
}

// ---- helpers ---------------------------------------------------------------------------

/// Compiles a script as the worker will (same options), off the async threads: planning is
/// CPU work.
pub async fn check_sql(sql: &str, settings: &JobSettings, catalog: Vec<CatalogDdl>) -> Result<()> {
    let sql = sql.to_string();
    let options = compile_options(settings, catalog);
    compile_checked(move || stc_sql::compile_script(&sql, &options).map(|_| ())).await
}

/// The options a worker compiles the job with.
fn compile_options(settings: &JobSettings, catalog: Vec<CatalogDdl>) -> stc_sql::CompileOptions {
    stc_sql::CompileOptions {
        parallelism: settings.parallelism.map(|p| p as usize),
        config: settings
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        catalog: catalog
            .into_iter()
            .map(|c| stc_sql::CatalogObject {
                name: c.name,
                ddl: c.ddl,
            })
            .collect(),
    }
}

/// Runs a compilation off the async threads (planning is CPU work); SQL errors become 400s
/// with their line and column.
async fn compile_checked(
    f: impl FnOnce() -> std::result::Result<(), stc_sql::SqlError> + Send + 'static,
) -> Result<()> {
    let outcome = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Internal(format!("SQL validation task failed: {e}")))?;
    outcome.map_err(|e| {
        let location = e.location.filter(|l| l.line > 0);
        ServerError::InvalidSql(SqlProblem {
            message: e.to_string(),
            statement: e.statement,
            line: location.map(|l| l.line),
            column: location.map(|l| l.column),
        })
    })
}

fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(ServerError::BadRequest(format!(
            "invalid {what} name '{name}': use 1-100 letters, digits, '_', '-' or '.'"
        )))
    }
}

/// Which project permission a handler needs (see [`Permission`]).
#[derive(Debug, Clone, Copy)]
enum Level {
    Read,
    Write,
    Administer,
}

async fn project_for(
    state: &AppState,
    who: &Principal,
    name: &str,
    level: Level,
) -> Result<Project> {
    let project = state.store.get_project(name).await?;
    let perm = match level {
        Level::Read => Permission::ReadProject(&project),
        Level::Write => Permission::WriteProject(&project),
        Level::Administer => Permission::AdministerProject(&project),
    };
    authorize(&state.store, who, perm).await?;
    Ok(project)
}

async fn job_for(
    state: &AppState,
    who: &Principal,
    project: &str,
    job: &str,
    level: Level,
) -> Result<Job> {
    let project = project_for(state, who, project, level).await?;
    state.store.get_job(&project, job).await
}

async fn instance_of(state: &AppState, job: &Job, id: &str) -> Result<Instance> {
    let i = state.store.get_instance(id).await?;
    if i.job_id != job.id {
        return Err(ServerError::not_found("instance", id));
    }
    Ok(i)
}

// ---- handlers ------------------------------------------------------------------------------

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    Body(req): Body<LoginRequest>,
) -> Result<Json<LoginResponse>> {
    let found = state.store.find_user(&req.username).await?;
    // Verify against a real hash even for unknown users, so response time does not reveal
    // which user names exist.
    let (user, ok) = match found {
        Some((user, hash)) => {
            let ok = auth::verify_password(&req.password, &hash);
            (Some(user), ok)
        }
        None => {
            auth::verify_password(&req.password, DUMMY_HASH.get_or_init(dummy_hash));
            (None, false)
        }
    };
    match (user, ok) {
        (Some(user), true) => {
            let token = auth::new_secret("stct_");
            state
                .store
                .insert_token(
                    &auth::token_hash(&token),
                    &user.id,
                    "session",
                    "login",
                    Some(state.token_ttl_ms),
                )
                .await?;
            Ok(Json(LoginResponse { token, user }))
        }
        _ => Err(ServerError::Unauthenticated(
            "wrong user name or password".into(),
        )),
    }
}

static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn dummy_hash() -> String {
    auth::hash_password("dummy").unwrap_or_default()
}

#[utoipa::path(get, path = "/api/v1/auth/whoami", tag = "auth",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
async fn whoami(who: Principal) -> Json<User> {
    Json(who.user)
}

#[utoipa::path(get, path = "/api/v1/access-keys", tag = "auth",
    responses((status = 200, body = Vec<AccessKey>), (status = 401, body = ErrorBody)))]
async fn list_access_keys(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<AccessKey>>> {
    Ok(Json(state.store.list_access_keys(&who.user.id).await?))
}

#[utoipa::path(post, path = "/api/v1/access-keys", tag = "auth",
    request_body = CreateAccessKeyRequest,
    responses((status = 201, body = CreatedAccessKey), (status = 401, body = ErrorBody)))]
async fn create_access_key(
    State(state): State<AppState>,
    who: Principal,
    Body(req): Body<CreateAccessKeyRequest>,
) -> Result<(StatusCode, Json<CreatedAccessKey>)> {
    check_name("access key", &req.name)?;
    let secret = auth::new_secret("stck_");
    let key = state
        .store
        .insert_token(
            &auth::token_hash(&secret),
            &who.user.id,
            "key",
            &req.name,
            None,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedAccessKey { key, secret })))
}

#[utoipa::path(delete, path = "/api/v1/access-keys/{id}", tag = "auth",
    params(("id" = String, Path, description = "access key id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_access_key(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    if state.store.delete_access_key(&who.user.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ServerError::not_found("access key", id))
    }
}

#[utoipa::path(get, path = "/api/v1/users", tag = "auth",
    responses((status = 200, body = Vec<User>), (status = 403, body = ErrorBody)))]
async fn list_users(State(state): State<AppState>, who: Principal) -> Result<Json<Vec<User>>> {
    authorize(&state.store, &who, Permission::ManageUsers).await?;
    Ok(Json(state.store.list_users().await?))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "auth", request_body = CreateUserRequest,
    responses((status = 201, body = User), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    who: Principal,
    Body(req): Body<CreateUserRequest>,
) -> Result<(StatusCode, Json<User>)> {
    authorize(&state.store, &who, Permission::ManageUsers).await?;
    check_name("user", &req.username)?;
    if req.password.len() < 8 {
        return Err(ServerError::BadRequest(
            "the password must have at least 8 characters".into(),
        ));
    }
    let hash = auth::hash_password(&req.password)?;
    let user = state
        .store
        .create_user(&req.username, &hash, req.admin)
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(get, path = "/api/v1/projects", tag = "projects",
    responses((status = 200, body = Vec<Project>), (status = 401, body = ErrorBody)))]
async fn list_projects(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<Project>>> {
    Ok(Json(state.store.list_projects(&who.user).await?))
}

#[utoipa::path(post, path = "/api/v1/projects", tag = "projects",
    request_body = CreateProjectRequest,
    responses((status = 201, body = Project), (status = 409, body = ErrorBody)))]
async fn create_project(
    State(state): State<AppState>,
    who: Principal,
    Body(req): Body<CreateProjectRequest>,
) -> Result<(StatusCode, Json<Project>)> {
    authorize(&state.store, &who, Permission::CreateProject).await?;
    check_name("project", &req.name)?;
    let p = state
        .store
        .create_project(&req.name, &req.description, &who.user)
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(get, path = "/api/v1/projects/{project}", tag = "projects",
    params(("project" = String, Path)),
    responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
async fn get_project(
    State(state): State<AppState>,
    who: Principal,
    Path(project): Path<String>,
) -> Result<Json<Project>> {
    Ok(Json(
        project_for(&state, &who, &project, Level::Read).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/projects/{project}", tag = "projects",
    params(("project" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_project(
    State(state): State<AppState>,
    who: Principal,
    Path(project): Path<String>,
) -> Result<StatusCode> {
    let p = project_for(&state, &who, &project, Level::Administer).await?;
    state.store.delete_project(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/projects/{project}/members", tag = "projects",
    params(("project" = String, Path)),
    responses((status = 200, body = Vec<Member>), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    who: Principal,
    Path(project): Path<String>,
) -> Result<Json<Vec<Member>>> {
    let p = project_for(&state, &who, &project, Level::Read).await?;
    Ok(Json(state.store.list_members(&p.id).await?))
}

#[utoipa::path(put, path = "/api/v1/projects/{project}/members/{user}", tag = "projects",
    params(("project" = String, Path), ("user" = String, Path)),
    request_body = SetMemberRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_member(
    State(state): State<AppState>,
    who: Principal,
    Path((project, user)): Path<(String, String)>,
    Body(req): Body<SetMemberRequest>,
) -> Result<StatusCode> {
    let p = project_for(&state, &who, &project, Level::Administer).await?;
    let (u, _) = state
        .store
        .find_user(&user)
        .await?
        .ok_or_else(|| ServerError::not_found("user", &user))?;
    state.store.set_member(&p.id, &u.id, req.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/projects/{project}/members/{user}", tag = "projects",
    params(("project" = String, Path), ("user" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    who: Principal,
    Path((project, user)): Path<(String, String)>,
) -> Result<StatusCode> {
    let p = project_for(&state, &who, &project, Level::Administer).await?;
    let (u, _) = state
        .store
        .find_user(&user)
        .await?
        .ok_or_else(|| ServerError::not_found("user", &user))?;
    if state.store.remove_member(&p.id, &u.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ServerError::NotFound(format!(
            "user '{user}' is not a member of project '{project}'"
        )))
    }
}

#[utoipa::path(get, path = "/api/v1/projects/{project}/jobs", tag = "jobs",
    params(("project" = String, Path)),
    responses((status = 200, body = Vec<Job>), (status = 404, body = ErrorBody)))]
async fn list_jobs(
    State(state): State<AppState>,
    who: Principal,
    Path(project): Path<String>,
) -> Result<Json<Vec<Job>>> {
    let p = project_for(&state, &who, &project, Level::Read).await?;
    Ok(Json(state.store.list_jobs(&p).await?))
}

#[utoipa::path(post, path = "/api/v1/projects/{project}/jobs", tag = "jobs",
    params(("project" = String, Path)), request_body = CreateJobRequest,
    responses((status = 201, body = Job), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_job(
    State(state): State<AppState>,
    who: Principal,
    Path(project): Path<String>,
    Body(req): Body<CreateJobRequest>,
) -> Result<(StatusCode, Json<Job>)> {
    let p = project_for(&state, &who, &project, Level::Write).await?;
    check_name("job", &req.name)?;
    req.settings.validate()?;
    check_sql(&req.sql, &req.settings, catalog_of(&state, &p).await?).await?;
    let job = state
        .store
        .create_job(&p, &req.name, &req.sql, &req.settings)
        .await?;
    Ok((StatusCode::CREATED, Json(job)))
}

#[utoipa::path(get, path = "/api/v1/projects/{project}/jobs/{job}", tag = "jobs",
    params(("project" = String, Path), ("job" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job)): Path<(String, String)>,
) -> Result<Json<Job>> {
    Ok(Json(
        job_for(&state, &who, &project, &job, Level::Read).await?,
    ))
}

#[utoipa::path(put, path = "/api/v1/projects/{project}/jobs/{job}", tag = "jobs",
    params(("project" = String, Path), ("job" = String, Path)), request_body = UpdateJobRequest,
    responses((status = 200, body = Job), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn update_job(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job)): Path<(String, String)>,
    Body(req): Body<UpdateJobRequest>,
) -> Result<Json<Job>> {
    let p = project_for(&state, &who, &project, Level::Write).await?;
    let j = state.store.get_job(&p, &job).await?;
    let sql = req.sql.unwrap_or_else(|| j.sql.clone());
    let settings = req.settings.unwrap_or_else(|| j.settings.clone());
    settings.validate()?;
    check_sql(&sql, &settings, catalog_of(&state, &p).await?).await?;
    state.store.update_job(&j, &sql, &settings).await?;
    Ok(Json(state.store.get_job(&p, &job).await?))
}

#[utoipa::path(delete, path = "/api/v1/projects/{project}/jobs/{job}", tag = "jobs",
    params(("project" = String, Path), ("job" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_job(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job)): Path<(String, String)>,
) -> Result<StatusCode> {
    let j = job_for(&state, &who, &project, &job, Level::Write).await?;
    state.store.delete_job(&j).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/projects/{project}/jobs/{job}/versions", tag = "jobs",
    params(("project" = String, Path), ("job" = String, Path)),
    responses((status = 200, body = Vec<JobVersion>), (status = 404, body = ErrorBody)))]
async fn list_versions(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job)): Path<(String, String)>,
) -> Result<Json<Vec<JobVersion>>> {
    let j = job_for(&state, &who, &project, &job, Level::Read).await?;
    Ok(Json(state.store.list_versions(&j).await?))
}

#[utoipa::path(post, path = "/api/v1/projects/{project}/jobs/{job}/start", tag = "lifecycle",
    params(("project" = String, Path), ("job" = String, Path)), request_body = StartRequest,
    responses((status = 201, body = Instance), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn start_job(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job)): Path<(String, String)>,
    OptBody(req): OptBody<StartRequest>,
) -> Result<(StatusCode, Json<Instance>)> {
    let j = job_for(&state, &who, &project, &job, Level::Write).await?;
    // Checked here, on this node's file system: a shared checkpoint directory is what lets
    // any node's worker read it.
    let start_from = match &req.start_from {
        Some(path) => {
            // An `s3://` path is reached with this node's `AWS_*` environment.
            let p = stc_runtime::checkpoint::location::Location::parse(path, &Default::default())
                .map_err(|e| ServerError::BadRequest(format!("start_from: {e}")))?;
            let ck = tokio::task::spawn_blocking(move || {
                stc_runtime::checkpoint::storage::Checkpoint::open(&p)
            })
            .await
            .map_err(|e| ServerError::Internal(format!("checking the checkpoint: {e}")))?
            .map_err(|e| {
                ServerError::BadRequest(format!(
                    "start_from '{path}' is not a usable checkpoint or savepoint: {e}"
                ))
            })?;
            Some(ck.path.to_string())
        }
        None => None,
    };
    // The draft may have been valid when saved but refer to something that changed since
    // (a file, a function); a version that cannot compile is never created.
    let p = state.store.get_project(&project).await?;
    check_sql(&j.sql, &j.settings, catalog_of(&state, &p).await?).await?;
    let i = state
        .store
        .start_job(&j, &who.user.name, start_from.as_deref())
        .await?;
    state.wake_scheduler.notify_one();
    Ok((StatusCode::CREATED, Json(i)))
}

async fn act_on_active(
    state: &AppState,
    who: &Principal,
    project: &str,
    job: &str,
    action: Action,
    extras: ActionExtras,
) -> Result<Json<Instance>> {
    let j = job_for(state, who, project, job, Level::Write).await?;
    let Some(active) = state.store.active_instance(&j.id).await? else {
        return Err(ServerError::Conflict(format!(
            "job '{job}' has no active instance to {action}; start it first"
        )));
    };
    let i = state
        .store
        .apply_action(&active.id, action, &who.user.name, None, extras)
        .await?;
    state.wake_scheduler.notify_one();
    Ok(Json(i))
}

#[utoipa::path(post, path = "/api/v1/projects/{project}/jobs/{job}/pause", tag = "lifecycle",
    params(("project" = String, Path), ("job" = String, Path)),
    responses((status = 200, body = Instance), (status = 409, body = ErrorBody)))]
async fn pause_job(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job)): Path<(String, String)>,
) -> Result<Json<Instance>> {
    // The worker stops with a savepoint (Flink's stop-with-savepoint); the node records its
    // path on the instance when it completes, and `resume` restores from it.
    let extras = ActionExtras {
        savepoint_timeout_ms: Some(state.savepoint_timeout_ms),
        ..Default::default()
    };
    act_on_active(&state, &who, &project, &job, Action::Pause, extras).await
}

#[utoipa::path(post, path = "/api/v1/projects/{project}/jobs/{job}/resume", tag = "lifecycle",
    params(("project" = String, Path), ("job" = String, Path)),
    responses((status = 200, body = Instance), (status = 409, body = ErrorBody)))]
async fn resume_job(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job)): Path<(String, String)>,
) -> Result<Json<Instance>> {
    act_on_active(
        &state,
        &who,
        &project,
        &job,
        Action::Resume,
        ActionExtras::default(),
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/projects/{project}/jobs/{job}/stop", tag = "lifecycle",
    params(("project" = String, Path), ("job" = String, Path)), request_body = StopRequest,
    responses((status = 200, body = Instance), (status = 409, body = ErrorBody)))]
async fn stop_job(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job)): Path<(String, String)>,
    OptBody(req): OptBody<StopRequest>,
) -> Result<Json<Instance>> {
    let extras = ActionExtras {
        savepoint_timeout_ms: req.savepoint.then_some(state.savepoint_timeout_ms),
        ..Default::default()
    };
    act_on_active(&state, &who, &project, &job, Action::Stop, extras).await
}

#[utoipa::path(get, path = "/api/v1/projects/{project}/jobs/{job}/instances", tag = "lifecycle",
    params(("project" = String, Path), ("job" = String, Path)),
    responses((status = 200, body = Vec<Instance>), (status = 404, body = ErrorBody)))]
async fn list_instances(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job)): Path<(String, String)>,
) -> Result<Json<Vec<Instance>>> {
    let j = job_for(&state, &who, &project, &job, Level::Read).await?;
    Ok(Json(state.store.list_instances(&j).await?))
}

#[utoipa::path(get, path = "/api/v1/projects/{project}/jobs/{job}/instances/{id}",
    tag = "lifecycle",
    params(("project" = String, Path), ("job" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Instance), (status = 404, body = ErrorBody)))]
async fn get_instance(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job, id)): Path<(String, String, String)>,
) -> Result<Json<Instance>> {
    let j = job_for(&state, &who, &project, &job, Level::Read).await?;
    Ok(Json(instance_of(&state, &j, &id).await?))
}

#[utoipa::path(delete, path = "/api/v1/projects/{project}/jobs/{job}/instances/{id}",
    tag = "lifecycle",
    params(("project" = String, Path), ("job" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Instance), (status = 409, body = ErrorBody)))]
async fn delete_instance(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job, id)): Path<(String, String, String)>,
) -> Result<Json<Instance>> {
    let j = job_for(&state, &who, &project, &job, Level::Write).await?;
    let i = instance_of(&state, &j, &id).await?;
    Ok(Json(
        state
            .store
            .apply_action(
                &i.id,
                Action::Delete,
                &who.user.name,
                None,
                ActionExtras::default(),
            )
            .await?,
    ))
}

#[utoipa::path(get,
    path = "/api/v1/projects/{project}/jobs/{job}/instances/{id}/transitions",
    tag = "lifecycle",
    params(("project" = String, Path), ("job" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Vec<Transition>), (status = 404, body = ErrorBody)))]
async fn list_transitions(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job, id)): Path<(String, String, String)>,
) -> Result<Json<Vec<Transition>>> {
    let j = job_for(&state, &who, &project, &job, Level::Read).await?;
    let i = instance_of(&state, &j, &id).await?;
    Ok(Json(state.store.transitions(&i.id).await?))
}

#[utoipa::path(get, path = "/api/v1/projects/{project}/jobs/{job}/instances/{id}/logs",
    tag = "lifecycle",
    params(("project" = String, Path), ("job" = String, Path), ("id" = String, Path),
           LogQuery),
    responses((status = 200, body = Vec<LogLine>), (status = 404, body = ErrorBody)))]
async fn instance_logs(
    State(state): State<AppState>,
    who: Principal,
    Path((project, job, id)): Path<(String, String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Vec<LogLine>>> {
    let j = job_for(&state, &who, &project, &job, Level::Read).await?;
    let i = instance_of(&state, &j, &id).await?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    Ok(Json(state.store.read_logs(&i.id, q.after, limit).await?))
}

#[utoipa::path(post, path = "/api/v1/sql/validate", tag = "sql", request_body = ValidateRequest,
    responses((status = 200, body = ValidateResponse), (status = 401, body = ErrorBody)))]
async fn validate_sql(
    State(state): State<AppState>,
    who: Principal,
    Body(req): Body<ValidateRequest>,
) -> Result<Json<ValidateResponse>> {
    req.settings.validate()?;
    let catalog = match &req.project {
        Some(name) => {
            let p = project_for(&state, &who, name, Level::Read).await?;
            catalog_of(&state, &p).await?
        }
        None => Vec::new(),
    };
    match check_sql(&req.sql, &req.settings, catalog).await {
        Ok(()) => Ok(Json(ValidateResponse {
            valid: true,
            error: None,
        })),
        Err(ServerError::InvalidSql(p)) => Ok(Json(ValidateResponse {
            valid: false,
            error: Some(p),
        })),
        Err(e) => Err(e),
    }
}

/// The project's catalog as jobs compile against it.
async fn catalog_of(state: &AppState, project: &Project) -> Result<Vec<CatalogDdl>> {
    Ok(state
        .store
        .list_catalog(project)
        .await?
        .into_iter()
        .map(|o| CatalogDdl {
            name: o.name,
            ddl: o.ddl,
        })
        .collect())
}

/// Checks a whole catalog (every object plans against the ones before it).
async fn check_catalog(catalog: Vec<CatalogDdl>) -> Result<()> {
    let options = compile_options(&JobSettings::default(), catalog);
    compile_checked(move || stc_sql::check_catalog(&options)).await
}

#[utoipa::path(get, path = "/api/v1/projects/{project}/catalog", tag = "catalog",
    params(("project" = String, Path)),
    responses((status = 200, body = Vec<CatalogObject>), (status = 404, body = ErrorBody)))]
async fn list_catalog(
    State(state): State<AppState>,
    who: Principal,
    Path(project): Path<String>,
) -> Result<Json<Vec<CatalogObject>>> {
    let p = project_for(&state, &who, &project, Level::Read).await?;
    Ok(Json(state.store.list_catalog(&p).await?))
}

#[utoipa::path(get, path = "/api/v1/projects/{project}/catalog/{name}", tag = "catalog",
    params(("project" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = CatalogObject), (status = 404, body = ErrorBody)))]
async fn get_catalog_object(
    State(state): State<AppState>,
    who: Principal,
    Path((project, name)): Path<(String, String)>,
) -> Result<Json<CatalogObject>> {
    let p = project_for(&state, &who, &project, Level::Read).await?;
    Ok(Json(state.store.get_catalog_object(&p, &name).await?))
}

#[utoipa::path(put, path = "/api/v1/projects/{project}/catalog/{name}", tag = "catalog",
    params(("project" = String, Path), ("name" = String, Path)),
    request_body = PutCatalogObjectRequest,
    responses((status = 201, body = CatalogObject), (status = 200, body = CatalogObject),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_catalog_object(
    State(state): State<AppState>,
    who: Principal,
    Path((project, name)): Path<(String, String)>,
    Body(req): Body<PutCatalogObjectRequest>,
) -> Result<(StatusCode, Json<CatalogObject>)> {
    let p = project_for(&state, &who, &project, Level::Write).await?;
    check_name("catalog object", &name)?;
    let kind = match stc_sql::parser::parse_script(&req.ddl)
        .ok()
        .as_deref()
        .and_then(|s| s.first())
        .map(|s| &s.node)
    {
        Some(stc_sql::parser::FlinkStatement::CreateView { .. }) => "view",
        _ => "table",
    };
    // The whole catalog with this object in place must compile: a view may use the objects
    // before it, and replacing a table must not break a view that uses it.
    let mut catalog = catalog_of(&state, &p).await?;
    match catalog.iter_mut().find(|c| c.name == name) {
        Some(c) => c.ddl = req.ddl.clone(),
        None => catalog.push(CatalogDdl {
            name: name.clone(),
            ddl: req.ddl.clone(),
        }),
    }
    check_catalog(catalog).await?;
    let (object, created) = state
        .store
        .put_catalog_object(&p, &name, kind, &req.ddl, &who.user.name)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(object)))
}

#[utoipa::path(delete, path = "/api/v1/projects/{project}/catalog/{name}", tag = "catalog",
    params(("project" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_catalog_object(
    State(state): State<AppState>,
    who: Principal,
    Path((project, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    let p = project_for(&state, &who, &project, Level::Write).await?;
    state.store.get_catalog_object(&p, &name).await?;
    let rest: Vec<CatalogDdl> = catalog_of(&state, &p)
        .await?
        .into_iter()
        .filter(|c| c.name != name)
        .collect();
    if let Err(ServerError::InvalidSql(problem)) = check_catalog(rest).await {
        return Err(ServerError::Conflict(format!(
            "catalog object '{name}' is used by the rest of the catalog: without it, {}",
            problem.message
        )));
    }
    state.store.delete_catalog_object(&p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The answer of a preview: `columns` (name, type), `rows` (`{op, row}`), `malformed`
/// (`{position, reason, raw_text, raw_hex}`: records that failed to decode), `ended`
/// (`limit`, `timeout` or `end of input`), `from` (`start`, or `latest` when the source read
/// from its end), `note`, `error` and `elapsed_ms`.
#[utoipa::path(post, path = "/api/v1/projects/{project}/catalog/{name}/preview", tag = "catalog",
    params(("project" = String, Path), ("name" = String, Path)), request_body = PreviewRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn preview_catalog_object(
    State(state): State<AppState>,
    who: Principal,
    Path((project, name)): Path<(String, String)>,
    OptBody(req): OptBody<PreviewRequest>,
) -> Result<Json<serde_json::Value>> {
    let p = project_for(&state, &who, &project, Level::Read).await?;
    state.store.get_catalog_object(&p, &name).await?;
    let limit = req.limit.unwrap_or(20);
    let timeout_ms = req.timeout_ms.unwrap_or(10_000);
    if !(1..=1000).contains(&limit) || !(1..=60_000).contains(&timeout_ms) {
        return Err(ServerError::BadRequest(
            "limit must be 1..1000 and timeout_ms 1..60000".into(),
        ));
    }
    // Sources run in a child process, never in the server (see ARCHITECTURE.md).
    tokio::fs::create_dir_all(&state.scratch_dir).await?;
    let catalog_file = state
        .scratch_dir
        .join(format!("{}.json", uuid::Uuid::new_v4().simple()));
    let catalog = serde_json::to_vec(&catalog_of(&state, &p).await?)
        .map_err(|e| ServerError::Internal(format!("catalog snapshot: {e}")))?;
    tokio::fs::write(&catalog_file, catalog).await?;
    let run = tokio::process::Command::new(&state.worker_exe)
        .args(["table", "preview", &name, "--output", "json", "--limit"])
        .arg(limit.to_string())
        .arg("--timeout")
        .arg(format!("{timeout_ms}ms"))
        .arg("--catalog")
        .arg(&catalog_file)
        .args(req.latest.unwrap_or(false).then_some("--latest"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    // The child stops itself at the timeout; this bounds a child that hangs anyway.
    let out =
        tokio::time::timeout(std::time::Duration::from_millis(timeout_ms + 15_000), run).await;
    let _ = tokio::fs::remove_file(&catalog_file).await;
    let out = out
        .map_err(|_| {
            ServerError::External(format!("the preview of '{name}' did not stop in time"))
        })?
        .map_err(|e| ServerError::Internal(format!("cannot start the preview process: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = stderr.trim().lines().last().unwrap_or("").to_string();
    if out.status.code() == Some(2) {
        return Err(ServerError::BadRequest(format!(
            "cannot preview '{name}': {message}"
        )));
    }
    let answer: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
    match answer {
        Some(v) if out.status.success() => Ok(Json(v)),
        answer => {
            let why = answer
                .as_ref()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(message);
            Err(ServerError::External(format!(
                "the preview of '{name}' failed: {why}"
            )))
        }
    }
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn no_route() -> ServerError {
    ServerError::NotFound("no such API route; see /api/v1/openapi.json".into())
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "StreamCompute API", description = "Projects, jobs and their instances. \
        Every route except login needs `Authorization: Bearer <token or access key>`."),
    paths(login, whoami, list_access_keys, create_access_key, delete_access_key, list_users,
          create_user, list_projects, create_project, get_project, delete_project,
          list_members, set_member, remove_member, list_jobs, create_job, get_job, update_job,
          delete_job, list_versions, start_job, pause_job, resume_job, stop_job,
          list_instances, get_instance, delete_instance, list_transitions, instance_logs,
          validate_sql, list_catalog, get_catalog_object, put_catalog_object,
          delete_catalog_object, preview_catalog_object),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    security(("token" = []))
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(login))
        .route("/auth/whoami", get(whoami))
        .route(
            "/access-keys",
            get(list_access_keys).post(create_access_key),
        )
        .route(
            "/access-keys/{id}",
            axum::routing::delete(delete_access_key),
        )
        .route("/users", get(list_users).post(create_user))
        .route("/projects", get(list_projects).post(create_project))
        .route(
            "/projects/{project}",
            get(get_project).delete(delete_project),
        )
        .route("/projects/{project}/members", get(list_members))
        .route(
            "/projects/{project}/members/{user}",
            put(set_member).delete(remove_member),
        )
        .route("/projects/{project}/jobs", get(list_jobs).post(create_job))
        .route(
            "/projects/{project}/jobs/{job}",
            get(get_job).put(update_job).delete(delete_job),
        )
        .route(
            "/projects/{project}/jobs/{job}/versions",
            get(list_versions),
        )
        .route("/projects/{project}/jobs/{job}/start", post(start_job))
        .route("/projects/{project}/jobs/{job}/pause", post(pause_job))
        .route("/projects/{project}/jobs/{job}/resume", post(resume_job))
        .route("/projects/{project}/jobs/{job}/stop", post(stop_job))
        .route(
            "/projects/{project}/jobs/{job}/instances",
            get(list_instances),
        )
        .route(
            "/projects/{project}/jobs/{job}/instances/{id}",
            get(get_instance).delete(delete_instance),
        )
        .route(
            "/projects/{project}/jobs/{job}/instances/{id}/transitions",
            get(list_transitions),
        )
        .route(
            "/projects/{project}/jobs/{job}/instances/{id}/logs",
            get(instance_logs),
        )
        .route("/projects/{project}/catalog", get(list_catalog))
        .route(
            "/projects/{project}/catalog/{name}",
            get(get_catalog_object)
                .put(put_catalog_object)
                .delete(delete_catalog_object),
        )
        .route(
            "/projects/{project}/catalog/{name}/preview",
            post(preview_catalog_object),
        )
        .route("/sql/validate", post(validate_sql))
        .route("/openapi.json", get(openapi_json))
        .fallback(no_route)
        .with_state(state);
    Router::new().nest("/api/v1", api).fallback(no_route)
}

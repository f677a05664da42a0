//! The metadata store: every table of `migrations/`, behind one type, on SQLite (one node)
//! or PostgreSQL (several nodes). Queries are written once in the SQL both databases accept
//! (`$n` parameters, `RETURNING`); the only dialect difference, "now in milliseconds", is
//! [`Store::now`]. Times come from the *database's* clock, so nodes whose clocks drift still
//! agree on when a lease expires.
//!
//! Every state change of an instance is one conditional `UPDATE … WHERE state = <expected>`
//! plus the row of `transitions` that records it, in one transaction: two requests racing on
//! one instance cannot both win.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::error::{Result, ServerError};
use crate::lifecycle::{Action, InstanceState, allowed_actions, transition};
use crate::model::{
    AccessKey, CatalogDdl, CatalogObject, Instance, InstanceError, Job, JobSettings, JobVersion,
    LogLine, Member, Project, Role, Transition, User,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
}

/// A node's proof that it holds an instance's lease: writes it makes for the instance only
/// apply while the lease still carries this epoch (the fencing token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseGuard {
    pub node: String,
    pub epoch: i64,
}

/// What a state change writes besides the state.
#[derive(Debug, Clone, Default)]
pub struct ActionExtras {
    pub error: Option<InstanceError>,
    pub detail: Option<String>,
    /// For `pause` and `stop`: ask the node running the instance for a savepoint, and give
    /// it this long to report one.
    pub savepoint_timeout_ms: Option<i64>,
}

/// An instance a node has just seized.
#[derive(Debug, Clone)]
pub struct Seized {
    pub instance_id: String,
    pub epoch: i64,
}

const INSTANCE_COLUMNS: &str = "i.id, i.job_id, i.version_id, v.version, i.state, i.start_from, \
     i.savepoint_path, i.error_domain, i.error_retry, i.error_message, i.restarts, i.counters, \
     i.lease_owner, i.lease_epoch, i.savepoint_deadline, i.created_at, i.updated_at";

/// A parameter of a statement assembled at run time.
enum Bind {
    Text(Option<String>),
    Int(i64),
}

/// This server's clock, for what is only shown (leases use the database's clock).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn settings_from(text: &str) -> Result<JobSettings> {
    serde_json::from_str(text)
        .map_err(|e| ServerError::Internal(format!("stored job settings are invalid: {e}")))
}

fn settings_text(s: &JobSettings) -> String {
    serde_json::to_string(s).expect("settings serialise")
}

fn state_from(text: &str) -> Result<InstanceState> {
    InstanceState::parse(text)
        .ok_or_else(|| ServerError::Internal(format!("unknown instance state '{text}' stored")))
}

fn instance_from(row: &AnyRow) -> Result<Instance> {
    let state = state_from(&row.try_get::<String, _>("state")?)?;
    let domain: Option<String> = row.try_get("error_domain")?;
    let error = match domain {
        Some(domain) => Some(InstanceError {
            domain,
            retry: row
                .try_get::<Option<String>, _>("error_retry")?
                .unwrap_or_default(),
            message: row
                .try_get::<Option<String>, _>("error_message")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let counters: String = row.try_get("counters")?;
    let lease_owner: Option<String> = row.try_get("lease_owner")?;
    Ok(Instance {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        version_id: row.try_get("version_id")?,
        version: row.try_get("version")?,
        state,
        allowed_actions: allowed_actions(state),
        start_from: row.try_get("start_from")?,
        savepoint_path: row.try_get("savepoint_path")?,
        savepoint_in_progress: row.try_get::<i64, _>("savepoint_deadline")? > now_ms(),
        error,
        restarts: row.try_get("restarts")?,
        counters: serde_json::from_str(&counters).unwrap_or(serde_json::Value::Null),
        // Only an instance that needs a worker is held by a node.
        node: lease_owner.filter(|_| state.needs_worker()),
        lease_epoch: row.try_get("lease_epoch")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn job_from(row: &AnyRow) -> Result<Job> {
    Ok(Job {
        id: row.try_get("id")?,
        project: row.try_get("project")?,
        name: row.try_get("name")?,
        sql: row.try_get("sql_text")?,
        settings: settings_from(&row.try_get::<String, _>("settings")?)?,
        active_instance_id: row.try_get("active_instance_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Connects and brings the schema up to date with the versioned migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            return Err(ServerError::Config(format!(
                "unsupported database URL '{url}': expected sqlite://… or postgres://…"
            )));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                // SQLite allows one writer; a few connections serve concurrent readers.
                Dialect::Sqlite => 4,
                Dialect::Postgres => 8,
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // Wait for the write lock instead of failing at once, and enforce the
                        // schema's ON DELETE CASCADE.
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        if dialect == Dialect::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        match dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await?,
            Dialect::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await?,
        }
        Ok(Store { pool, dialect })
    }

    /// A transaction. SQLite's starts IMMEDIATE, taking the write lock up front: a deferred
    /// one that reads and then writes fails with SQLITE_BUSY when another writer committed
    /// in between, instead of waiting.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The database's clock in milliseconds since the epoch, as an SQL expression.
    fn now(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// `sql` with every `{now}` replaced by [`Self::now`].
    fn q(&self, sql: &str) -> String {
        sql.replace("{now}", self.now())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- users and tokens ----------------------------------------------------------------

    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn create_user(&self, name: &str, password_hash: &str, admin: bool) -> Result<User> {
        let id = new_id();
        let r = sqlx::query(&self.q(
            "INSERT INTO users (id, name, password_hash, is_admin, created_at) \
             VALUES ($1, $2, $3, $4, {now}) RETURNING created_at",
        ))
        .bind(&id)
        .bind(name)
        .bind(password_hash)
        .bind(admin as i64)
        .fetch_one(&self.pool)
        .await;
        match r {
            Ok(row) => Ok(User {
                id,
                name: name.into(),
                is_admin: admin,
                created_at: row.try_get("created_at")?,
            }),
            Err(e) if is_unique_violation(&e) => Err(ServerError::AlreadyExists(format!(
                "user '{name}' already exists"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The user and their password hash.
    pub async fn find_user(&self, name: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query(
            "SELECT id, name, password_hash, is_admin, created_at FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok((
                User {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    is_admin: r.try_get::<i64, _>("is_admin")? != 0,
                    created_at: r.try_get("created_at")?,
                },
                r.try_get("password_hash")?,
            ))
        })
        .transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT id, name, is_admin, created_at FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(User {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    is_admin: r.try_get::<i64, _>("is_admin")? != 0,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Stores a token's hash. `ttl_ms = None` never expires (API access keys).
    pub async fn insert_token(
        &self,
        token_hash: &str,
        user_id: &str,
        kind: &str,
        name: &str,
        ttl_ms: Option<i64>,
    ) -> Result<AccessKey> {
        let id = new_id();
        let row = sqlx::query(&self.q(
            "INSERT INTO tokens (id, token_hash, user_id, kind, name, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, {now}, CASE WHEN $6 < 0 THEN NULL ELSE {now} + $6 END) \
             RETURNING created_at",
        ))
        .bind(&id)
        .bind(token_hash)
        .bind(user_id)
        .bind(kind)
        .bind(name)
        .bind(ttl_ms.unwrap_or(-1))
        .fetch_one(&self.pool)
        .await?;
        Ok(AccessKey {
            id,
            name: name.into(),
            created_at: row.try_get("created_at")?,
        })
    }

    /// The user an unexpired token belongs to.
    pub async fn user_for_token(&self, token_hash: &str) -> Result<Option<User>> {
        let row = sqlx::query(&self.q(
            "SELECT u.id, u.name, u.is_admin, u.created_at FROM tokens t \
             JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > {now})",
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(User {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                is_admin: r.try_get::<i64, _>("is_admin")? != 0,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    pub async fn list_access_keys(&self, user_id: &str) -> Result<Vec<AccessKey>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at FROM tokens WHERE user_id = $1 AND kind = 'key' \
             ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccessKey {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    pub async fn delete_access_key(&self, user_id: &str, key_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM tokens WHERE id = $1 AND user_id = $2 AND kind = 'key'")
            .bind(key_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    // ---- projects and members ------------------------------------------------------------

    /// Creates a project with `owner` as its owner.
    pub async fn create_project(
        &self,
        name: &str,
        description: &str,
        owner: &User,
    ) -> Result<Project> {
        let id = new_id();
        let mut tx = self.begin().await?;
        let r = sqlx::query(&self.q(
            "INSERT INTO projects (id, name, description, created_by, created_at) \
             VALUES ($1, $2, $3, $4, {now}) RETURNING created_at",
        ))
        .bind(&id)
        .bind(name)
        .bind(description)
        .bind(&owner.name)
        .fetch_one(&mut *tx)
        .await;
        let created_at: i64 = match r {
            Ok(row) => row.try_get("created_at")?,
            Err(e) if is_unique_violation(&e) => {
                return Err(ServerError::AlreadyExists(format!(
                    "project '{name}' already exists"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        sqlx::query("INSERT INTO members (project_id, user_id, role) VALUES ($1, $2, 'owner')")
            .bind(&id)
            .bind(&owner.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Project {
            id,
            name: name.into(),
            description: description.into(),
            created_by: owner.name.clone(),
            created_at,
        })
    }

    fn project_from(r: &AnyRow) -> Result<Project> {
        Ok(Project {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
        })
    }

    /// Projects `user` is a member of (every project for an administrator).
    pub async fn list_projects(&self, user: &User) -> Result<Vec<Project>> {
        let rows = sqlx::query(
            "SELECT id, name, description, created_by, created_at FROM projects p \
             WHERE $1 = 1 OR EXISTS (SELECT 1 FROM members m \
                                     WHERE m.project_id = p.id AND m.user_id = $2) \
             ORDER BY name",
        )
        .bind(user.is_admin as i64)
        .bind(&user.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::project_from).collect()
    }

    pub async fn get_project(&self, name: &str) -> Result<Project> {
        let row = sqlx::query(
            "SELECT id, name, description, created_by, created_at FROM projects WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Self::project_from(&r),
            None => Err(ServerError::not_found("project", name)),
        }
    }

    /// Deletes a project that has no active instance.
    pub async fn delete_project(&self, project: &Project) -> Result<()> {
        let r = sqlx::query(
            "DELETE FROM projects WHERE id = $1 AND NOT EXISTS \
             (SELECT 1 FROM jobs WHERE project_id = $1 AND active_instance_id IS NOT NULL)",
        )
        .bind(&project.id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(ServerError::Conflict(format!(
                "project '{}' has jobs with active instances: stop them first",
                project.name
            )));
        }
        Ok(())
    }

    pub async fn role_of(&self, project_id: &str, user_id: &str) -> Result<Option<Role>> {
        let row = sqlx::query("SELECT role FROM members WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>("role"))
            .transpose()?
            .and_then(|r| Role::parse(&r)))
    }

    pub async fn list_members(&self, project_id: &str) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT u.name, m.role FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.project_id = $1 ORDER BY u.name",
        )
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(Member {
                    user: r.try_get("name")?,
                    role: Role::parse(&role).ok_or_else(|| {
                        ServerError::Internal(format!("unknown role '{role}' stored"))
                    })?,
                })
            })
            .collect()
    }

    pub async fn set_member(&self, project_id: &str, user_id: &str, role: Role) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM members WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO members (project_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(project_id)
            .bind(user_id)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_member(&self, project_id: &str, user_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM members WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    // ---- jobs and versions ---------------------------------------------------------------

    const JOB_SELECT: &'static str = "SELECT j.id, p.name AS project, j.name, j.sql_text, \
         j.settings, j.active_instance_id, j.created_at, j.updated_at \
         FROM jobs j JOIN projects p ON p.id = j.project_id";

    pub async fn create_job(
        &self,
        project: &Project,
        name: &str,
        sql: &str,
        settings: &JobSettings,
    ) -> Result<Job> {
        let id = new_id();
        let r = sqlx::query(&self.q(
            "INSERT INTO jobs (id, project_id, name, sql_text, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, {now}, {now})",
        ))
        .bind(&id)
        .bind(&project.id)
        .bind(name)
        .bind(sql)
        .bind(settings_text(settings))
        .execute(&self.pool)
        .await;
        match r {
            Ok(_) => self.get_job(project, name).await,
            Err(e) if is_unique_violation(&e) => Err(ServerError::AlreadyExists(format!(
                "job '{name}' already exists in project '{}'",
                project.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_jobs(&self, project: &Project) -> Result<Vec<Job>> {
        let rows = sqlx::query(&format!(
            "{} WHERE j.project_id = $1 ORDER BY j.name",
            Self::JOB_SELECT
        ))
        .bind(&project.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from).collect()
    }

    pub async fn get_job(&self, project: &Project, name: &str) -> Result<Job> {
        let row = sqlx::query(&format!(
            "{} WHERE j.project_id = $1 AND j.name = $2",
            Self::JOB_SELECT
        ))
        .bind(&project.id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => job_from(&r),
            None => Err(ServerError::NotFound(format!(
                "job '{name}' does not exist in project '{}'",
                project.name
            ))),
        }
    }

    /// Replaces the job's draft. Running instances keep the version they started with.
    pub async fn update_job(&self, job: &Job, sql: &str, settings: &JobSettings) -> Result<()> {
        sqlx::query(
            &self.q(
                "UPDATE jobs SET sql_text = $1, settings = $2, updated_at = {now} WHERE id = $3",
            ),
        )
        .bind(sql)
        .bind(settings_text(settings))
        .bind(&job.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a job that has no active instance (its versions, instances and their history
    /// go with it).
    pub async fn delete_job(&self, job: &Job) -> Result<()> {
        let r = sqlx::query("DELETE FROM jobs WHERE id = $1 AND active_instance_id IS NULL")
            .bind(&job.id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            let active = self.active_instance(&job.id).await?;
            return Err(match active {
                Some(i) => ServerError::IllegalTransition {
                    action: Action::Delete,
                    state: i.state,
                    allowed: i.allowed_actions,
                },
                None => ServerError::not_found("job", &job.name),
            });
        }
        Ok(())
    }

    pub async fn list_versions(&self, job: &Job) -> Result<Vec<JobVersion>> {
        let rows = sqlx::query(
            "SELECT id, job_id, version, sql_text, settings, catalog, created_by, created_at \
             FROM job_versions WHERE job_id = $1 ORDER BY version",
        )
        .bind(&job.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::version_from).collect()
    }

    fn version_from(r: &AnyRow) -> Result<JobVersion> {
        Ok(JobVersion {
            id: r.try_get("id")?,
            job_id: r.try_get("job_id")?,
            version: r.try_get("version")?,
            sql: r.try_get("sql_text")?,
            settings: settings_from(&r.try_get::<String, _>("settings")?)?,
            catalog: serde_json::from_str(&r.try_get::<String, _>("catalog")?)
                .map_err(|e| ServerError::Internal(format!("stored catalog snapshot: {e}")))?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn get_version(&self, version_id: &str) -> Result<JobVersion> {
        let row = sqlx::query(
            "SELECT id, job_id, version, sql_text, settings, catalog, created_by, created_at \
             FROM job_versions WHERE id = $1",
        )
        .bind(version_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Self::version_from(&r),
            None => Err(ServerError::not_found("version", version_id)),
        }
    }

    // ---- the project catalog ---------------------------------------------------------------

    fn catalog_object_from(r: &AnyRow) -> Result<CatalogObject> {
        Ok(CatalogObject {
            name: r.try_get("name")?,
            kind: r.try_get("kind")?,
            ddl: r.try_get("ddl")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    /// The project's catalog in declaration order (creation time).
    pub async fn list_catalog(&self, project: &Project) -> Result<Vec<CatalogObject>> {
        let rows = sqlx::query(
            "SELECT name, kind, ddl, created_by, created_at, updated_at FROM catalog_objects \
             WHERE project_id = $1 ORDER BY created_at, name",
        )
        .bind(&project.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::catalog_object_from).collect()
    }

    /// Creates the object, or replaces the DDL of the one with that name (keeping its place
    /// in the declaration order). Returns it and whether it was created.
    pub async fn put_catalog_object(
        &self,
        project: &Project,
        name: &str,
        kind: &str,
        ddl: &str,
        actor: &str,
    ) -> Result<(CatalogObject, bool)> {
        let updated = sqlx::query(&self.q(
            "UPDATE catalog_objects SET kind = $1, ddl = $2, updated_at = {now} \
             WHERE project_id = $3 AND name = $4",
        ))
        .bind(kind)
        .bind(ddl)
        .bind(&project.id)
        .bind(name)
        .execute(&self.pool)
        .await?;
        let created = updated.rows_affected() == 0;
        if created {
            let r = sqlx::query(&self.q(
                "INSERT INTO catalog_objects (id, project_id, name, kind, ddl, created_by, \
                                              created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, {now}, {now})",
            ))
            .bind(new_id())
            .bind(&project.id)
            .bind(name)
            .bind(kind)
            .bind(ddl)
            .bind(actor)
            .execute(&self.pool)
            .await;
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(ServerError::Conflict(format!(
                        "catalog object '{name}' was created concurrently; retry"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok((self.get_catalog_object(project, name).await?, created))
    }

    pub async fn get_catalog_object(&self, project: &Project, name: &str) -> Result<CatalogObject> {
        let row = sqlx::query(
            "SELECT name, kind, ddl, created_by, created_at, updated_at FROM catalog_objects \
             WHERE project_id = $1 AND name = $2",
        )
        .bind(&project.id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Self::catalog_object_from(&r),
            None => Err(ServerError::not_found("catalog object", name)),
        }
    }

    pub async fn delete_catalog_object(&self, project: &Project, name: &str) -> Result<()> {
        let r = sqlx::query("DELETE FROM catalog_objects WHERE project_id = $1 AND name = $2")
            .bind(&project.id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(ServerError::not_found("catalog object", name));
        }
        Ok(())
    }

    // ---- instances -----------------------------------------------------------------------

    /// Snapshots the job's draft as a new version and creates an instance of it in
    /// `starting`. Fails with 409 while the job has an active instance: the conditional
    /// `UPDATE jobs … WHERE active_instance_id IS NULL` is the one place that decides.
    pub async fn start_job(
        &self,
        job: &Job,
        actor: &str,
        start_from: Option<&str>,
    ) -> Result<Instance> {
        let instance_id = new_id();
        let version_id = new_id();
        let mut tx = self.begin().await?;
        let claimed = sqlx::query(&self.q(
            "UPDATE jobs SET active_instance_id = $1, updated_at = {now} \
             WHERE id = $2 AND active_instance_id IS NULL",
        ))
        .bind(&instance_id)
        .bind(&job.id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(match self.active_instance(&job.id).await? {
                Some(i) => ServerError::IllegalTransition {
                    action: Action::Start,
                    state: i.state,
                    allowed: i.allowed_actions,
                },
                None => {
                    ServerError::Conflict(format!("job '{}' changed concurrently; retry", job.name))
                }
            });
        }
        // The draft and the catalog are read inside the transaction, so the version is what
        // the job and its project held when it was claimed.
        let catalog: Vec<CatalogDdl> = sqlx::query(
            "SELECT c.name, c.ddl FROM catalog_objects c JOIN jobs j ON j.project_id = c.project_id \
             WHERE j.id = $1 ORDER BY c.created_at, c.name",
        )
        .bind(&job.id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(CatalogDdl {
                name: r.try_get("name")?,
                ddl: r.try_get("ddl")?,
            })
        })
        .collect::<Result<_>>()?;
        sqlx::query(&self.q(
            "INSERT INTO job_versions (id, job_id, version, sql_text, settings, catalog, \
                                       created_by, created_at) \
             SELECT $1, j.id, \
                    COALESCE((SELECT MAX(version) FROM job_versions WHERE job_id = j.id), 0) + 1, \
                    j.sql_text, j.settings, $2, $3, {now} \
             FROM jobs j WHERE j.id = $4",
        ))
        .bind(&version_id)
        .bind(serde_json::to_string(&catalog).expect("serialises"))
        .bind(actor)
        .bind(&job.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&self.q(
            "INSERT INTO instances (id, job_id, version_id, state, start_from, created_at, \
                                    updated_at) \
             VALUES ($1, $2, $3, 'starting', $4, {now}, {now})",
        ))
        .bind(&instance_id)
        .bind(&job.id)
        .bind(&version_id)
        .bind(start_from)
        .execute(&mut *tx)
        .await?;
        self.record_transition(
            &mut tx,
            &instance_id,
            None,
            InstanceState::Starting,
            Action::Start,
            actor,
            None,
        )
        .await?;
        tx.commit().await?;
        self.get_instance(&instance_id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_transition(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        instance_id: &str,
        from: Option<InstanceState>,
        to: InstanceState,
        action: Action,
        actor: &str,
        detail: Option<&str>,
    ) -> Result<()> {
        sqlx::query(&self.q(
            "INSERT INTO transitions (instance_id, from_state, to_state, action, actor, detail, at) \
             VALUES ($1, $2, $3, $4, $5, $6, {now})",
        ))
        .bind(instance_id)
        .bind(from.map(|s| s.as_str()))
        .bind(to.as_str())
        .bind(action.as_str())
        .bind(actor)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn get_instance(&self, id: &str) -> Result<Instance> {
        let row = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances i \
             JOIN job_versions v ON v.id = i.version_id WHERE i.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => instance_from(&r),
            None => Err(ServerError::not_found("instance", id)),
        }
    }

    pub async fn active_instance(&self, job_id: &str) -> Result<Option<Instance>> {
        let row = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances i \
             JOIN job_versions v ON v.id = i.version_id \
             JOIN jobs j ON j.active_instance_id = i.id WHERE j.id = $1"
        ))
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(instance_from).transpose()
    }

    pub async fn list_instances(&self, job: &Job) -> Result<Vec<Instance>> {
        let rows = sqlx::query(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM instances i \
             JOIN job_versions v ON v.id = i.version_id \
             WHERE i.job_id = $1 AND i.state <> 'deleted' ORDER BY i.created_at, i.id"
        ))
        .bind(&job.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(instance_from).collect()
    }

    /// Applies `action` to the instance: decides with [`transition`] on the state read, and
    /// writes only if the state is still the one read (and, with `guard`, only while the
    /// node still holds the lease at that epoch). Losing that race yields 409 with the state
    /// the winner left.
    pub async fn apply_action(
        &self,
        instance_id: &str,
        action: Action,
        actor: &str,
        guard: Option<&LeaseGuard>,
        extras: ActionExtras,
    ) -> Result<Instance> {
        let current = self.get_instance(instance_id).await?;
        let from = current.state;
        let Some(to) = transition(from, action) else {
            return Err(ServerError::IllegalTransition {
                action,
                state: from,
                allowed: allowed_actions(from),
            });
        };
        // Parameters are numbered as they are added: PostgreSQL rejects parameters a
        // statement does not use.
        let mut sets = vec!["state = $1".to_string(), "updated_at = {now}".to_string()];
        let mut binds: Vec<Bind> = vec![Bind::Text(Some(to.as_str().into()))];
        let param = |binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        if !to.needs_worker() {
            // The node holding the lease notices at its next heartbeat and stops the worker.
            sets.push("lease_owner = NULL".into());
            sets.push("lease_expires = 0".into());
        }
        if action == Action::Restart {
            sets.push("restarts = restarts + 1".into());
        }
        if matches!(action, Action::Restart | Action::Fail) {
            let e = extras.error.clone();
            let d = param(&mut binds, Bind::Text(e.as_ref().map(|e| e.domain.clone())));
            let r = param(&mut binds, Bind::Text(e.as_ref().map(|e| e.retry.clone())));
            let m = param(
                &mut binds,
                Bind::Text(e.as_ref().map(|e| e.message.clone())),
            );
            sets.push(format!("error_domain = {d}"));
            sets.push(format!("error_retry = {r}"));
            sets.push(format!("error_message = {m}"));
        } else if matches!(action, Action::Resume | Action::Run) {
            // A fresh attempt; the last error stays in the transition history.
            sets.push("error_domain = NULL, error_retry = NULL, error_message = NULL".into());
        }
        if action == Action::Resume {
            // Counters are the worker's own; the resumed one reports from zero.
            sets.push("counters = '{}'".into());
        }
        if let Some(ms) = extras
            .savepoint_timeout_ms
            .filter(|_| matches!(action, Action::Pause | Action::Stop) && from.needs_worker())
        {
            // Only a worker that is up can take a savepoint: the right-hand sides of an
            // UPDATE read the row as it was, so this sees the lease being cleared above.
            let t = param(&mut binds, Bind::Int(ms));
            sets.push(format!(
                "savepoint_deadline = CASE WHEN state IN ('starting', 'running') \
                 AND lease_owner IS NOT NULL AND lease_expires >= {{now}} \
                 THEN {{now}} + {t} ELSE 0 END"
            ));
        }
        let id = param(&mut binds, Bind::Text(Some(instance_id.into())));
        let st = param(&mut binds, Bind::Text(Some(from.as_str().into())));
        let mut sql = format!(
            "UPDATE instances SET {} WHERE id = {id} AND state = {st}",
            sets.join(", ")
        );
        if action == Action::Resume {
            // The new worker must restore from the savepoint being taken, not an older one.
            sql.push_str(" AND savepoint_deadline < {now}");
        }
        if let Some(g) = guard {
            let n = param(&mut binds, Bind::Text(Some(g.node.clone())));
            let e = param(&mut binds, Bind::Int(g.epoch));
            sql.push_str(&format!(" AND lease_owner = {n} AND lease_epoch = {e}"));
        }
        let sql = self.q(&sql);
        let mut query = sqlx::query(&sql);
        for b in binds {
            query = match b {
                Bind::Text(t) => query.bind(t),
                Bind::Int(i) => query.bind(i),
            };
        }
        let mut tx = self.begin().await?;
        let updated = query.execute(&mut *tx).await?;
        if updated.rows_affected() == 0 {
            tx.rollback().await?;
            let now = self.get_instance(instance_id).await?;
            if now.state == from && action == Action::Resume && now.savepoint_in_progress {
                return Err(ServerError::Conflict(format!(
                    "instance {instance_id} is still taking the savepoint of its {}; resume it \
                     once the savepoint completes",
                    if from == InstanceState::Paused {
                        "pause"
                    } else {
                        "stop"
                    }
                )));
            }
            if now.state == from {
                // Same state, so the fencing condition failed.
                return Err(ServerError::Conflict(format!(
                    "instance {instance_id} is no longer held by this node (lease epoch changed)"
                )));
            }
            return Err(ServerError::IllegalTransition {
                action,
                state: now.state,
                allowed: now.allowed_actions,
            });
        }
        let detail = extras
            .detail
            .or_else(|| extras.error.as_ref().map(|e| e.message.clone()));
        self.record_transition(
            &mut tx,
            instance_id,
            Some(from),
            to,
            action,
            actor,
            detail.as_deref(),
        )
        .await?;
        if !to.is_active() {
            sqlx::query("UPDATE jobs SET active_instance_id = NULL WHERE active_instance_id = $1")
                .bind(instance_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.get_instance(instance_id).await
    }

    /// Whether the node holding lease `epoch` of the instance should stop its worker with a
    /// savepoint (a pause or a stop asked for one) rather than kill it.
    pub async fn savepoint_requested(&self, instance_id: &str, epoch: i64) -> Result<bool> {
        let row = sqlx::query(&self.q(
            "SELECT 1 AS yes FROM instances WHERE id = $1 AND lease_epoch = $2 \
             AND savepoint_deadline >= {now}",
        ))
        .bind(instance_id)
        .bind(epoch)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Records the outcome of a requested savepoint: its path, or why there is none (then a
    /// resume restores from the latest checkpoint). Ignored, returning false, when the
    /// instance moved on without it (its deadline passed and it was resumed on another
    /// epoch).
    pub async fn record_savepoint(
        &self,
        instance_id: &str,
        guard: &LeaseGuard,
        outcome: std::result::Result<&str, &str>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE instances SET savepoint_deadline = 0, \
                    savepoint_path = COALESCE($1, savepoint_path) \
             WHERE id = $2 AND lease_epoch = $3 AND savepoint_deadline > 0 \
             RETURNING state",
        )
        .bind(outcome.ok())
        .bind(instance_id)
        .bind(guard.epoch)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = updated else {
            tx.rollback().await?;
            return Ok(false);
        };
        let state = state_from(&row.try_get::<String, _>("state")?)?;
        let (action, detail) = match (state, outcome) {
            (InstanceState::Terminated, Ok(p)) => {
                (Action::Stop, format!("savepoint completed: {p}"))
            }
            (_, Ok(p)) => (Action::Pause, format!("savepoint completed: {p}")),
            (InstanceState::Terminated, Err(e)) => (Action::Stop, format!("no savepoint: {e}")),
            (_, Err(e)) => (
                Action::Pause,
                format!("no savepoint: {e}; resume restores from the latest checkpoint"),
            ),
        };
        let actor = format!("node:{}", guard.node);
        self.record_transition(
            &mut tx,
            instance_id,
            Some(state),
            state,
            action,
            &actor,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn transitions(&self, instance_id: &str) -> Result<Vec<Transition>> {
        let rows = sqlx::query(
            "SELECT from_state, to_state, action, actor, detail, at FROM transitions \
             WHERE instance_id = $1 ORDER BY id",
        )
        .bind(instance_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let from: Option<String> = r.try_get("from_state")?;
                let action: String = r.try_get("action")?;
                Ok(Transition {
                    from: from.as_deref().map(state_from).transpose()?,
                    to: state_from(&r.try_get::<String, _>("to_state")?)?,
                    action: crate::lifecycle::ALL_ACTIONS
                        .into_iter()
                        .find(|a| a.as_str() == action)
                        .ok_or_else(|| {
                            ServerError::Internal(format!("unknown action '{action}' stored"))
                        })?,
                    actor: r.try_get("actor")?,
                    detail: r.try_get("detail")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    // ---- scheduling: seize and heartbeat -------------------------------------------------

    /// The seed's `seizeInstance`: claims one instance that needs a worker and whose lease
    /// is free or expired, with one conditional UPDATE. The condition is checked again on
    /// the row being updated, so of two nodes racing for one instance exactly one gets it;
    /// the epoch grows with every seize and fences off the previous holder.
    pub async fn seize(&self, node: &str, lease_ms: i64) -> Result<Option<Seized>> {
        let row = sqlx::query(&self.q(
            "UPDATE instances SET lease_owner = $1, lease_expires = {now} + $2, \
                                  lease_epoch = lease_epoch + 1 \
             WHERE id = (SELECT id FROM instances \
                         WHERE state IN ('starting', 'running') AND lease_expires < {now} \
                         ORDER BY updated_at LIMIT 1) \
               AND state IN ('starting', 'running') AND lease_expires < {now} \
             RETURNING id, lease_epoch",
        ))
        .bind(node)
        .bind(lease_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Seized {
                instance_id: r.try_get("id")?,
                epoch: r.try_get("lease_epoch")?,
            })
        })
        .transpose()
    }

    /// The seed's `heartbeatInstances`: renews every lease `node` still holds on instances
    /// that still need a worker, and returns them with their epochs. An instance missing
    /// from the answer was paused, stopped or taken over: its worker must stop.
    pub async fn heartbeat(&self, node: &str, lease_ms: i64) -> Result<Vec<Seized>> {
        let rows = sqlx::query(&self.q("UPDATE instances SET lease_expires = {now} + $2 \
             WHERE lease_owner = $1 AND state IN ('starting', 'running') \
               AND lease_expires >= {now} \
             RETURNING id, lease_epoch"))
        .bind(node)
        .bind(lease_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Seized {
                    instance_id: r.try_get("id")?,
                    epoch: r.try_get("lease_epoch")?,
                })
            })
            .collect()
    }

    /// Gives up every lease of `node` (graceful shutdown), so other nodes take the instances
    /// over at once instead of after the lease timeout.
    pub async fn release_all(&self, node: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE instances SET lease_owner = NULL, lease_expires = 0 WHERE lease_owner = $1",
        )
        .bind(node)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Stores the worker's counters, if `guard` still holds the lease.
    pub async fn update_counters(
        &self,
        instance_id: &str,
        guard: &LeaseGuard,
        counters: &serde_json::Value,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE instances SET counters = $1 \
             WHERE id = $2 AND lease_owner = $3 AND lease_epoch = $4",
        )
        .bind(counters.to_string())
        .bind(instance_id)
        .bind(&guard.node)
        .bind(guard.epoch)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    // ---- logs ----------------------------------------------------------------------------

    pub async fn append_logs(
        &self,
        instance_id: &str,
        node: &str,
        lines: &[(&'static str, String)],
    ) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for (stream, line) in lines {
            sqlx::query(&self.q(
                "INSERT INTO instance_logs (instance_id, node_id, stream, line, at) \
                 VALUES ($1, $2, $3, $4, {now})",
            ))
            .bind(instance_id)
            .bind(node)
            .bind(*stream)
            .bind(line)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Log lines with an id greater than `after`, oldest first.
    pub async fn read_logs(
        &self,
        instance_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LogLine>> {
        let rows = sqlx::query(
            "SELECT id, node_id, stream, line, at FROM instance_logs \
             WHERE instance_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(instance_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LogLine {
                    id: r.try_get("id")?,
                    node: r.try_get("node_id")?,
                    stream: r.try_get("stream")?,
                    line: r.try_get("line")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}

//! Authentication (who is calling) and authorisation (may they do this).
//!
//! * Passwords are stored as Argon2id PHC strings.
//! * Login tokens (expiring) and API access keys (until deleted) are random 32-byte secrets
//!   shown once; the store keeps only their SHA-256, so a leaked database does not leak
//!   usable credentials. Both are sent as `Authorization: Bearer <secret>`.
//! * **Every authorisation decision is made by [`authorize`]**: handlers say what they are
//!   about to do ([`Permission`]) and get the caller's role back or a 403. Condition-based
//!   policies (source IP, MFA, time windows) will be added there and only there.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::api::AppState;
use crate::error::{Result, ServerError};
use crate::model::{Project, Role, User};
use crate::store::Store;

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh secret: `prefix` + 64 hex digits of randomness.
pub fn new_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::rng().random();
    let mut s = String::with_capacity(prefix.len() + 64);
    s.push_str(prefix);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub fn token_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The authenticated caller of a request. Taking it as a handler argument is what makes a
/// route authenticated: without valid credentials the handler is never called (401).
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ServerError::Unauthenticated(
                    "no Authorization header; log in (POST /api/v1/auth/login) and send \
                     'Authorization: Bearer <token>'"
                        .into(),
                )
            })?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ServerError::Unauthenticated(
                    "the Authorization header must be 'Bearer <token>'".into(),
                )
            })?;
        match state.store.user_for_token(&token_hash(secret)).await? {
            Some(user) => Ok(Principal { user }),
            None => Err(ServerError::Unauthenticated(
                "the token is unknown or has expired; log in again".into(),
            )),
        }
    }
}

/// What a request is about to do.
#[derive(Debug, Clone, Copy)]
pub enum Permission<'a> {
    /// Create, list or delete accounts.
    ManageUsers,
    /// Create a new project (any signed-in user; they become its owner).
    CreateProject,
    /// Read the project, its jobs, instances and logs.
    ReadProject(&'a Project),
    /// Create, edit, start, pause, resume, stop or delete the project's jobs.
    WriteProject(&'a Project),
    /// Manage members, delete the project.
    AdministerProject(&'a Project),
}

/// The one authorisation check. Returns the caller's role in the project (administrators
/// act as owners of every project), or 403 — or 404 for a project the caller may not even
/// see, so project names do not leak to non-members.
pub async fn authorize(
    store: &Store,
    who: &Principal,
    what: Permission<'_>,
) -> Result<Option<Role>> {
    let (project, needed) = match what {
        Permission::ManageUsers => {
            return if who.user.is_admin {
                Ok(None)
            } else {
                Err(ServerError::Forbidden(
                    "only administrators manage users".into(),
                ))
            };
        }
        Permission::CreateProject => return Ok(None),
        Permission::ReadProject(p) => (p, Role::Viewer),
        Permission::WriteProject(p) => (p, Role::Editor),
        Permission::AdministerProject(p) => (p, Role::Owner),
    };
    let role = if who.user.is_admin {
        Some(Role::Owner)
    } else {
        store.role_of(&project.id, &who.user.id).await?
    };
    match role {
        None => Err(ServerError::not_found("project", &project.name)),
        Some(r) if r >= needed => Ok(Some(r)),
        Some(r) => Err(ServerError::Forbidden(format!(
            "user '{}' is {} of project '{}'; this needs the {} role",
            who.user.name,
            r.as_str(),
            project.name,
            needed.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("s3cret").unwrap();
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("s3cret ", &h));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn secrets_are_unique_and_hashes_stable() {
        let a = new_secret("stc_");
        let b = new_secret("stc_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}

//! API keys: long-lived bearer secrets, shown once, stored hashed, optionally
//! bound to one organization.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Hold};
use super::permissions::Permission;
use super::sessions::{Caller, API_KEY_PREFIX};
use super::tokens::{hash_secret, new_secret};
use super::{new_id, now_ms, rfc3339, Ctx, DomainError, DomainResult, MS_PER_DAY};
use crate::store::rows::ApiKeyRow;
use crate::store::schema::api_keys;

/// An API key. `secret` appears only in the answer to `user/createapikey`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub apikeyid: String,
    pub name: String,
    /// The organization the key is bound to, or null for an unbound key.
    #[schema(required = true)]
    pub organizationid: Option<String>,
    #[schema(format = DateTime)]
    pub createdat: String,
    #[schema(format = DateTime, required = true)]
    pub expiresat: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub lastusedat: Option<String>,
    /// The bearer secret, shown once on creation and never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> ApiKey {
        ApiKey {
            apikeyid: row.id,
            name: row.name,
            organizationid: row.organization_id,
            createdat: rfc3339(row.created_at),
            expiresat: row.expires_at.map(rfc3339),
            lastusedat: row.last_used_at.map(rfc3339),
            secret: None,
        }
    }
}

/// Makes a key for the caller. A key bound to an organization needs the caller
/// to be its member; a caller using a bound key may only make keys bound to
/// the same organization, so a key never mints a wider one.
pub fn create(
    ctx: &Ctx,
    caller: &Caller,
    name: &str,
    organization_id: Option<&str>,
    expires_in_days: Option<u32>,
) -> DomainResult<ApiKey> {
    let secret = format!("{API_KEY_PREFIX}{}", new_secret());
    let now = now_ms();
    let row = ctx.store.write(|conn| {
        // A bound caller's key is bound to the same organization: the gate
        // answers 403 for any other, and 404 where the caller is no member.
        let organization_id = if organization_id.is_some() || caller.bound_organization().is_some()
        {
            let member = access::organization(
                conn,
                caller,
                organization_id,
                Permission::OrganizationRead,
                Hold::Nothing,
            )?;
            Some(member.organization_id().to_string())
        } else {
            None
        };
        let row = ApiKeyRow {
            id: new_id(),
            user_id: caller.user_id.clone(),
            organization_id,
            name: name.trim().to_string(),
            secret_hash: hash_secret(&secret),
            created_at: now,
            expires_at: expires_in_days.map(|days| now + i64::from(days) * MS_PER_DAY),
            last_used_at: None,
            // What an organization enforcing its SSO asks of the session
            // that made the key (API.md §9): a key inherits it.
            sso_organization_id: caller.sso_organization().map(str::to_string),
        };
        diesel::insert_into(api_keys::table)
            .values(&row)
            .execute(conn)?;
        Ok::<_, DomainError>(row)
    })?;
    let mut key = ApiKey::from(row);
    key.secret = Some(secret);
    Ok(key)
}

/// The caller's keys, oldest first, without secrets.
/// A caller using a key bound to an organization sees only the keys bound
/// there, as it sees only that organization.
pub fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<ApiKey>> {
    let bound = caller.bound_organization().map(str::to_string);
    ctx.store.read(|conn| {
        let mut query = api_keys::table
            .filter(api_keys::user_id.eq(&caller.user_id))
            .into_boxed();
        if let Some(bound) = &bound {
            query = query.filter(api_keys::organization_id.eq(bound.clone()));
        }
        let rows = query
            .order(api_keys::id.asc())
            .select(ApiKeyRow::as_select())
            .load(conn)?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    })
}

/// Deletes one of the caller's keys; it answers 401 from its next use.
pub fn delete(ctx: &Ctx, caller: &Caller, api_key_id: &str) -> DomainResult<()> {
    let bound = caller.bound_organization().map(str::to_string);
    ctx.store.write(|conn| {
        let key: ApiKeyRow = api_keys::table
            .filter(api_keys::id.eq(api_key_id))
            .filter(api_keys::user_id.eq(&caller.user_id))
            .select(ApiKeyRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| DomainError::not_found("API key not found"))?;
        if bound.is_some() && key.organization_id != bound {
            return Err(DomainError::forbidden(
                "a key bound to an organization may delete only keys bound to it",
            ));
        }
        diesel::delete(api_keys::table.find(&key.id)).execute(conn)?;
        Ok(())
    })
}

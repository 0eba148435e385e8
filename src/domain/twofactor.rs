//! Turning TOTP two-factor on and off (API.md §2 and §5): a seed to
//! confirm with a code, then ten recovery codes, each good once. The seed is
//! stored sealed (AEAD under a key derived from the server's secret) and
//! recovery codes as keyed hashes, so a dump of the database holds no factor
//! that works. Checking a code is the kernel's ([`second_factor`]).

use diesel::prelude::*;
use rand::RngCore;
use serde::Serialize;
use utoipa::ToSchema;

use super::kernel::second_factor::{
    self, code_hash, matching_step, normalized_code, seed_of, totp,
};
use super::sessions::Caller;
use super::{new_id, now_ms, ConflictReason, Ctx, DomainError, DomainResult};
use crate::store::rows::RecoveryCodeRow;
use crate::store::schema::{recovery_codes, users};
use crate::store::{DbConn, Lookups};

/// The purpose the TOTP sealing key is derived for.
pub const SEALING_PURPOSE: &str = "collabd totp v1";
/// Bytes of a seed: 160 bits, as RFC 4226 recommends.
const SEED_BYTES: usize = 20;
const RECOVERY_CODES: usize = 10;
/// The alphabet of recovery codes: Crockford's base32 in lower case (digits
/// and letters without i, l, o and u), 5 bits a symbol.
const CODE_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Symbols per recovery code: 16 × 5 = 80 bits, written in groups of four.
const CODE_SYMBOLS: usize = 16;

/// `twofactor` of `user/enabletwofactor`: what an authenticator app needs.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorSetup {
    /// The seed, base32 (RFC 4648, no padding), for typing into an app.
    pub secret: String,
    /// The same as an `otpauth://totp/…` URL, for a QR code.
    pub otpauthurl: String,
}

/// `twofactor` of `user/confirmtwofactor`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorEnabled {
    /// Always true.
    pub enabled: bool,
    /// Ten codes, each of which works once in place of `otp`. Shown this
    /// once; only their keyed hashes are kept.
    pub recoverycodes: Vec<String>,
}

fn new_recovery_code() -> String {
    let mut bytes = [0u8; CODE_SYMBOLS];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let symbols: Vec<char> = bytes
        .iter()
        .map(|b| CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char)
        .collect();
    symbols
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

fn needs_session(caller: &Caller) -> DomainResult<()> {
    if caller.api_key.is_some() {
        return Err(DomainError::forbidden(
            "two-factor settings need a session, not an API key",
        ));
    }
    Ok(())
}

fn already_enabled() -> DomainError {
    DomainError::conflict(
        ConflictReason::TwoFactorEnabled,
        "two-factor is already on; turn it off first to start again",
    )
}

/// `user/enabletwofactor`: a new seed, kept until confirmed (a later call
/// replaces it). Nothing is in force until `user/confirmtwofactor`.
pub fn begin(
    ctx: &Ctx,
    caller: &Caller,
    current_password: Option<&str>,
) -> DomainResult<TwoFactorSetup> {
    needs_session(caller)?;
    let user = ctx.store.read(|conn| caller.account(conn))?;
    if user.totp_enabled {
        return Err(already_enabled());
    }
    ctx.passwords
        .check_current(&ctx.limits.logins, &user, current_password)?;
    let mut seed = vec![0u8; SEED_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let generator = totp(seed, &user.email);
    let secret = generator.get_secret_base32();
    let sealed = ctx.totp_sealer.seal(&secret);
    ctx.store.write(|conn| {
        conn.lock_user(&user.id)?;
        if conn.user(&user.id)?.totp_enabled {
            return Err(already_enabled());
        }
        diesel::update(users::table.find(&user.id))
            .set((
                users::totp_secret.eq(&sealed),
                users::totp_last_step.eq(None::<i64>),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    Ok(TwoFactorSetup {
        secret,
        otpauthurl: generator.get_url(),
    })
}

/// `user/confirmtwofactor`: a current code of the seed from `begin` turns
/// two-factor on and makes ten recovery codes.
pub fn confirm(ctx: &Ctx, caller: &Caller, otp: &str) -> DomainResult<TwoFactorEnabled> {
    needs_session(caller)?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let result = ctx.store.write(|conn| {
        conn.lock_user(&caller.user_id)?;
        let user = caller.account(conn)?;
        if user.totp_enabled {
            return Err(already_enabled());
        }
        if user.totp_secret.is_none() {
            return Err(DomainError::conflict(
                ConflictReason::TwoFactorNotStarted,
                "no secret to confirm: call user/enabletwofactor first, then send a code of it",
            ));
        }
        ctx.limits.logins.check_on(conn, &user.email)?;
        let seed = seed_of(ctx, &user)?;
        let Some(step) = matching_step(&seed, otp.trim(), now_ms(), user.totp_last_step) else {
            ctx.limits.logins.hit_after(&user.email);
            return Err(DomainError::forbidden(
                "otp is not a current code of the secret from user/enabletwofactor",
            ));
        };
        diesel::update(users::table.find(&user.id))
            .set((users::totp_enabled.eq(true), users::totp_last_step.eq(step)))
            .execute(conn)?;
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(&user.id)))
            .execute(conn)?;
        for code in &codes {
            let row = RecoveryCodeRow {
                id: new_id(),
                user_id: user.id.clone(),
                code_hash: code_hash(ctx, &user.id, &normalized_code(code)),
                used_at: None,
            };
            diesel::insert_into(recovery_codes::table)
                .values(&row)
                .execute(conn)?;
        }
        Ok(user.email)
    });
    result?;
    Ok(TwoFactorEnabled {
        enabled: true,
        recoverycodes: codes,
    })
}

/// `user/disabletwofactor`: a current code or a recovery code turns it off
/// and forgets the seed and the codes. Off already: nothing to do.
pub fn disable(ctx: &Ctx, caller: &Caller, otp: &str) -> DomainResult<()> {
    needs_session(caller)?;
    ctx.store.write(|conn| {
        conn.lock_user(&caller.user_id)?;
        let user = caller.account(conn)?;
        if !user.totp_enabled {
            return Ok(());
        }
        second_factor::verify(ctx, conn, &user, Some(otp))?.map_err(second_factor::refused)?;
        turn_off(conn, &user.id)
    })
}

fn turn_off(conn: &mut DbConn, user_id: &str) -> DomainResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::totp_enabled.eq(false),
            users::totp_secret.eq(None::<String>),
            users::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_have_80_bits_in_groups_and_normalize() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        assert_eq!(normalized_code(&code.to_uppercase()), code.replace('-', ""));
        assert_ne!(new_recovery_code(), code);
    }
}

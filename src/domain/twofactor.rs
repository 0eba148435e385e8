//! TOTP two-factor (API.md §2 and §5): RFC 6238 with SHA-1, 6 digits and
//! 30-second steps, one step of drift either way; ten recovery codes, each
//! good once. The seed is stored sealed (AEAD under a key derived from the
//! server's secret) and recovery codes as keyed hashes, so a dump of the
//! database holds no factor that works.

use diesel::prelude::*;
use rand::RngCore;
use serde::Serialize;
use totp_rs::{Algorithm, TOTP};
use utoipa::ToSchema;

use super::accounts::load_user;
use super::sessions::Caller;
use super::{new_id, now_ms, ConflictReason, Ctx, DomainError, DomainResult};
use crate::store::lock_user;
use crate::store::rows::{RecoveryCodeRow, UserRow};
use crate::store::schema::{recovery_codes, users};
use crate::store::DbConn;

/// The purpose the TOTP sealing key is derived for.
pub const SEALING_PURPOSE: &str = "collabd totp v1";
/// The name authenticator apps show beside the account.
const ISSUER: &str = "collabd";
const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;
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

/// Why a second factor was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpProblem {
    /// None was given.
    Missing,
    /// It was not a current code nor an unused recovery code, or its time
    /// step was used already.
    Wrong,
}

fn totp(seed: Vec<u8>, account: &str) -> TOTP {
    // Unchecked: the seed is ours and long enough; the account name is an
    // email address, shown by the app, and never parsed back.
    TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECONDS,
        seed,
        Some(ISSUER.to_string()),
        account.to_string(),
    )
}

fn seed_of(ctx: &Ctx, user: &UserRow) -> DomainResult<Vec<u8>> {
    let sealed = user
        .totp_secret
        .as_deref()
        .ok_or_else(|| DomainError::Internal("no TOTP seed".into()))?;
    let base32 = ctx
        .totp_sealer
        .open(sealed)
        .ok_or_else(|| DomainError::Internal("the TOTP seed does not open".into()))?;
    totp_rs::Secret::Encoded(base32)
        .to_bytes()
        .map_err(|e| DomainError::Internal(format!("TOTP seed: {e:?}")))
}

/// The time step of `code` if it is the code of the current step or of one
/// step either side, and that step is later than `last_used`.
fn matching_step(seed: &[u8], code: &str, now_ms: i64, last_used: Option<i64>) -> Option<i64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let generator = totp(seed.to_vec(), "");
    let now_step = (now_ms.max(0) as u64 / 1000) / STEP_SECONDS;
    [now_step.saturating_sub(1), now_step, now_step + 1]
        .into_iter()
        .filter(|step| last_used.is_none_or(|last| (*step as i64) > last))
        .find(|step| {
            let expected = generator.generate(step * STEP_SECONDS);
            // Constant time: a code is compared whole.
            expected
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
        })
        .map(|step| step as i64)
}

/// A recovery code as typed, reduced to its symbols.
fn normalized_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn code_hash(ctx: &Ctx, user_id: &str, code: &str) -> String {
    ctx.totp_sealer
        .fingerprint(&[b"recovery code", user_id.as_bytes(), code.as_bytes()])
}

/// The hashes `code` may be stored under: the current secret's, and those
/// of previous secrets still accepted while it is rotated.
fn code_hashes(ctx: &Ctx, user_id: &str, code: &str) -> Vec<String> {
    ctx.totp_sealer
        .fingerprints(&[b"recovery code", user_id.as_bytes(), code.as_bytes()])
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

/// Checks the second factor of `user` (whose row is locked in this
/// transaction) and uses it up: a TOTP code's step, or a recovery code. An
/// account without two-factor passes whatever `otp` says. A code given counts
/// toward the login limit of the account's address when wrong, and past the
/// limit is refused (429) unjudged.
pub fn verify(
    ctx: &Ctx,
    conn: &mut DbConn,
    user: &UserRow,
    otp: Option<&str>,
) -> DomainResult<Result<(), OtpProblem>> {
    if !user.totp_enabled {
        return Ok(Ok(()));
    }
    let Some(otp) = otp.map(str::trim).filter(|o| !o.is_empty()) else {
        return Ok(Err(OtpProblem::Missing));
    };
    // Guesses meet the login limit here, the one place every code is judged:
    // past it 429 before the code is looked at, and a wrong one counts.
    ctx.limits.logins.check(&user.email)?;
    let now = now_ms();
    let seed = seed_of(ctx, user)?;
    if let Some(step) = matching_step(&seed, otp, now, user.totp_last_step) {
        diesel::update(users::table.find(&user.id))
            .set(users::totp_last_step.eq(step))
            .execute(conn)?;
        return Ok(Ok(()));
    }
    let hashes = code_hashes(ctx, &user.id, &normalized_code(otp));
    let used = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(&user.id))
            .filter(recovery_codes::code_hash.eq_any(&hashes))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)?;
    if used == 1 {
        return Ok(Ok(()));
    }
    let _ = ctx.limits.logins.hit(&user.email);
    Ok(Err(OtpProblem::Wrong))
}

/// The refusal of a call that hands out a session (API.md §2): 401
/// `otp_required` or `otp_invalid`.
pub fn unauthenticated(problem: OtpProblem) -> DomainError {
    match problem {
        OtpProblem::Missing => DomainError::SecondFactor {
            reason: super::OtpReason::Required,
            message: "this account has two-factor on: send otp, a current code from the \
                      authenticator app or a recovery code"
                .into(),
        },
        OtpProblem::Wrong => DomainError::SecondFactor {
            reason: super::OtpReason::Invalid,
            message: "otp is not a current code nor an unused recovery code".into(),
        },
    }
}

/// The refusal of a signed-in call that needs the second factor (turning it
/// off, closing the account): the session is fine, the code is not.
pub fn refused(problem: OtpProblem) -> DomainError {
    match problem {
        OtpProblem::Missing => DomainError::forbidden(
            "this account has two-factor on: send otp, a current code or a recovery code",
        ),
        OtpProblem::Wrong => {
            DomainError::forbidden("otp is not a current code nor an unused recovery code")
        }
    }
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
    let user = ctx.store.read(|conn| load_user(conn, &caller.user_id))?;
    if user.totp_enabled {
        return Err(already_enabled());
    }
    super::accounts::check_current_password(ctx, &user, current_password)?;
    let mut seed = vec![0u8; SEED_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let generator = totp(seed, &user.email);
    let secret = generator.get_secret_base32();
    let sealed = ctx.totp_sealer.seal(&secret);
    ctx.store.write(|conn| {
        lock_user(conn, &user.id)?;
        if load_user(conn, &user.id)?.totp_enabled {
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
        lock_user(conn, &caller.user_id)?;
        let user = load_user(conn, &caller.user_id)?;
        if user.totp_enabled {
            return Err(already_enabled());
        }
        if user.totp_secret.is_none() {
            return Err(DomainError::conflict(
                ConflictReason::TwoFactorNotStarted,
                "no secret to confirm: call user/enabletwofactor first, then send a code of it",
            ));
        }
        ctx.limits.logins.check(&user.email)?;
        let seed = seed_of(ctx, &user)?;
        let Some(step) = matching_step(&seed, otp.trim(), now_ms(), user.totp_last_step) else {
            let _ = ctx.limits.logins.hit(&user.email);
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
        lock_user(conn, &caller.user_id)?;
        let user = load_user(conn, &caller.user_id)?;
        if !user.totp_enabled {
            return Ok(());
        }
        verify(ctx, conn, &user, Some(otp))?.map_err(refused)?;
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
    fn codes_match_their_step_and_one_either_side_once() {
        let seed = b"12345678901234567890".to_vec();
        // RFC 6238's SHA-1 vector at 59 s is 94287082: its last six digits.
        let code = totp(seed.clone(), "a@example.com").generate(59);
        assert_eq!(code, "287082");
        let at = 59_000;
        assert_eq!(matching_step(&seed, "287082", at, None), Some(1));
        assert_eq!(matching_step(&seed, "287082", at + 30_000, None), Some(1));
        assert_eq!(matching_step(&seed, "287082", at + 60_000, None), None);
        assert_eq!(
            matching_step(&seed, "287082", at, Some(1)),
            None,
            "replayed"
        );
        assert_eq!(matching_step(&seed, "28708", at, None), None);
        assert_eq!(matching_step(&seed, "28708x", at, None), None);
    }

    #[test]
    fn recovery_codes_have_80_bits_in_groups_and_normalize() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        assert_eq!(normalized_code(&code.to_uppercase()), code.replace('-', ""));
        assert_ne!(new_recovery_code(), code);
    }
}

//! The second factor as every path that hands out a session or needs the
//! holder's say-so checks it (API.md §2): TOTP (RFC 6238 with SHA-1, 6
//! digits, 30-second steps, one step of drift either way, each step good
//! once) or an unused recovery code. The seed is stored sealed and recovery
//! codes as keyed hashes; turning two-factor on and off is `twofactor`'s.

use diesel::prelude::*;
use totp_rs::{Algorithm, TOTP};

use super::context::Ctx;
use super::error::{DomainError, DomainResult, OtpReason};
use crate::clock::now_ms;
use crate::store::rows::UserRow;
use crate::store::schema::{recovery_codes, users};
use crate::store::DbConn;

/// The name authenticator apps show beside the account.
const ISSUER: &str = "collabd";
const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;

/// Why a second factor was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpProblem {
    /// None was given.
    Missing,
    /// It was not a current code nor an unused recovery code, or its time
    /// step was used already.
    Wrong,
}

pub fn totp(seed: Vec<u8>, account: &str) -> TOTP {
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

pub fn seed_of(ctx: &Ctx, user: &UserRow) -> DomainResult<Vec<u8>> {
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
pub fn matching_step(seed: &[u8], code: &str, now_ms: i64, last_used: Option<i64>) -> Option<i64> {
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
pub fn normalized_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

pub fn code_hash(ctx: &Ctx, user_id: &str, code: &str) -> String {
    ctx.totp_sealer
        .fingerprint(&[b"recovery code", user_id.as_bytes(), code.as_bytes()])
}

/// The hashes `code` may be stored under: the current secret's, and those
/// of previous secrets still accepted while it is rotated.
fn code_hashes(ctx: &Ctx, user_id: &str, code: &str) -> Vec<String> {
    ctx.totp_sealer
        .fingerprints(&[b"recovery code", user_id.as_bytes(), code.as_bytes()])
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
    // (On this transaction's connection; a wrong code is counted once the
    // request's work is over, since its refusal rolls the transaction back.)
    ctx.limits.logins.check_on(conn, &user.email)?;
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
    ctx.limits.logins.hit_after(&user.email);
    Ok(Err(OtpProblem::Wrong))
}

/// The refusal of a call that hands out a session (API.md §2): 401
/// `otp_required` or `otp_invalid`.
pub fn unauthenticated(problem: OtpProblem) -> DomainError {
    match problem {
        OtpProblem::Missing => DomainError::SecondFactor {
            reason: OtpReason::Required,
            message: "this account has two-factor on: send otp, a current code from the \
                      authenticator app or a recovery code"
                .into(),
        },
        OtpProblem::Wrong => DomainError::SecondFactor {
            reason: OtpReason::Invalid,
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
}

//! Times and ids, shared by every layer: stored times are milliseconds since
//! the Unix epoch, shown as RFC 3339; ids are UUIDv7 text.

/// Milliseconds since the Unix epoch, the unit of every stored time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A stored time as RFC 3339 in UTC with a `Z`, to the second.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A new opaque id: UUIDv7 text, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub const MS_PER_HOUR: i64 = 60 * 60 * 1000;
pub const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

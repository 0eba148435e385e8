//! What the pages behind email links still build by hand (issue 24 moves
//! them to templates as the emails went, `crate::texts`): escaping, and how
//! an invitation names its sender.

pub use crate::texts::{escape_html, one_line};

/// How an invitation names its sender: "Name (address)", or, for an
/// account that never confirmed its address, "Name (address not
/// confirmed)": an address nobody proved is never shown as the sender's.
pub fn sender(name: &str, email: &str, confirmed: bool) -> String {
    let name = one_line(name);
    if confirmed {
        format!("{name} ({})", one_line(email))
    } else {
        format!("{name} (address not confirmed)")
    }
}

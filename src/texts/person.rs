//! A person a text names: "Ada Lovelace (ada@example.com)", or for an
//! account that never confirmed its address "Ada Lovelace (address not
//! confirmed)" in the reader's language (API.md §4: an address nobody
//! proved is never shown as theirs).

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, Value};

use super::lines::one_line;

/// The value a template gets for a person: `inviter`, `by`. Given to
/// `t()`, it reads as the message `person` or `person-unconfirmed` of the
/// template's language; printed by itself, as the name and the confirmed
/// address; `.name` and `.email` (empty unless confirmed) are its parts.
#[derive(Debug)]
pub struct Person {
    pub name: String,
    pub email: Option<String>,
}

/// A person: `name`, and `email` when `confirmed`; each on one line.
pub fn person(name: &str, email: &str, confirmed: bool) -> Value {
    Value::from_object(Person {
        name: one_line(name),
        email: confirmed.then(|| one_line(email)),
    })
}

impl Object for Person {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.name.clone())),
            "email" => Some(Value::from(self.email.clone().unwrap_or_default())),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.email {
            Some(email) => write!(f, "{} ({email})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

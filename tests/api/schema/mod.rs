//! The schema is ready to be distributed by organization (API.md §12,
//! docs/scaling.md): the catalogue says every organization table keys by
//! `organization_id` (`catalogue.rs`), and a database filled by the
//! previous version comes through the migration whole and is served
//! (`upgrade.rs`).

mod catalogue;
mod upgrade;

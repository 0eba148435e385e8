//! PostgreSQL's catalogue, read as Citus would judge it: every organization
//! table's primary key, unique keys and indexes, and foreign keys to other
//! organization tables include `organization_id` (its distribution column),
//! and no reference table has a foreign key into an organization table.
//! Organization tables are found from the catalogue itself (every table
//! with an `organization_id` column, and every table that references one),
//! minus the reference tables named here, so a new table cannot slip by.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use collabd::store::{Conn, Store};
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::RunQueryDsl;

use crate::on_postgres;
use crate::support::{Backend, TestApp};

on_postgres!(
    every_organization_table_keys_by_organization,
    a_table_that_breaks_the_rule_is_named,
);

/// Tables that are the same on every node (Citus reference tables), though
/// some name an organization: they key by something unique everywhere.
const REFERENCE_TABLES: &[&str] = &["api_keys", "link_tokens", "verified_domains", "rate_limits"];

/// Not collabd's: Diesel's record of the migrations run.
const IGNORED: &[&str] = &["__diesel_schema_migrations"];

/// The organization table everything else is colocated with, and its
/// distribution column.
const ORGANIZATIONS: (&str, &str) = ("organizations", "id");

#[derive(diesel::QueryableByName, Debug)]
struct Named {
    #[diesel(sql_type = Text)]
    table_name: String,
}

/// A key (primary, unique, foreign) or a unique index, by its columns.
#[derive(diesel::QueryableByName, Debug)]
struct Key {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    key_name: String,
    /// `p`, `u`, `f`, or `i` for a unique index.
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Text)]
    referenced_table: String,
    #[diesel(sql_type = Text)]
    referenced_columns: String,
}

const TABLES: &str = "SELECT table_name::text AS table_name FROM information_schema.tables \
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'";

const WITH_ORGANIZATION: &str = "SELECT table_name::text AS table_name \
     FROM information_schema.columns \
     WHERE table_schema = 'public' AND column_name = 'organization_id'";

/// Primary, unique and foreign keys, with their columns in key order.
const KEYS: &str = "SELECT c.conrelid::regclass::text AS table_name, c.conname::text AS key_name, \
       c.contype::text AS kind, \
       (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
          FROM unnest(c.conkey) WITH ORDINALITY k(num, ord) \
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num) AS columns, \
       CASE WHEN c.contype = 'f' THEN c.confrelid::regclass::text ELSE '' END AS referenced_table, \
       COALESCE((SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
          FROM unnest(c.confkey) WITH ORDINALITY k(num, ord) \
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num), '') AS referenced_columns \
     FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
     WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f')";

/// Unique indexes, those made by CREATE UNIQUE INDEX too (partial ones
/// included: Citus wants the distribution column in them as well).
const UNIQUE_INDEXES: &str = "SELECT t.relname::text AS table_name, i.relname::text AS key_name, \
       'i' AS kind, \
       COALESCE((SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
          FROM unnest(x.indkey) WITH ORDINALITY k(num, ord) \
          JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.num), '') AS columns, \
       '' AS referenced_table, '' AS referenced_columns \
     FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     WHERE n.nspname = 'public' AND x.indisunique";

fn names(conn: &mut Conn, sql: &str) -> BTreeSet<String> {
    let rows: Vec<Named> = diesel::sql_query(sql).load(&mut **conn).expect("catalogue");
    rows.into_iter().map(|r| r.table_name).collect()
}

/// The organization tables: those with the column, and (until nothing
/// changes) those referencing one, minus the named reference tables.
fn organization_tables(conn: &mut Conn, keys: &[Key]) -> BTreeSet<String> {
    let reference: BTreeSet<&str> = REFERENCE_TABLES.iter().copied().collect();
    let mut found: BTreeSet<String> = names(conn, WITH_ORGANIZATION);
    found.insert(ORGANIZATIONS.0.to_string());
    loop {
        let referencing: Vec<String> = keys
            .iter()
            .filter(|k| k.kind == "f" && found.contains(&k.referenced_table))
            .filter(|k| !reference.contains(k.table_name.as_str()))
            .map(|k| k.table_name.clone())
            .filter(|t| !found.contains(t))
            .collect();
        if referencing.is_empty() {
            break;
        }
        found.extend(referencing);
    }
    found.retain(|t| !reference.contains(t.as_str()));
    found
}

/// The distribution column of an organization table.
fn distribution_column(table: &str) -> &'static str {
    if table == ORGANIZATIONS.0 {
        ORGANIZATIONS.1
    } else {
        "organization_id"
    }
}

/// What Citus would refuse, one line each; empty when the schema can be
/// distributed by organization.
fn problems(conn: &mut Conn) -> Vec<String> {
    let mut keys: Vec<Key> = diesel::sql_query(KEYS).load(&mut **conn).expect("keys");
    keys.extend(
        diesel::sql_query(UNIQUE_INDEXES)
            .load::<Key>(&mut **conn)
            .expect("unique indexes"),
    );
    let tables = names(conn, TABLES);
    let organization = organization_tables(conn, &keys);
    let mut problems = Vec::new();
    let mut primary: BTreeMap<&str, &Key> = BTreeMap::new();
    for key in &keys {
        if key.kind == "p" {
            primary.insert(&key.table_name, key);
        }
    }
    for table in tables.iter().filter(|t| !IGNORED.contains(&t.as_str())) {
        if organization.contains(table) && !primary.contains_key(table.as_str()) {
            problems.push(format!(
                "{table}: an organization table without a primary key"
            ));
        }
    }
    for key in &keys {
        let columns: Vec<&str> = key.columns.split(',').collect();
        let from_organization = organization.contains(&key.table_name);
        let to_organization = organization.contains(&key.referenced_table);
        match key.kind.as_str() {
            "p" | "u" | "i" if from_organization => {
                let column = distribution_column(&key.table_name);
                if !columns.contains(&column) {
                    problems.push(format!(
                        "{}: key {} ({}) leaves out {column}",
                        key.table_name, key.key_name, key.columns
                    ));
                }
            }
            "f" if from_organization && to_organization => {
                let referenced: Vec<&str> = key.referenced_columns.split(',').collect();
                let colocated = columns.iter().zip(&referenced).any(|(from, to)| {
                    *from == "organization_id" && *to == distribution_column(&key.referenced_table)
                });
                if !colocated {
                    problems.push(format!(
                        "{}: foreign key {} ({}) to {} ({}) leaves out organization_id",
                        key.table_name,
                        key.key_name,
                        key.columns,
                        key.referenced_table,
                        key.referenced_columns
                    ));
                }
            }
            "f" if !from_organization && to_organization => problems.push(format!(
                "{}: a reference table with foreign key {} into the organization table {}",
                key.table_name, key.key_name, key.referenced_table
            )),
            _ => {}
        }
    }
    problems
}

fn catalogue_of(app: &TestApp) -> Conn {
    Store::open(&app.db.url, 1, Duration::from_secs(5))
        .conn()
        .expect("connection")
}

fn every_organization_table_keys_by_organization(backend: Backend) {
    let app = TestApp::start(backend);
    let mut conn = catalogue_of(&app);
    let keys: Vec<Key> = diesel::sql_query(KEYS).load(&mut *conn).expect("keys");
    let organization = organization_tables(&mut conn, &keys);
    // The tables the issue named are among those judged, found by the rule.
    for table in [
        "memberships",
        "projects",
        "project_permissions",
        "invites",
        "invite_projects",
        "webhooks",
        "webhook_deliveries",
        "domains",
        "departures",
        "audit_events",
        "roster_versions",
    ] {
        assert!(organization.contains(table), "{table} in {organization:?}");
    }
    let problems = problems(&mut conn);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The check can fail: each kind of break is named.
fn a_table_that_breaks_the_rule_is_named(backend: Backend) {
    let app = TestApp::start(backend);
    let mut conn = catalogue_of(&app);
    conn.batch_execute(
        "CREATE TABLE notes (id TEXT PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id));
         CREATE TABLE note_tags (note_id TEXT NOT NULL REFERENCES notes(id), tag TEXT NOT NULL,
                                 PRIMARY KEY (note_id, tag));
         CREATE UNIQUE INDEX invites_by_email ON invites(email) WHERE state = 'accepted';
         ALTER TABLE api_keys ADD CONSTRAINT api_keys_to_organizations
             FOREIGN KEY (organization_id) REFERENCES organizations(id);",
    )
    .expect("tables that break the rule");
    let problems = problems(&mut conn).join("\n");
    for expected in [
        "notes: key notes_pkey (id) leaves out organization_id",
        "note_tags: key note_tags_pkey (note_id,tag) leaves out organization_id",
        "note_tags: foreign key note_tags_note_id_fkey (note_id) to notes (id) leaves out organization_id",
        "invites: key invites_by_email (email) leaves out organization_id",
        "api_keys: a reference table with foreign key api_keys_to_organizations into the organization table organizations",
    ] {
        assert!(problems.contains(expected), "{expected}\nin:\n{problems}");
    }
}

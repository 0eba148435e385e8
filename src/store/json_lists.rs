//! A list of values as SQLite takes it in one statement shape: `column IN
//! (SELECT value FROM json_each(?))`, the whole list bound once as a JSON
//! array. Diesel writes `IN (?, ?, …)` with one placeholder per value,
//! which SQLite must prepare anew for every length (and Diesel caches no
//! such statement); a batch of checks spent a fifth of its time preparing.
//! PostgreSQL needs none of this: there Diesel binds one array (`= ANY(?)`)
//! and keeps the statement.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Bool, Text};
use diesel::sqlite::Sqlite;

/// `column IN` the values of `values`, a JSON array of strings.
#[derive(Debug, Clone)]
pub struct InJson<C> {
    column: C,
    values: String,
}

/// `column IN` each of `values` (SQLite; see the module's doc).
pub fn in_json<C, S: AsRef<str>>(column: C, values: &[S]) -> InJson<C> {
    let values: Vec<&str> = values.iter().map(AsRef::as_ref).collect();
    InJson {
        column,
        values: serde_json::to_string(&values).unwrap_or_else(|_| "[]".to_string()),
    }
}

impl<C: Expression> Expression for InJson<C> {
    type SqlType = Bool;
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for InJson<C> where InJson<C>: Expression {}

impl<C: SelectableExpression<QS>, QS> SelectableExpression<QS> for InJson<C> where
    InJson<C>: AppearsOnTable<QS>
{
}

impl<C: ValidGrouping<GB>, GB> ValidGrouping<GB> for InJson<C> {
    type IsAggregate = C::IsAggregate;
}

impl<C: QueryId> QueryId for InJson<C> {
    type QueryId = InJson<C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

impl<C: QueryFragment<Sqlite>> QueryFragment<Sqlite> for InJson<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("(");
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.values)?;
        out.push_sql(")))");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::*;

    diesel::table! {
        items (id) {
            id -> Text,
        }
    }

    #[test]
    fn one_shape_for_any_number_of_values() {
        let mut conn = SqliteConnection::establish(":memory:").expect("open");
        diesel::sql_query("CREATE TABLE items (id TEXT PRIMARY KEY)")
            .execute(&mut conn)
            .expect("create");
        diesel::sql_query("INSERT INTO items VALUES ('a'), ('b'), ('c\"d'), ('e')")
            .execute(&mut conn)
            .expect("insert");
        let found = |conn: &mut SqliteConnection, wanted: &[&str]| -> Vec<String> {
            items::table
                .filter(in_json(items::id, wanted))
                .order(items::id)
                .select(items::id)
                .load(conn)
                .expect("select")
        };
        assert_eq!(found(&mut conn, &["a", "c\"d", "zz"]), ["a", "c\"d"]);
        assert_eq!(found(&mut conn, &[]), Vec::<String>::new());
        assert_eq!(found(&mut conn, &["e", "b", "a", "b"]), ["a", "b", "e"]);
        let sql =
            diesel::debug_query::<Sqlite, _>(&items::table.filter(in_json(items::id, &["x", "y"])))
                .to_string();
        assert!(sql.contains("IN (SELECT value FROM json_each(?))"), "{sql}");
    }
}

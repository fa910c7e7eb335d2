//! The list statement shared by REST lists and realtime snapshots: filter,
//! owner scope, keyset cursor, order and limit in one parameterised SELECT.

use super::{Document, StoreError};
use crate::matcher::{Cursor, Filter, Sort};
use serde_json::Value;
use sqlx::{PgExecutor, Postgres, QueryBuilder};

/// What to list.
pub struct ListQuery<'a> {
    /// Collection.
    pub collection: &'a str,
    /// Filter on documents.
    pub filter: &'a Filter,
    /// Order (always ends in `$id`).
    pub sort: &'a Sort,
    /// Resume after this cursor.
    pub after: Option<&'a Cursor>,
    /// Only this owner's documents (owner-rule readers).
    pub owner: Option<&'a str>,
    /// Page size.
    pub limit: i64,
}

/// One page: documents and, when more follow, the cursor of the last one.
pub struct Page {
    /// Documents in order.
    pub docs: Vec<Document>,
    /// Cursor for the next page.
    pub next: Option<Cursor>,
}

/// Builds: SELECT d.id, d.collection, d.data, d.owner, d.version, d.created_at, d.updated_at,
/// <jsonb array of sort key values> AS sort_keys FROM documents d WHERE d.collection = $c
/// AND (<owner scope>) AND (<filter>) AND (<after cursor>) ORDER BY <keys> LIMIT $limit
pub fn build_list_query<'a>(
    collection: &'a str,
    filter: &'a Filter,
    sort: &'a Sort,
    after: Option<&'a Cursor>,
    owner_scope: Option<&'a str>,
    limit: i64,
) -> QueryBuilder<'a, Postgres> {
    let mut qb = QueryBuilder::new(
        "SELECT d.id, d.collection, d.data, d.owner, d.version, d.created_at, d.updated_at, jsonb_build_array(",
    );
    sort.push_key_values(&mut qb);
    qb.push(") AS sort_keys FROM documents d WHERE d.collection = ");
    qb.push_bind(collection);
    if let Some(owner) = owner_scope {
        qb.push(" AND d.owner = ");
        qb.push_bind(owner);
    }
    qb.push(" AND ");
    filter.push_sql(&mut qb);
    if let Some(cursor) = after {
        qb.push(" AND ");
        cursor.push_after(sort, &mut qb);
    }
    qb.push(" ORDER BY ");
    sort.push_order_by(&mut qb);
    qb.push(" LIMIT ");
    qb.push_bind(limit);
    qb
}

/// Runs a list query for one page (reads one row more to know whether more follow).
pub async fn list_documents(db: impl PgExecutor<'_>, q: &ListQuery<'_>) -> Result<Page, StoreError> {
    let rows = fetch(db, q).await?;
    let more = rows.len() as i64 > q.limit;
    let mut docs = Vec::with_capacity(rows.len());
    let mut next = None;
    for (i, (doc, keys)) in rows.into_iter().enumerate() {
        if i as i64 == q.limit {
            break;
        }
        if more && i as i64 == q.limit - 1 {
            next = Some(Cursor::from_sort_keys(keys));
        }
        docs.push(doc);
    }
    Ok(Page { docs, next })
}

/// Runs a list query with `limit + 1` rows and returns them with their sort keys.
pub(super) async fn fetch(db: impl PgExecutor<'_>, q: &ListQuery<'_>) -> Result<Vec<(Document, Value)>, StoreError> {
    let mut qb = build_list_query(q.collection, q.filter, q.sort, q.after, q.owner, q.limit + 1);
    let rows = qb.build().fetch_all(db).await?;
    rows.iter()
        .map(|row| {
            use sqlx::{FromRow, Row};
            Ok((Document::from_row(row)?, row.try_get("sort_keys")?))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_query_shapes() {
        let filter = Filter::default();
        let sort = Sort::default();
        let qb = build_list_query("c", &filter, &sort, None, Some("alice"), 10);
        assert_eq!(
            qb.sql(),
            "SELECT d.id, d.collection, d.data, d.owner, d.version, d.created_at, d.updated_at, \
             jsonb_build_array((extract(epoch from d.created_at) * 1000000)::bigint, d.id) AS sort_keys \
             FROM documents d WHERE d.collection = $1 AND d.owner = $2 AND TRUE \
             ORDER BY d.created_at ASC, d.id ASC LIMIT $3"
        );
        let cursor = Cursor::from_sort_keys(json!([5, "67e55044-10b1-426f-9247-bb680e5fe0c8"]));
        let qb = build_list_query("c", &filter, &sort, Some(&cursor), None, 10);
        assert!(
            qb.sql().contains(" AND ((d.created_at, d.id) > ($2, $3)) ORDER BY"),
            "{}",
            qb.sql()
        );

        let sort = Sort::parse(Some("-$owner,x")).expect("valid sort");
        let cursor = Cursor::from_sort_keys(json!([null, 1, "67e55044-10b1-426f-9247-bb680e5fe0c8"]));
        let qb = build_list_query("c", &filter, &sort, Some(&cursor), None, 10);
        assert!(
            qb.sql().contains(
                "((FALSE) OR (d.owner IS NULL AND coalesce(d.data #> $3, 'null'::jsonb) > $4) \
                 OR (d.owner IS NULL AND coalesce(d.data #> $5, 'null'::jsonb) = $6 AND d.id > $7))"
            ),
            "{}",
            qb.sql()
        );
        assert!(qb.sql().ends_with("ORDER BY d.owner COLLATE \"C\" DESC NULLS LAST, coalesce(d.data #> $8, 'null'::jsonb) ASC, d.id ASC LIMIT $9"), "{}", qb.sql());

        let bogus = Cursor::from_sort_keys(json!("nope"));
        let qb = build_list_query("c", &filter, &sort, Some(&bogus), None, 10);
        assert!(qb.sql().contains(" AND FALSE ORDER BY"), "{}", qb.sql());
    }
}

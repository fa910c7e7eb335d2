//! Compilation of a [`Filter`] into one PostgreSQL boolean expression over
//! the `documents` alias `d`.
//!
//! Every input value and path is a bind parameter; only fixed SQL text is
//! pushed. Each condition is made two-valued (`IS TRUE` / `IS NOT TRUE` /
//! `coalesce`) so that SQL NULL from a missing path never leaks into
//! `NOT`/`OR` and the result equals [`Filter::matches`] row by row.

use serde_json::Value;
use sqlx::{postgres::PgHasArrayType, Encode, Postgres, QueryBuilder, Type};

use super::{Cond, Filter, JsonField, JsonTest, MetaTest, Rel, TimeField};

type Qb<'a> = QueryBuilder<'a, Postgres>;

pub(crate) fn push_filter<'a>(f: &'a Filter, qb: &mut Qb<'a>) {
    if f.is_empty() {
        qb.push("TRUE");
        return;
    }
    qb.push("(");
    let mut first = true;
    let mut sep = |qb: &mut Qb<'a>| {
        if !std::mem::take(&mut first) {
            qb.push(" AND ");
        }
    };
    for c in &f.all {
        sep(qb);
        push_cond(c, qb);
    }
    for g in &f.groups {
        sep(qb);
        qb.push("(");
        for (i, c) in g.any.iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            push_cond(c, qb);
        }
        qb.push(")");
    }
    qb.push(")");
}

fn push_cond<'a>(c: &'a Cond, qb: &mut Qb<'a>) {
    match c {
        Cond::Json(f, t) => push_json(f, t, qb),
        Cond::Id(t) => push_meta("d.id", t, qb),
        Cond::Time(TimeField::CreatedAt, t) => push_meta("d.created_at", t, qb),
        Cond::Time(TimeField::UpdatedAt, t) => push_meta("d.updated_at", t, qb),
    }
}

/// The field as jsonb: SQL NULL when a data path is missing; a NULL owner
/// becomes JSON null, matching `eval`.
fn push_json_value<'a>(f: &'a JsonField, qb: &mut Qb<'a>) {
    match f {
        JsonField::Data(path) => {
            qb.push("(d.data #> ");
            qb.push_bind(path.as_slice());
            qb.push(")");
        }
        JsonField::Owner => {
            qb.push("coalesce(to_jsonb(d.owner), 'null'::jsonb)");
        }
    }
}

fn push_json<'a>(f: &'a JsonField, t: &'a JsonTest, qb: &mut Qb<'a>) {
    let x = |qb: &mut Qb<'a>| push_json_value(f, qb);
    let text = |qb: &mut Qb<'a>| {
        qb.push("(");
        push_json_value(f, qb);
        qb.push(" #>> '{}')");
    };
    let is_type = |qb: &mut Qb<'a>, ty: &str| {
        qb.push("jsonb_typeof(");
        push_json_value(f, qb);
        qb.push(format_args!(") = '{ty}'"));
    };
    match t {
        JsonTest::Rel(rel @ (Rel::Eq | Rel::Ne), v) => {
            qb.push("((");
            x(qb);
            qb.push(" = ");
            qb.push_bind(v);
            qb.push(if *rel == Rel::Eq {
                ") IS TRUE)"
            } else {
                ") IS NOT TRUE)"
            });
        }
        JsonTest::Rel(rel, v @ Value::Number(_)) => {
            qb.push("((");
            is_type(qb, "number");
            qb.push(" AND ");
            x(qb);
            qb.push(rel.sql());
            qb.push_bind(v);
            qb.push(") IS TRUE)");
        }
        JsonTest::Rel(rel, Value::String(s)) => {
            qb.push("((");
            is_type(qb, "string");
            qb.push(" AND ");
            text(qb);
            qb.push(" COLLATE \"C\"");
            qb.push(rel.sql());
            qb.push_bind(s.as_str());
            qb.push(") IS TRUE)");
        }
        // Rejected by the parser; kept total rather than panicking.
        JsonTest::Rel(..) => {
            qb.push("FALSE");
        }
        JsonTest::Contains(v) => {
            qb.push("((");
            if let Value::String(s) = v {
                qb.push("(");
                is_type(qb, "string");
                qb.push(" AND strpos(");
                text(qb);
                qb.push(" COLLATE \"C\", ");
                qb.push_bind(s.as_str());
                qb.push(") > 0) OR ");
            }
            qb.push("(");
            is_type(qb, "array");
            qb.push(" AND ");
            x(qb);
            qb.push(" @> jsonb_build_array(");
            qb.push_bind(v);
            qb.push("))) IS TRUE)");
        }
        JsonTest::StartsWith(s) | JsonTest::EndsWith(s) => {
            let ends = matches!(t, JsonTest::EndsWith(_));
            qb.push("((");
            is_type(qb, "string");
            // Suffix test as a prefix test on reversed code points.
            qb.push(if ends {
                " AND starts_with(reverse"
            } else {
                " AND starts_with("
            });
            text(qb);
            qb.push(" COLLATE \"C\", ");
            if ends {
                qb.push("reverse(");
                qb.push_bind(s.as_str());
                qb.push(")");
            } else {
                qb.push_bind(s.as_str());
            }
            qb.push(")) IS TRUE)");
        }
        JsonTest::In(items) | JsonTest::NotIn(items) => {
            qb.push("((");
            x(qb);
            qb.push(" = ANY(");
            qb.push_bind(items.as_slice());
            qb.push(if matches!(t, JsonTest::In(_)) {
                ")) IS TRUE)"
            } else {
                ")) IS NOT TRUE)"
            });
        }
        JsonTest::IsNull(want) => {
            qb.push("(coalesce(jsonb_typeof(");
            x(qb);
            qb.push(if *want {
                "), 'null') = 'null')"
            } else {
                "), 'null') <> 'null')"
            });
        }
    }
}

/// Metadata columns are NOT NULL, so plain comparisons are two-valued.
fn push_meta<'a, T>(col: &'static str, t: &'a MetaTest<T>, qb: &mut Qb<'a>)
where
    T: Copy + Encode<'a, Postgres> + Type<Postgres> + PgHasArrayType + 'a,
{
    match t {
        MetaTest::Rel(rel, v) => {
            qb.push("(");
            qb.push(col);
            qb.push(rel.sql());
            qb.push_bind(*v);
            qb.push(")");
        }
        MetaTest::In(items) | MetaTest::NotIn(items) => {
            qb.push(if matches!(t, MetaTest::In(_)) { "(" } else { "NOT (" });
            qb.push(col);
            qb.push(" = ANY(");
            qb.push_bind(items.as_slice());
            qb.push("))");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sql_of(v: Value) -> String {
        let f = Filter::from_json(&v).unwrap_or_else(|e| panic!("{v}: {e}"));
        let mut qb = QueryBuilder::new("");
        f.push_sql(&mut qb);
        qb.sql().to_owned()
    }

    #[test]
    fn shapes() {
        let cases = [
            (json!({}), "TRUE"),
            (json!({"a": 1}), "((((d.data #> $1) = $2) IS TRUE))"),
            (
                json!({"$owner__ne": null}),
                "(((coalesce(to_jsonb(d.owner), 'null'::jsonb) = $1) IS NOT TRUE))",
            ),
            (
                json!({"a.b__isnull": true}),
                "((coalesce(jsonb_typeof((d.data #> $1)), 'null') = 'null'))",
            ),
            (json!({"$id__notin": []}), "(NOT (d.id = ANY($1)))"),
            (
                json!({"$created_at__gte": "2024-01-01T00:00:00Z"}),
                "((d.created_at >= $1))",
            ),
            (
                json!({"a__gt": 1}),
                "(((jsonb_typeof((d.data #> $1)) = 'number' AND (d.data #> $2) > $3) IS TRUE))",
            ),
            (
                json!({"a__contains": 1}),
                "((((jsonb_typeof((d.data #> $1)) = 'array' AND (d.data #> $2) @> jsonb_build_array($3))) IS TRUE))",
            ),
            (
                json!({"a__endswith": "x"}),
                "(((jsonb_typeof((d.data #> $1)) = 'string' AND starts_with(reverse((d.data #> $2) #>> '{}') COLLATE \"C\", reverse($3))) IS TRUE))",
            ),
            (
                json!({"[or]a": 1, "[or]b__lt": "x", "c__in": [1]}),
                "((((d.data #> $1) = ANY($2)) IS TRUE) AND ((((d.data #> $3) = $4) IS TRUE) OR ((jsonb_typeof((d.data #> $5)) = 'string' AND ((d.data #> $6) #>> '{}') COLLATE \"C\" < $7) IS TRUE)))",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(sql_of(v.clone()), want, "{v}");
        }
    }

    #[test]
    fn input_text_never_reaches_sql() {
        let evil = "x'); DROP TABLE documents; --";
        let sql = sql_of(json!({
            "a__contains": evil, "a__startswith": evil, "a__endswith": evil,
            "a__gt": evil, "a__in": [evil], "a": {"k": evil}, "$owner": evil,
        }));
        assert!(!sql.contains("DROP"), "{sql}");
    }
}

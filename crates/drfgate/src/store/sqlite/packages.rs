//! The queries of the third-party packages drfgate reads: simplejwt's user lookup by
//! `USER_ID_FIELD` and its blacklist app, and knox's token table. Built once per database
//! file with the others, from the tables that file has.

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension};

use super::{columns, quote, read_user, Column};
use crate::jwt::python::{python_int, python_str};
use crate::store::{FieldLookup, KnoxRow, Schema, UserWithPassword};

const OUTSTANDING: &str = "token_blacklist_outstandingtoken";
const BLACKLISTED: &str = "token_blacklist_blacklistedtoken";

pub(super) struct PackageQueries {
    /// `SELECT <user fields>, password FROM <user table> u WHERE u.` — the column is appended.
    user_by_field_prefix: String,
    /// The user table's columns and whether each has integer affinity.
    user_columns: Vec<(String, bool)>,
    blacklisted: Option<String>,
    knox: Option<String>,
}

impl PackageQueries {
    pub(super) fn build(
        conn: &Connection,
        schema: &Schema,
        user_fields: &str,
        pk: &str,
        user_columns: &[Column],
    ) -> rusqlite::Result<PackageQueries> {
        let user = quote(&schema.user_table);
        let has_table =
            |name: &str| -> rusqlite::Result<bool> { Ok(!columns(conn, name)?.is_empty()) };
        let blacklisted = (has_table(OUTSTANDING)? && has_table(BLACKLISTED)?).then(|| {
            format!(
                "SELECT 1 FROM {BLACKLISTED} b JOIN {OUTSTANDING} o ON o.\"id\" = b.\"token_id\" \
                 WHERE o.\"jti\" = ?1 LIMIT 1"
            )
        });
        let knox = has_table(&schema.knox_table)?.then(|| {
            format!(
                "SELECT {user_fields}, k.\"digest\", k.\"expiry\" FROM {knox} k \
                 JOIN {user} u ON u.{pk} = k.\"user_id\" WHERE k.\"token_key\" = ?1",
                knox = quote(&schema.knox_table),
                pk = quote(pk),
            )
        });
        Ok(PackageQueries {
            user_by_field_prefix: format!(
                "SELECT {user_fields}, u.\"password\" FROM {user} u WHERE u."
            ),
            user_columns: user_columns
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.declared.to_ascii_uppercase().contains("INT"),
                    )
                })
                .collect(),
            blacklisted,
            knox,
        })
    }

    pub(super) fn has_blacklist(&self) -> bool {
        self.blacklisted.is_some()
    }

    pub(super) fn has_knox(&self) -> bool {
        self.knox.is_some()
    }
}

/// Django's conversion of a claim for a lookup on `field`: `int()` for an integer column,
/// `str()` for the others; a JSON null looks for NULL, which a user's key never is.
fn lookup_value(integer: bool, value: &serde_json::Value) -> Result<Option<SqlValue>, ()> {
    if value.is_null() {
        return Ok(None);
    }
    if integer {
        let n = python_int(value).ok_or(())?;
        // sqlite3 cannot bind an int beyond 64 bits (OverflowError): Django answers 500.
        return n.as_i64().map(|n| Some(SqlValue::Integer(n))).ok_or(());
    }
    Ok(python_str(value).map(SqlValue::Text))
}

pub(super) fn user_by_field(
    conn: &Connection,
    queries: &PackageQueries,
    field: &str,
    value: &serde_json::Value,
) -> rusqlite::Result<FieldLookup> {
    let Some((column, integer)) = queries.user_columns.iter().find(|(c, _)| c == field) else {
        return Err(rusqlite::Error::InvalidColumnName(format!(
            "USER_ID_FIELD {field:?} is not a column of the user table"
        )));
    };
    let bound = match lookup_value(*integer, value) {
        Ok(Some(bound)) => bound,
        Ok(None) => return Ok(FieldLookup::NotFound),
        Err(()) => return Ok(FieldLookup::Unconvertible),
    };
    let sql = format!("{}{} = ?1", queries.user_by_field_prefix, quote(column));
    let found = conn
        .prepare_cached(&sql)?
        .query_row([bound], |row| {
            Ok(UserWithPassword {
                user: read_user(row)?,
                password: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
            })
        })
        .optional()?;
    Ok(found.map_or(FieldLookup::NotFound, FieldLookup::Found))
}

pub(super) fn jti_blacklisted(
    conn: &Connection,
    queries: &PackageQueries,
    jti: &str,
) -> rusqlite::Result<bool> {
    let Some(sql) = &queries.blacklisted else {
        return Err(rusqlite::Error::InvalidQuery);
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row([jti], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(super) fn knox_tokens(
    conn: &Connection,
    queries: &PackageQueries,
    token_key: &str,
) -> rusqlite::Result<Vec<KnoxRow>> {
    let Some(sql) = &queries.knox else {
        return Err(rusqlite::Error::InvalidQuery);
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([token_key], |row| {
        let expiry = match row.get_ref(6)? {
            ValueRef::Null => None,
            ValueRef::Text(t) => Some(parse_datetime(t).ok_or_else(|| {
                rusqlite::Error::InvalidColumnType(6, "expiry".into(), rusqlite::types::Type::Text)
            })?),
            other => {
                return Err(rusqlite::Error::InvalidColumnType(
                    6,
                    "expiry".into(),
                    other.data_type(),
                ))
            }
        };
        Ok(KnoxRow {
            user: read_user(row)?,
            digest: row.get(5)?,
            expiry,
        })
    })?;
    rows.collect()
}

/// Django's SQLite datetime text, `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC when `USE_TZ`, the
/// default, and Django also accepts a `T` and a `+00:00`), as Unix seconds.
pub(crate) fn parse_datetime(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    let text = text
        .strip_suffix("+00:00")
        .or_else(|| text.strip_suffix('Z'))
        .unwrap_or(text);
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (hms, micros) = match time.split_once('.') {
        Some((hms, frac)) if !frac.is_empty() && frac.len() <= 6 => {
            let digits: u32 = frac.parse().ok()?;
            (hms, f64::from(digits) / 10f64.powi(frac.len() as i32))
        }
        Some(_) => return None,
        None => (time, 0.0),
    };
    let mut hms = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..60).contains(&second)
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hour * 3_600 + minute * 60 + second) as f64 + micros)
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn django_sqlite_datetimes() {
        assert_eq!(
            parse_datetime(b"2023-11-14 22:13:20"),
            Some(1_700_000_000.0)
        );
        assert_eq!(
            parse_datetime(b"2023-11-14 22:13:20.5"),
            Some(1_700_000_000.5)
        );
        assert_eq!(parse_datetime(b"1970-01-01T00:00:00+00:00"), Some(0.0));
        assert_eq!(parse_datetime(b"2023-13-14 22:13:20"), None);
        assert_eq!(parse_datetime(b"soon"), None);
    }
}

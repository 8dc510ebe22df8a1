//! The SQL the PostgreSQL and MySQL stores share: Django's tables are the same on both, and
//! only quoting, placeholders, string concatenation and casts differ (a [`Dialect`]).
//!
//! Every value a lookup reads is cast in the query to one of a few plain types (a 64-bit
//! integer, text, a boolean, a double), so each driver converts cells one way whatever the
//! column's declared type (`citext`, `uuid`, `tinyint(1)`, …).

use super::Schema;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Postgres,
    Mysql,
}

/// One argument of a lookup.
#[derive(Clone, Debug)]
pub(super) enum Param {
    Text(String),
    Int(i64),
}

/// One cell of a row, as the drivers hand them over.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

/// A statement and, for each placeholder in order, which argument it takes (MySQL's `?`
/// are positional, so an argument used twice is bound twice).
#[derive(Clone, Debug)]
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) args: Vec<usize>,
}

impl Sql {
    pub(super) fn bind(&self, arguments: &[Param]) -> Vec<Param> {
        self.args.iter().map(|&i| arguments[i].clone()).collect()
    }
}

impl Dialect {
    pub(super) fn quote(self, identifier: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{}\"", identifier.replace('"', "\"\"")),
            Dialect::Mysql => format!("`{}`", identifier.replace('`', "``")),
        }
    }

    /// Replaces `{0}`, `{1}`, … with the dialect's placeholders, typed by `kinds` for
    /// PostgreSQL (`$1::text`), and records the arguments' order.
    pub(super) fn render(self, template: &str, kinds: &[Kind]) -> Sql {
        let mut text = String::with_capacity(template.len());
        let mut args = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            text.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("a closed placeholder") + start;
            let index: usize = rest[start + 1..end]
                .parse()
                .expect("a numbered placeholder");
            match self {
                Dialect::Postgres => {
                    let cast = match kinds[index] {
                        Kind::Int => "int8",
                        Kind::Text => "text",
                    };
                    text.push_str(&format!("${}::{cast}", index + 1));
                }
                Dialect::Mysql => text.push('?'),
            }
            args.push(index);
            rest = &rest[end + 1..];
        }
        text.push_str(rest);
        if self == Dialect::Postgres {
            // `$n` names its argument: bind each once, in order.
            args = (0..kinds.len()).collect();
        }
        Sql { text, args }
    }

    /// The column as a 64-bit integer.
    fn as_int(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("{expr}::int8"),
            Dialect::Mysql => format!("CAST({expr} AS SIGNED)"),
        }
    }

    /// The column as text.
    fn as_text(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("{expr}::text"),
            Dialect::Mysql => format!("CAST({expr} AS CHAR)"),
        }
    }

    /// A flag column as this dialect's boolean.
    fn as_flag(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("({expr})::bool"),
            Dialect::Mysql => format!("({expr} <> 0)"),
        }
    }

    fn constant_flag(self, value: bool) -> &'static str {
        match (self, value) {
            (Dialect::Postgres, true) => "TRUE",
            (Dialect::Postgres, false) => "FALSE",
            (Dialect::Mysql, true) => "1",
            (Dialect::Mysql, false) => "0",
        }
    }

    fn concat_permission(self) -> &'static str {
        match self {
            Dialect::Postgres => "ct.app_label || '.' || p.codename",
            Dialect::Mysql => "CONCAT(ct.app_label, '.', p.codename)",
        }
    }

    /// The schema Django's tables are in: the connection's search path, or its database.
    fn current_schema(self) -> &'static str {
        match self {
            Dialect::Postgres => "current_schema()",
            Dialect::Mysql => "DATABASE()",
        }
    }

    /// `information_schema` columns of a table: name, data type.
    pub(super) fn columns_query(self) -> Sql {
        let template = format!(
            "SELECT {name}, {kind} FROM information_schema.columns \
             WHERE table_schema = {schema} AND table_name = {{0}} ORDER BY ordinal_position",
            name = self.as_text("column_name"),
            kind = self.as_text("data_type"),
            schema = self.current_schema(),
        );
        self.render(&template, &[Kind::Text])
    }

    /// The primary key column(s) of a table.
    pub(super) fn primary_key_query(self) -> Sql {
        let template = format!(
            "SELECT {name} FROM information_schema.table_constraints tc \
             JOIN information_schema.key_column_usage kcu \
             ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema \
             AND kcu.table_name = tc.table_name \
             WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = {schema} \
             AND tc.table_name = {{0}}",
            name = self.as_text("kcu.column_name"),
            schema = self.current_schema(),
        );
        self.render(&template, &[Kind::Text])
    }
}

/// How an argument is bound and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Text,
}

/// A column of the user table: its name, and whether Django's field for it converts
/// lookups with `int()`.
#[derive(Clone, Debug)]
pub(super) struct UserColumn {
    pub(super) name: String,
    pub(super) kind: Kind,
}

/// Whether `information_schema`'s data type is an integer one.
pub(super) fn integer_type(data_type: &str) -> bool {
    matches!(
        data_type.to_ascii_lowercase().as_str(),
        "smallint" | "integer" | "bigint" | "int" | "tinyint" | "mediumint"
    )
}

/// What the database has: found by [`Queries::build`]'s caller through `information_schema`.
pub(super) struct Tables {
    pub(super) user_columns: Vec<(String, String)>,
    pub(super) user_pk: Option<String>,
    pub(super) has_tokens: bool,
    pub(super) has_sessions: bool,
    pub(super) has_blacklist: bool,
    pub(super) has_knox: bool,
}

/// The statements of one database, built once at open.
pub(super) struct Queries {
    pub(super) dialect: Dialect,
    pub(super) pk_kind: Kind,
    pub(super) token_user: Sql,
    pub(super) user_by_username: Sql,
    pub(super) user_by_pk: Sql,
    pub(super) permissions: Sql,
    pub(super) count_users: Sql,
    pub(super) count_tokens: Option<Sql>,
    /// A page of the token table's keys, for the token filter's full load (keyset
    /// pagination on the primary key `key`).
    pub(super) token_keys_after: Option<Sql>,
    /// One user's token keys, for the token filter's refresh after a notification.
    pub(super) token_keys_of_user: Option<Sql>,
    pub(super) session_data: Option<Sql>,
    pub(super) blacklisted: Option<Sql>,
    pub(super) knox: Option<Sql>,
    /// `SELECT <user fields>, password FROM <user table> u WHERE ` — the comparison is added.
    user_by_field_prefix: String,
    pub(super) user_columns: Vec<UserColumn>,
}

impl Queries {
    pub(super) fn build(dialect: Dialect, schema: &Schema, tables: &Tables) -> Queries {
        let q = |name: &str| dialect.quote(name);
        let has = |name: &str| tables.user_columns.iter().any(|(c, _)| c == name);
        let pk = tables.user_pk.clone().unwrap_or_else(|| "id".into());
        let pk_kind = match tables.user_columns.iter().find(|(c, _)| *c == pk) {
            Some((_, data_type)) if !integer_type(data_type) => Kind::Text,
            _ => Kind::Int,
        };
        let pk_value = |alias: &str| {
            let expr = format!("{alias}.{}", q(&pk));
            match pk_kind {
                Kind::Int => dialect.as_int(&expr),
                Kind::Text => dialect.as_text(&expr),
            }
        };
        // The user-id columns of other tables hold the pk's type: compared the same way.
        let pk_compare = |expr: &str, placeholder: &str| match pk_kind {
            Kind::Int => format!("{expr} = {placeholder}"),
            Kind::Text => format!("{} = {placeholder}", dialect.as_text(expr)),
        };
        // Django's AbstractBaseUser has no is_active (it counts as active) and no staff or
        // superuser flags (they count as false).
        let flag = |name: &str, absent: bool| {
            if has(name) {
                dialect.as_flag(&format!("u.{}", q(name)))
            } else {
                dialect.constant_flag(absent).to_string()
            }
        };
        let user_fields = format!(
            "{pk}, {username}, {active}, {staff}, {superuser}",
            pk = pk_value("u"),
            username = dialect.as_text(&format!("u.{}", q(&schema.username_field))),
            active = flag("is_active", true),
            staff = flag("is_staff", false),
            superuser = flag("is_superuser", false),
        );
        let password = if has("password") {
            dialect.as_text(&format!("u.{}", q("password")))
        } else {
            "''".into()
        };
        let user = q(&schema.user_table);
        let text = [Kind::Text];
        let token_user = dialect.render(
            &format!(
                "SELECT {user_fields} FROM {token} t JOIN {user} u ON u.{pk} = t.{user_id} \
                 WHERE t.{key} = {{0}}",
                token = q(&schema.token_table),
                pk = q(&pk),
                user_id = q("user_id"),
                key = q("key"),
            ),
            &text,
        );
        let user_by_username = dialect.render(
            &format!(
                "SELECT {user_fields}, {password} FROM {user} u WHERE u.{username} = {{0}}",
                username = q(&schema.username_field),
            ),
            &text,
        );
        let user_by_pk = dialect.render(
            &format!(
                "SELECT {user_fields}, {password} FROM {user} u WHERE {}",
                pk_compare(&format!("u.{}", q(&pk)), "{0}")
            ),
            &[pk_kind],
        );
        let concat = dialect.concat_permission();
        let permissions = dialect.render(
            &format!(
                "SELECT {concat} FROM auth_permission p \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 JOIN {user_perms} up ON up.permission_id = p.id WHERE {up} \
                 UNION \
                 SELECT {concat} FROM auth_permission p \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 JOIN auth_group_permissions gp ON gp.permission_id = p.id \
                 JOIN {user_groups} ug ON ug.group_id = gp.group_id WHERE {ug}",
                user_perms = q(&schema.user_permissions_table()),
                user_groups = q(&schema.user_groups_table()),
                up = pk_compare("up.user_id", "{0}"),
                ug = pk_compare("ug.user_id", "{0}"),
            ),
            &[pk_kind],
        );
        // Django's own query, `expire_date > now` with now in UTC: PostgreSQL's column is a
        // timestamptz; MySQL's a DATETIME holding UTC (USE_TZ), compared with the text.
        let session_data = tables.has_sessions.then(|| {
            let now = match dialect {
                Dialect::Postgres => "({1}::timestamp AT TIME ZONE 'UTC')",
                Dialect::Mysql => "{1}",
            };
            dialect.render(
                &format!(
                    "SELECT {data} FROM django_session WHERE session_key = {{0}} \
                     AND expire_date > {now}",
                    data = dialect.as_text("session_data")
                ),
                &[Kind::Text, Kind::Text],
            )
        });
        let blacklisted = tables.has_blacklist.then(|| {
            dialect.render(
                "SELECT 1 FROM token_blacklist_blacklistedtoken b \
                 JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id \
                 WHERE o.jti = {0} LIMIT 1",
                &text,
            )
        });
        // knox's expiry as Unix seconds: a timestamptz on PostgreSQL; on MySQL a DATETIME in
        // UTC, counted from the epoch by TIMESTAMPDIFF. Not UNIX_TIMESTAMP: MariaDB's is NULL
        // for any date outside 1970–2038, which would read as knox's "never expires" (a token
        // expired in 1969, or set to year 1 to disable it, accepted; one expiring in 2040
        // accepted forever).
        let knox = tables.has_knox.then(|| {
            let expiry = match dialect {
                Dialect::Postgres => "EXTRACT(EPOCH FROM k.expiry)::float8".to_string(),
                Dialect::Mysql => concat!(
                    "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', k.expiry) AS DOUBLE)",
                    " / 1000000"
                )
                .to_string(),
            };
            dialect.render(
                &format!(
                    "SELECT {user_fields}, {digest}, {expiry} FROM {knox} k \
                     JOIN {user} u ON u.{pk} = k.user_id WHERE k.token_key = {{0}}",
                    digest = dialect.as_text("k.digest"),
                    knox = q(&schema.knox_table),
                    pk = q(&pk),
                ),
                &text,
            )
        });
        let token = q(&schema.token_table);
        let token_keys_after = tables.has_tokens.then(|| {
            dialect.render(
                &format!(
                    "SELECT {key} FROM {token} WHERE {key_col} > {{0}} ORDER BY {key_col} \
                     LIMIT {{1}}",
                    key = dialect.as_text(&q("key")),
                    key_col = q("key"),
                ),
                &[Kind::Text, Kind::Int],
            )
        });
        let token_keys_of_user = tables.has_tokens.then(|| {
            dialect.render(
                &format!(
                    "SELECT {key} FROM {token} t WHERE {compare}",
                    key = dialect.as_text(&format!("t.{}", q("key"))),
                    compare = pk_compare(&format!("t.{}", q("user_id")), "{0}"),
                ),
                &[pk_kind],
            )
        });
        Queries {
            dialect,
            pk_kind,
            token_keys_after,
            token_keys_of_user,
            token_user,
            user_by_username,
            user_by_pk,
            permissions,
            count_users: dialect.render(&format!("SELECT count(*) FROM {user}"), &[]),
            count_tokens: tables.has_tokens.then(|| {
                dialect.render(
                    &format!("SELECT count(*) FROM {}", q(&schema.token_table)),
                    &[],
                )
            }),
            session_data,
            blacklisted,
            knox,
            user_by_field_prefix: format!("SELECT {user_fields}, {password} FROM {user} u WHERE "),
            user_columns: tables
                .user_columns
                .iter()
                .map(|(name, data_type)| UserColumn {
                    name: name.clone(),
                    kind: if integer_type(data_type) {
                        Kind::Int
                    } else {
                        Kind::Text
                    },
                })
                .collect(),
        }
    }

    /// `User.objects.get(<column>=…)` for simplejwt's `USER_ID_FIELD`.
    pub(super) fn user_by_field(&self, column: &UserColumn) -> Sql {
        // Compared as the column is (its collation on MySQL), as Django's lookup is.
        self.dialect.render(
            &format!(
                "{}u.{} = {{0}}",
                self.user_by_field_prefix,
                self.dialect.quote(&column.name)
            ),
            &[column.kind],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        let sql = Dialect::Mysql.render("a = {0} OR b = {1} OR c = {0}", &[Kind::Int, Kind::Text]);
        assert_eq!(sql.text, "a = ? OR b = ? OR c = ?");
        assert_eq!(sql.args, vec![0, 1, 0]);
        let sql =
            Dialect::Postgres.render("a = {0} OR b = {1} OR c = {0}", &[Kind::Int, Kind::Text]);
        assert_eq!(sql.text, "a = $1::int8 OR b = $2::text OR c = $1::int8");
        assert_eq!(sql.args, vec![0, 1]);
    }
}

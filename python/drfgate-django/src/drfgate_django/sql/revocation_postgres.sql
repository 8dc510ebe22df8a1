-- drfgate revocation on PostgreSQL: triggers that NOTIFY a channel (drfgate_revocation by default)
-- whenever something a gate may have cached about a user changes, so every running gate drops it
-- at once ([revocation] source = "database" in the gate's config; docs/configuration.md).
--
-- A notification's payload is the user's primary key as text, or '*' when any user may be
-- concerned (a group's permissions changed), or '+' and the pk when the user has a new DRF token
-- (nothing to revoke: the gates' token filters read that user's keys again). Token keys never
-- travel. NOTIFY is delivered at
-- commit, so a gate never reloads the row before the change is visible.
--
-- drfgate_django's migration 0001_revocation installs this on PostgreSQL (and re-installs it after
-- each `migrate`, for tables that appeared later). Without Django, run this file, then:
--   SELECT drfgate_revocation_install();   -- auth_user, authtoken_token, knox_authtoken
-- or with a custom user model:
--   SELECT drfgate_revocation_install(user_table => 'accounts_user', user_fk => 'user_id');
-- and SELECT drfgate_revocation_uninstall(); removes it all.

-- The trigger: TG_ARGV is (the column holding the user's pk, the channel, the kind):
--   'user'  the user table: any change but last_login (Django writes it at every login)
--   'row'   a table with a user column (tokens, permission links)
--   'token' DRF's token table: as 'row', and an insert notifies '+' || the user's pk
--   'all'   a change that may concern every user
CREATE OR REPLACE FUNCTION drfgate_revocation_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    user_column text := TG_ARGV[0];
    channel text := TG_ARGV[1];
    kind text := TG_ARGV[2];
    old_pk text;
    new_pk text;
BEGIN
    IF kind = 'all' THEN
        PERFORM pg_notify(channel, '*');
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' AND kind = 'token' THEN
        PERFORM pg_notify(channel, '+' || (to_jsonb(NEW) ->> user_column));
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND kind = 'user'
       AND (to_jsonb(OLD) - 'last_login') = (to_jsonb(NEW) - 'last_login') THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_pk := to_jsonb(OLD) ->> user_column;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_pk := to_jsonb(NEW) ->> user_column;
    END IF;
    IF old_pk IS NOT NULL THEN
        PERFORM pg_notify(channel, old_pk);
    END IF;
    IF new_pk IS NOT NULL AND new_pk IS DISTINCT FROM old_pk THEN
        PERFORM pg_notify(channel, new_pk);
    END IF;
    RETURN NULL;
END
$$;

-- One trigger (named drfgate_revocation) on one table, if the table exists.
CREATE OR REPLACE FUNCTION drfgate_revocation_trigger(
    table_name text, events text, user_column text, channel text, kind text
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass(quote_ident(table_name)) IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS drfgate_revocation ON %I', table_name);
    EXECUTE format(
        'CREATE TRIGGER drfgate_revocation AFTER %s ON %I FOR EACH ROW '
        'EXECUTE PROCEDURE drfgate_revocation_notify(%L, %L, %L)',
        events, table_name, user_column, channel, kind);
END
$$;

CREATE OR REPLACE FUNCTION drfgate_revocation_install(
    user_table text DEFAULT 'auth_user',
    user_pk text DEFAULT 'id',
    user_fk text DEFAULT 'user_id',
    token_table text DEFAULT 'authtoken_token',
    knox_table text DEFAULT 'knox_authtoken',
    channel text DEFAULT 'drfgate_revocation'
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- A password changed, a user deactivated, made staff or not, deleted.
    PERFORM drfgate_revocation_trigger(user_table, 'UPDATE OR DELETE', user_pk, channel, 'user');
    -- A token deleted (or moved to another user); a new token too ('+' and the pk): it revokes
    -- nothing, but the gates' token filters learn that its key exists (a key they do not know,
    -- during a flood of junk tokens, is refused without a query).
    PERFORM drfgate_revocation_trigger(token_table, 'INSERT OR UPDATE OR DELETE', 'user_id',
        channel, 'token');
    PERFORM drfgate_revocation_trigger(knox_table, 'UPDATE OR DELETE', 'user_id', channel, 'row');
    -- Permissions: a user's own, a user's groups, and a group's (every member: '*').
    PERFORM drfgate_revocation_trigger(user_table || '_user_permissions',
        'INSERT OR UPDATE OR DELETE', user_fk, channel, 'row');
    PERFORM drfgate_revocation_trigger(user_table || '_groups',
        'INSERT OR UPDATE OR DELETE', user_fk, channel, 'row');
    PERFORM drfgate_revocation_trigger('auth_group_permissions',
        'INSERT OR UPDATE OR DELETE', '', channel, 'all');
END
$$;

CREATE OR REPLACE FUNCTION drfgate_revocation_uninstall() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT tgrelid::regclass::text AS name FROM pg_trigger WHERE tgname = 'drfgate_revocation'
    LOOP
        EXECUTE format('DROP TRIGGER drfgate_revocation ON %s', t.name);
    END LOOP;
    DROP FUNCTION IF EXISTS drfgate_revocation_install(text, text, text, text, text, text);
    DROP FUNCTION IF EXISTS drfgate_revocation_trigger(text, text, text, text, text);
    DROP FUNCTION IF EXISTS drfgate_revocation_notify();
END
$$;

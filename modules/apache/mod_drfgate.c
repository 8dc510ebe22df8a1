/*
 * mod_drfgate: Django REST Framework's authentication and permission checks, answered in
 * Apache before the request reaches the application (mod_wsgi, a proxy, static files).
 *
 *   LoadModule drfgate_module modules/mod_drfgate.so
 *   DrfgateConfig /etc/drfgate/drfgate.toml
 *   <Location /api/>
 *       Drfgate On
 *   </Location>
 *
 * Every request of an enabled location is decided by libdrfgate, whatever `Require` says:
 * DRF lets anonymous requests through AllowAny views yet refuses bad credentials, which the
 * authn/authz hooks (run only when authorisation needs a user) cannot express. A refusal is
 * answered here with DRF's status, JSON body and headers; an allowed user becomes r->user
 * (REMOTE_USER) and DRFGATE_* variables for the application.
 *
 * The decision is made in the fixups hook, the last step before the handler, because only
 * there is the request the handler will run known: mod_rewrite has rewritten it (server
 * rules in translate_name, per-directory rules in fixups, before this module), mod_wsgi has
 * mapped it to its script and the core has split off r->path_info, and an internal redirect
 * (which skips the access and auth hooks when its configuration is the same) still comes
 * through here. For mod_wsgi the gate judges exactly the PATH_INFO mod_wsgi hands Django.
 *
 * libdrfgate's own messages (config warnings, database errors) go to the error log with the
 * prefix "drfgate: ", at the level LogLevel (or `LogLevel drfgate:...`) asks for.
 */

#include <stdlib.h>
#include <string.h>

#include "apr_file_io.h"
#include "apr_strings.h"
#include "apr_tables.h"
#include "apr_hash.h"

#include "ap_config.h"
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "drfgate.h"

module AP_MODULE_DECLARE_DATA drfgate_module;

#define DRFGATE_AUTH_TYPE "drfgate"

/*
 * The text of the last version of a config file that loaded, kept across restarts: when a
 * graceful restart (or SIGHUP) finds the file broken, the server keeps running with this
 * policy, and says why, rather than exiting (Apache exits when a directive fails while it
 * re-reads its configuration). It lives in the process pool, which outlives restarts (this
 * module's statics do not: Apache unloads and reloads its DSOs); the buffers are malloc'd
 * and replaced, so restarts do not grow the parent.
 */
typedef struct {
    char *text;                 /* NULL: no version of the file has loaded in this process */
    size_t len;
    char *base_dir;             /* relative paths in the config are relative to its folder */
    char *failed;               /* why the last reload of the file failed; NULL: it did not */
} last_good_config;

typedef struct {
    const char *config_path;    /* NULL: unset (inherited from the main server) */
    last_good_config *fallback; /* non-NULL: the file failed to reload; children use this */
    drfgate_gate *gate;         /* this child's gate; set in child_init, shared by threads */
} drfgate_server_conf;

typedef struct {
    int enabled;                /* -1: unset */
    const char *strip_prefix;   /* removed from the path before route matching */
    int strip_prefix_set;
} drfgate_dir_conf;

/* An allowed request's identity, as handed to the application. */
typedef struct {
    const char *user;           /* NULL: anonymous */
    const char *user_id;
    const char *scheme;
    int is_staff;
    const char *route;          /* NULL: no configured route matched */
    const char *signature;      /* NULL: no [handoff] in the config */
    const char *user_flags;
} drfgate_allowed;

/* The path the gate judges, in the form the C ABI is told. */
typedef struct {
    const char *path;
    uint32_t form;              /* DRFGATE_PATH_INFO or DRFGATE_PATH_RAW_TARGET */
} judged_path;

/* An allowed decision, kept in r->request_config so that a sub-request or an internal
 * redirect for the very same method and path reuses it; any other is decided again. */
typedef struct {
    const char *method;
    judged_path path;
    drfgate_allowed allowed;
} recorded_decision;

static const char *last_error_text(apr_pool_t *pool)
{
    size_t needed = 0;
    char *buf;

    if (drfgate_last_error_message(NULL, 0, &needed) != DRFGATE_RESULT_OK || needed == 0) {
        return "(no detail)";
    }
    buf = apr_palloc(pool, needed + 1);
    if (drfgate_last_error_message(buf, needed + 1, &needed) != DRFGATE_RESULT_OK) {
        return "(no detail)";
    }
    return buf;
}

/* ---------------------------------------------------------------------------------------- */
/* Configuration                                                                             */

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    (void)s;
    return apr_pcalloc(p, sizeof(drfgate_server_conf));
}

static void *merge_server_conf(apr_pool_t *p, void *base_, void *add_)
{
    drfgate_server_conf *base = base_;
    drfgate_server_conf *add = add_;
    drfgate_server_conf *merged = apr_pcalloc(p, sizeof(*merged));

    merged->config_path = add->config_path ? add->config_path : base->config_path;
    merged->fallback = add->config_path ? add->fallback : base->fallback;
    return merged;
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    drfgate_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->enabled = -1;
    conf->strip_prefix = NULL;
    conf->strip_prefix_set = 0;
    return conf;
}

static void *merge_dir_conf(apr_pool_t *p, void *base_, void *add_)
{
    drfgate_dir_conf *base = base_;
    drfgate_dir_conf *add = add_;
    drfgate_dir_conf *merged = apr_pcalloc(p, sizeof(*merged));

    merged->enabled = add->enabled != -1 ? add->enabled : base->enabled;
    merged->strip_prefix_set = add->strip_prefix_set || base->strip_prefix_set;
    merged->strip_prefix = add->strip_prefix_set ? add->strip_prefix : base->strip_prefix;
    return merged;
}

/* The remembered last good version of the config file `path` (created empty). */
static last_good_config *last_good(process_rec *process, const char *path, apr_pool_t *temp)
{
    const char *key = apr_pstrcat(temp, "drfgate-last-good:", path, NULL);
    void *found = NULL;

    apr_pool_userdata_get(&found, key, process->pool);
    if (found == NULL) {
        found = apr_pcalloc(process->pool, sizeof(last_good_config));
        apr_pool_userdata_set(found, apr_pstrdup(process->pool, key), apr_pool_cleanup_null,
                              process->pool);
    }
    return found;
}

static void replace_string(char **slot, const char *value)
{
    free(*slot);
    *slot = value != NULL ? strdup(value) : NULL;
}

/* Remembers the file's text as its last good version; keeps the previous one if unreadable. */
static void remember_text(last_good_config *good, const char *path, apr_pool_t *temp)
{
    apr_file_t *file;
    apr_finfo_t info;
    apr_size_t got = 0;
    char *text;

    if (apr_file_open(&file, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, temp) != APR_SUCCESS) {
        return;
    }
    if (apr_file_info_get(&info, APR_FINFO_SIZE, file) != APR_SUCCESS || info.size < 0
        || (text = malloc((size_t)info.size + 1)) == NULL) {
        apr_file_close(file);
        return;
    }
    if (info.size > 0
        && apr_file_read_full(file, text, (apr_size_t)info.size, &got) != APR_SUCCESS) {
        free(text);
        apr_file_close(file);
        return;
    }
    apr_file_close(file);
    free(good->text);
    good->text = text;
    good->len = got;
    replace_string(&good->base_dir, ap_make_dirstr_parent(temp, path));
}

/*
 * The config is loaded (and freed) here already, so that a broken config stops `apachectl
 * configtest` and startup with Apache's own "Syntax error on line N" pointing at this
 * directive. The gate the children use is created after the fork, in child_init.
 *
 * On a restart of a running server (graceful or SIGHUP), a file that no longer loads does
 * not stop the server: the last version that loaded stays in force, and post_config logs why
 * the new one was refused.
 */
static const char *set_config_path(cmd_parms *cmd, void *dummy, const char *arg)
{
    drfgate_server_conf *conf = ap_get_module_config(cmd->server->module_config, &drfgate_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *path;
    drfgate_gate *probe = NULL;
    drfgate_result rc;
    last_good_config *good;

    (void)dummy;
    if (err != NULL) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL) {
        return apr_pstrcat(cmd->pool, "DrfgateConfig: invalid file name ", arg, NULL);
    }
    good = last_good(cmd->server->process, path, cmd->temp_pool);
    rc = drfgate_gate_new_from_path(path, &probe);
    if (rc != DRFGATE_RESULT_OK) {
        const char *why = apr_psprintf(cmd->temp_pool, "%s: %s", drfgate_result_text(rc),
                                       last_error_text(cmd->temp_pool));
        if (good->text == NULL) {
            /* Startup or configtest: nothing to fall back on; stop with the reason. */
            return apr_psprintf(cmd->pool, "DrfgateConfig %s: %s", path, why);
        }
        replace_string(&good->failed, why);
        conf->config_path = path;
        conf->fallback = good;
        return NULL;
    }
    drfgate_gate_free(probe);
    remember_text(good, path, cmd->temp_pool);
    replace_string(&good->failed, NULL);
    conf->config_path = path;
    conf->fallback = NULL;
    return NULL;
}

static const char *set_strip_prefix(cmd_parms *cmd, void *dir_, const char *arg)
{
    drfgate_dir_conf *dir = dir_;

    (void)cmd;
    if (arg[0] != '/') {
        return "DrfgateStripPrefix must start with /";
    }
    dir->strip_prefix = arg;
    dir->strip_prefix_set = 1;
    return NULL;
}

static const command_rec drfgate_cmds[] = {
    AP_INIT_TAKE1("DrfgateConfig", set_config_path, NULL, RSRC_CONF,
                  "the drfgate config file (TOML); checked at startup, loaded in every child"),
    AP_INIT_FLAG("Drfgate", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(drfgate_dir_conf, enabled), ACCESS_CONF,
                 "On: decide every request of this location with drfgate; Off (default): do not"),
    AP_INIT_TAKE1("DrfgateStripPrefix", set_strip_prefix, NULL, ACCESS_CONF,
                  "a leading path removed before matching the config's routes, for an application "
                  "mounted below / (its SCRIPT_NAME)"),
    {NULL}
};

/* ---------------------------------------------------------------------------------------- */
/* Logging                                                                                   */

/* The drfgate level that matches the server's LogLevel (or `LogLevel drfgate:...`). */
static drfgate_log_level configured_log_level = DRFGATE_LOG_LEVEL_WARN;

/*
 * libdrfgate's log messages (config warnings when a gate is loaded, database errors while
 * deciding) into the main server's error log at the matching level, prefixed "drfgate: ".
 * Called from any thread, during any drfgate call; ap_log_error is thread-safe.
 */
static void log_to_error_log(void *userdata, drfgate_log_level level, const char *message,
                             size_t message_len)
{
    const server_rec *s = userdata;
    int aplevel;

    switch (level) {
    case DRFGATE_LOG_LEVEL_ERROR:
        aplevel = APLOG_ERR;
        break;
    case DRFGATE_LOG_LEVEL_WARN:
        aplevel = APLOG_WARNING;
        break;
    case DRFGATE_LOG_LEVEL_INFO:
        aplevel = APLOG_INFO;
        break;
    default:
        aplevel = APLOG_DEBUG;
        break;
    }
    ap_log_error(APLOG_MARK, aplevel, 0, s, "drfgate: %.*s", (int)message_len, message);
}

/* Before pconf is cleared (restart, stop) and this module unloaded with it. */
static apr_status_t remove_log_callback(void *unused)
{
    (void)unused;
    drfgate_set_log_callback(NULL, NULL);
    return APR_SUCCESS;
}

/*
 * The error log is open here, so this is where the callback goes in; the children inherit
 * it. Each config's warnings are logged once per (re)start, by loading it here: the children
 * load it again in child_init with warnings off, or every child prefork starts would repeat
 * them. (The check at DrfgateConfig runs before the log is open; its errors stop startup.)
 */
static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *main_server)
{
    int aplevel = ap_get_server_module_loglevel(main_server, APLOG_MODULE_INDEX);
    apr_hash_t *checked = apr_hash_make(ptemp);
    server_rec *s;

    (void)plog;
    configured_log_level = aplevel >= APLOG_DEBUG ? DRFGATE_LOG_LEVEL_DEBUG
        : aplevel >= APLOG_INFO ? DRFGATE_LOG_LEVEL_INFO
        : aplevel >= APLOG_WARNING ? DRFGATE_LOG_LEVEL_WARN
        : DRFGATE_LOG_LEVEL_ERROR;
    drfgate_set_log_level(configured_log_level);
    drfgate_set_log_callback(log_to_error_log, main_server);
    apr_pool_cleanup_register(pconf, NULL, remove_log_callback, apr_pool_cleanup_null);

    /* At startup Apache reads its config twice; the first round is only a check. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    for (s = main_server; s != NULL; s = s->next) {
        drfgate_server_conf *conf = ap_get_module_config(s->module_config, &drfgate_module);
        drfgate_gate *gate = NULL;

        if (conf->config_path == NULL
            || apr_hash_get(checked, conf->config_path, APR_HASH_KEY_STRING) != NULL) {
            continue;
        }
        apr_hash_set(checked, conf->config_path, APR_HASH_KEY_STRING, conf->config_path);
        if (conf->fallback != NULL) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                         "drfgate: DrfgateConfig %s not reloaded, the version loaded before "
                         "stays in force: %s", conf->config_path,
                         conf->fallback->failed ? conf->fallback->failed : "(no detail)");
            continue;
        }
        /* Loaded at DrfgateConfig already; a failure now is logged by each child too. */
        if (drfgate_gate_new_from_path(conf->config_path, &gate) == DRFGATE_RESULT_OK) {
            drfgate_gate_free(gate);
        }
    }
    return OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Process model                                                                             */

static apr_status_t free_gate(void *gate)
{
    drfgate_gate_free(gate);
    return APR_SUCCESS;
}

/* One gate per distinct config file, shared by the virtual hosts that name it. */
static void child_init(apr_pool_t *pchild, server_rec *main_server)
{
    apr_hash_t *gates_by_path = apr_hash_make(pchild);
    server_rec *s;

    /* The parent logged the configs' warnings (post_config); errors still come through. */
    drfgate_set_log_level(DRFGATE_LOG_LEVEL_ERROR);
    for (s = main_server; s != NULL; s = s->next) {
        drfgate_server_conf *conf = ap_get_module_config(s->module_config, &drfgate_module);
        drfgate_gate *gate;
        drfgate_result rc;

        if (conf->config_path == NULL) {
            continue;
        }
        gate = apr_hash_get(gates_by_path, conf->config_path, APR_HASH_KEY_STRING);
        if (gate == NULL) {
            rc = conf->fallback != NULL
                ? drfgate_gate_new_from_str(conf->fallback->text, conf->fallback->len,
                                            conf->fallback->base_dir, &gate)
                : drfgate_gate_new_from_path(conf->config_path, &gate);
            if (rc != DRFGATE_RESULT_OK) {
                /* Requests of enabled locations then fail closed with 500. */
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                             "drfgate: cannot load %s in this child: %s: %s",
                             conf->config_path, drfgate_result_text(rc), last_error_text(pchild));
                continue;
            }
            apr_hash_set(gates_by_path, conf->config_path, APR_HASH_KEY_STRING, gate);
            apr_pool_cleanup_register(pchild, gate, free_gate, apr_pool_cleanup_null);
        }
        conf->gate = gate;
    }
    drfgate_set_log_level(configured_log_level);
}

/* ---------------------------------------------------------------------------------------- */
/* Requests                                                                                  */

typedef struct {
    drfgate_header *items;
    size_t len;
} header_list;

static header_list request_headers(request_rec *r)
{
    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *entries = (const apr_table_entry_t *)arr->elts;
    header_list list;
    int i;

    list.items = apr_pcalloc(r->pool, sizeof(drfgate_header) * (arr->nelts > 0 ? arr->nelts : 1));
    list.len = 0;
    for (i = 0; i < arr->nelts; i++) {
        if (entries[i].key == NULL || entries[i].val == NULL) {
            continue;
        }
        list.items[list.len].name.data = (const uint8_t *)entries[i].key;
        list.items[list.len].name.len = strlen(entries[i].key);
        list.items[list.len].value.data = (const uint8_t *)entries[i].val;
        list.items[list.len].value.len = strlen(entries[i].val);
        list.len++;
    }
    return list;
}

static drfgate_bytes bytes_of(const char *text)
{
    drfgate_bytes b;

    b.data = (const uint8_t *)text;
    b.len = text ? strlen(text) : 0;
    return b;
}

static const char *copy_str(apr_pool_t *pool, drfgate_str s)
{
    return apr_pstrmemdup(pool, s.data, s.len);
}

/* `path` without the location's mount point (DrfgateStripPrefix), when it starts with it. */
static const char *strip_prefix(const char *path, const drfgate_dir_conf *dir)
{
    size_t prefix_len;

    if (dir->strip_prefix == NULL) {
        return path;
    }
    prefix_len = strlen(dir->strip_prefix);
    while (prefix_len > 1 && dir->strip_prefix[prefix_len - 1] == '/') {
        prefix_len--;
    }
    if (strncmp(path, dir->strip_prefix, prefix_len) == 0
        && (path[prefix_len] == '/' || path[prefix_len] == '\0')) {
        path += prefix_len;
        return path[0] == '\0' ? "/" : path;
    }
    return path;
}

static int is_wsgi_script(const request_rec *r)
{
    return r->handler != NULL
        && (strcmp(r->handler, "wsgi-script") == 0
            || strcmp(r->handler, "application/x-httpd-wsgi") == 0);
}

/*
 * What the application behind this request will take as its path, in the form that says
 * how the gate must read it:
 * - mod_wsgi: PATH_INFO, which is r->path_info (Apache's decoded, normalised path below the
 *   WSGIScriptAlias) with runs of `/` merged, as mod_wsgi does. Never decoded again: a `%3F`
 *   the client sent is a `?` here and stays one in Django's path_info.
 * - mod_proxy with `nocanon`: the raw request target, passed on as sent.
 * - anything else (a proxy re-encoding r->uri, static files): r->uri, already decoded and
 *   normalised by Apache, after rewrites.
 * DrfgateStripPrefix applies to the last two; under mod_wsgi the script's mount point is
 * already SCRIPT_NAME.
 */
static judged_path path_to_judge(request_rec *r, const drfgate_dir_conf *dir)
{
    judged_path judged;

    if (is_wsgi_script(r)) {
        char *path_info = apr_pstrdup(r->pool, r->path_info ? r->path_info : "");
        ap_no2slash(path_info);
        judged.path = path_info;
        judged.form = DRFGATE_PATH_INFO;
    } else if (r->proxyreq != PROXYREQ_NONE && apr_table_get(r->notes, "proxy-nocanon") != NULL) {
        judged.path = strip_prefix(r->unparsed_uri ? r->unparsed_uri : "/", dir);
        judged.form = DRFGATE_PATH_RAW_TARGET;
    } else {
        judged.path = strip_prefix(r->uri ? r->uri : "/", dir);
        judged.form = DRFGATE_PATH_INFO;
    }
    return judged;
}

static int same_judgement(const recorded_decision *recorded, const request_rec *r,
                          const judged_path *path)
{
    return recorded->path.form == path->form && strcmp(recorded->path.path, path->path) == 0
        && strcmp(recorded->method, r->method) == 0;
}

/* An allowed decision for this method and path made earlier for the same client request:
 * by the request this one is a sub-request of, or redirected from. */
static const recorded_decision *earlier_decision(const request_rec *r, const judged_path *path)
{
    const request_rec *earlier;

    for (earlier = r; earlier != NULL; earlier = earlier->main ? earlier->main : earlier->prev) {
        const recorded_decision *recorded
            = ap_get_module_config(earlier->request_config, &drfgate_module);
        if (recorded != NULL && same_judgement(recorded, r, path)) {
            return recorded;
        }
    }
    return NULL;
}

/*
 * `[handoff]`: the identity signed for the application (drfgate_django's GateAuthentication
 * reads DRFGATE_SIGNATURE with the other DRFGATE_* variables), so it needs no query to trust
 * them. Signed for anonymous requests too. The signature covers the method and the path the
 * gate judged: a sub-request or redirect that reuses this decision has the same.
 */
static void apply_handoff(request_rec *r, const drfgate_allowed *allowed)
{
    if (allowed->signature == NULL) {
        return;
    }
    apr_table_setn(r->subprocess_env, "DRFGATE_SIGNATURE", allowed->signature);
    if (allowed->user != NULL) {
        apr_table_setn(r->subprocess_env, "DRFGATE_USER_FLAGS", allowed->user_flags);
    }
}

static void apply_allowed(request_rec *r, const drfgate_allowed *allowed)
{
    if (allowed->route != NULL) {
        apr_table_setn(r->subprocess_env, "DRFGATE_ROUTE", allowed->route);
    }
    apply_handoff(r, allowed);
    if (allowed->user == NULL) {
        return;
    }
    r->user = (char *)allowed->user;
    r->ap_auth_type = DRFGATE_AUTH_TYPE;
    apr_table_setn(r->subprocess_env, "DRFGATE_USER_ID", allowed->user_id);
    apr_table_setn(r->subprocess_env, "DRFGATE_USERNAME", allowed->user);
    apr_table_setn(r->subprocess_env, "DRFGATE_AUTH", allowed->scheme);
    apr_table_setn(r->subprocess_env, "DRFGATE_IS_STAFF", allowed->is_staff ? "1" : "0");
}

static drfgate_allowed *read_allowed(request_rec *r, const drfgate_decision *decision)
{
    drfgate_allowed *allowed = apr_pcalloc(r->pool, sizeof(*allowed));
    drfgate_str value, flags;

    if (drfgate_decision_route(decision, &value) == DRFGATE_RESULT_OK) {
        allowed->route = copy_str(r->pool, value);
    }
    if (drfgate_decision_handoff(decision, &value, &flags) == DRFGATE_RESULT_OK) {
        allowed->signature = copy_str(r->pool, value);
        allowed->user_flags = copy_str(r->pool, flags);
    }
    if (!drfgate_decision_is_authenticated(decision)) {
        return allowed;
    }
    if (drfgate_decision_username(decision, &value) == DRFGATE_RESULT_OK) {
        allowed->user = copy_str(r->pool, value);
    }
    allowed->user_id = drfgate_decision_user_pk(decision, &value) == DRFGATE_RESULT_OK
        ? copy_str(r->pool, value) : "";
    allowed->scheme = drfgate_decision_scheme(decision, &value) == DRFGATE_RESULT_OK
        ? copy_str(r->pool, value) : "";
    allowed->is_staff = drfgate_decision_is_staff(decision) ? 1 : 0;
    return allowed;
}

/* DRF's refusal, sent as is: ap_custom_response would force text/html. */
static int send_refusal(request_rec *r, const drfgate_decision *decision)
{
    drfgate_bytes body = {0};
    drfgate_str header;

    if (r->main != NULL) {
        /* A sub-request's answer is never sent to the client: its status is enough for
         * whoever made it (mod_dir, mod_include, mod_wsgi's PATH_TRANSLATED lookup). */
        return drfgate_decision_status(decision);
    }
    ap_discard_request_body(r);
    r->status = drfgate_decision_status(decision);
    if (drfgate_decision_www_authenticate(decision, &header) == DRFGATE_RESULT_OK) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", copy_str(r->pool, header));
    }
    if (drfgate_decision_allow(decision, &header) == DRFGATE_RESULT_OK) {
        apr_table_setn(r->err_headers_out, "Allow", copy_str(r->pool, header));
    }
    if (drfgate_decision_retry_after(decision, &header) == DRFGATE_RESULT_OK) {
        apr_table_setn(r->err_headers_out, "Retry-After", copy_str(r->pool, header));
    }
    /* DRF's JSON, or Django's HTML 400 page for a host ALLOWED_HOSTS refuses. */
    if (drfgate_decision_content_type(decision, &header) == DRFGATE_RESULT_OK) {
        ap_set_content_type(r, copy_str(r->pool, header));
    } else {
        ap_set_content_type(r, DRFGATE_DENY_CONTENT_TYPE);
    }
    if (drfgate_decision_body(decision, &body) == DRFGATE_RESULT_OK) {
        ap_set_content_length(r, (apr_off_t)body.len);
        if (!r->header_only && body.len > 0) {
            ap_rwrite(body.data, (int)body.len, r);
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "drfgate: refused %s %s with %d",
                  r->method, r->uri, r->status);
    return DONE;
}

/*
 * Request bodies. The gate reads the body only when its decision needs it
 * (drfgate_gate_body_wanted: a session POST whose CSRF token DRF looks for in the parsed
 * form): at most that many bytes are read here, through the input filters, and kept in a
 * brigade; an input filter then replays them to the handler (mod_wsgi) before anything
 * still unread, as mod_request does for KeptBodySize.
 */
#define DRFGATE_KEPT_BODY_FILTER "DRFGATE_KEPT_BODY"

typedef struct {
    apr_bucket_brigade *kept;
} kept_body;

static apr_status_t replay_kept_body(ap_filter_t *f, apr_bucket_brigade *bb,
                                     ap_input_mode_t mode, apr_read_type_e block,
                                     apr_off_t readbytes)
{
    kept_body *ctx = f->ctx;
    apr_bucket *split;
    apr_status_t rv;

    if (ctx == NULL || APR_BRIGADE_EMPTY(ctx->kept)) {
        ap_remove_input_filter(f);
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (mode != AP_MODE_READBYTES) {
        /* Handlers read request bodies by bytes; nothing here reads lines. */
        return APR_ENOTIMPL;
    }
    rv = apr_brigade_partition(ctx->kept, readbytes, &split);
    if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
        return rv;
    }
    while (!APR_BRIGADE_EMPTY(ctx->kept) && APR_BRIGADE_FIRST(ctx->kept) != split) {
        apr_bucket *b = APR_BRIGADE_FIRST(ctx->kept);
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(bb, b);
    }
    return APR_SUCCESS;
}

/* Reads up to `wanted` bytes of r's body (and one read past it, to know whether it ended)
 * for the gate, keeps them for the handler, and sets request->body. OK, or an HTTP status
 * when reading failed (as a handler would answer it). */
static int read_body_for_gate(request_rec *r, apr_size_t wanted, drfgate_request *request)
{
    apr_bucket_brigade *kept = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    kept_body *ctx;
    apr_off_t total = 0;
    int seen_eos = 0;
    char *flat;
    apr_size_t flat_len;
    apr_status_t rv;

    while (!seen_eos && total <= (apr_off_t)wanted) {
        apr_bucket *b;

        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ,
                            HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        while (!APR_BRIGADE_EMPTY(bb)) {
            b = APR_BRIGADE_FIRST(bb);
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
            } else if (!APR_BUCKET_IS_METADATA(b)) {
                const char *data;
                apr_size_t len;

                rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
                if (rv != APR_SUCCESS) {
                    apr_brigade_cleanup(bb);
                    return HTTP_BAD_REQUEST;
                }
                total += (apr_off_t)len;
            }
            rv = apr_bucket_setaside(b, r->pool);
            if (rv != APR_SUCCESS && rv != APR_ENOTIMPL) {
                apr_brigade_cleanup(bb);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(kept, b);
        }
    }
    ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    ctx->kept = kept;
    ap_add_input_filter(DRFGATE_KEPT_BODY_FILTER, ctx, r, r->connection);

    rv = apr_brigade_pflatten(kept, &flat, &flat_len, r->pool);
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    request->body.data = (const uint8_t *)flat;
    request->body.len = flat_len < wanted ? flat_len : wanted;
    request->body_complete = seen_eos && total <= (apr_off_t)wanted;
    return OK;
}

static apr_status_t free_decision(void *decision)
{
    drfgate_decision_free(decision);
    return APR_SUCCESS;
}

/* The decision this connection's requests are decided into (drfgate_gate_decide_into): one
 * per connection, refilled request after request, so that a decision costs no malloc/free
 * of its own. A connection is served by one thread at a time (an HTTP/2 stream has its own
 * secondary connection), and every answer is copied out of it before decide() returns, so
 * the next request may refill it. NULL when it cannot be made (out of memory). */
static drfgate_decision *connection_decision(conn_rec *c)
{
    drfgate_decision *decision = ap_get_module_config(c->conn_config, &drfgate_module);

    if (decision == NULL && drfgate_decision_new(&decision) == DRFGATE_RESULT_OK) {
        apr_pool_cleanup_register(c->pool, decision, free_decision, apr_pool_cleanup_null);
        ap_set_module_config(c->conn_config, &drfgate_module, decision);
    }
    return decision;
}

/* Decides r for an enabled location on `path`: OK (allowed, identity set), DONE (refused and
 * answered), a status (a refused sub-request), or 500 (no decision: fail closed). */
static int decide(request_rec *r, const judged_path *path)
{
    drfgate_server_conf *server = ap_get_module_config(r->server->module_config, &drfgate_module);
    drfgate_request request = DRFGATE_REQUEST_INIT;
    drfgate_decision *decision;
    const recorded_decision *earlier;
    recorded_decision *recorded;
    header_list headers;
    drfgate_result rc;
    size_t wanted = 0;

    earlier = earlier_decision(r, path);
    if (earlier != NULL) {
        ap_set_module_config(r->request_config, &drfgate_module, (void *)earlier);
        apply_allowed(r, &earlier->allowed);
        return OK;
    }
    if (server->gate == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "drfgate: Drfgate On for %s, but no gate is loaded (DrfgateConfig missing, "
                      "or it failed to load in this child: see above)", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    headers = request_headers(r);
    request.method = bytes_of(r->method);
    request.path = bytes_of(path->path);
    request.path_form = path->form;
    request.query = bytes_of(r->args);
    request.headers = headers.items;
    request.headers_len = headers.len;
    request.remote_addr = bytes_of(r->useragent_ip);
    if (r->user != NULL) {
        request.remote_user = bytes_of(r->user);
    }
    request.secure = strcmp(ap_http_scheme(r), "https") == 0;
    /* The SERVER_PORT mod_wsgi hands Django, which its CSRF Referer check reads with
     * CSRF_COOKIE_DOMAIN. Only under mod_wsgi: behind ProxyPass the application's server has
     * its own port, unknown here (the gate then defers what depends on it). */
    if (is_wsgi_script(r)) {
        request.server_port = bytes_of(apr_psprintf(r->pool, "%u", ap_get_server_port(r)));
    }

    rc = drfgate_gate_body_wanted(server->gate, &request, &wanted);
    if (rc == DRFGATE_RESULT_OK && r->main == NULL && r->prev == NULL) {
        int status = read_body_for_gate(r, wanted, &request);
        if (status != OK) {
            return status;
        }
    } else if (rc != DRFGATE_RESULT_OK && rc != DRFGATE_RESULT_ABSENT) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "drfgate: no decision for %s %s: %s: %s",
                      r->method, r->uri, drfgate_result_text(rc), last_error_text(r->pool));
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    decision = connection_decision(r->connection);
    if (decision == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "drfgate: no decision for %s %s: %s",
                      r->method, r->uri, last_error_text(r->pool));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = drfgate_gate_decide_into(server->gate, &request, decision);
    if (rc != DRFGATE_RESULT_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "drfgate: no decision for %s %s: %s: %s",
                      r->method, r->uri, drfgate_result_text(rc), last_error_text(r->pool));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!drfgate_decision_is_allow(decision)) {
        return send_refusal(r, decision);
    }
    recorded = apr_pcalloc(r->pool, sizeof(*recorded));
    recorded->method = r->method;
    recorded->path = *path;
    recorded->allowed = *read_allowed(r, decision);
    ap_set_module_config(r->request_config, &drfgate_module, recorded);
    apply_allowed(r, &recorded->allowed);
    return OK;
}

/* A request that will not reach a handler here: it is decided where it ends up. */
static int is_redirected(const request_rec *r)
{
    return (r->handler != NULL && strcmp(r->handler, "redirect-handler") == 0)
        || (r->filename != NULL && strncmp(r->filename, "redirect:", 9) == 0);
}

static int decide_before_handler(request_rec *r)
{
    drfgate_dir_conf *dir = ap_get_module_config(r->per_dir_config, &drfgate_module);
    judged_path path;

    if (dir->enabled != 1 || is_redirected(r)) {
        return DECLINED;
    }
    path = path_to_judge(r, dir);
    return decide(r, &path);
}

/*
 * Apache's core answers TRACE in map_to_storage, before the fixups, by echoing the request
 * (Authorization included). DRF answers it like any other method: 401/403 first, then 405.
 * So TRACE is decided here, where <Location> settings already apply, on the decoded r->uri
 * (the handler is not known yet).
 */
static int decide_trace_early(request_rec *r)
{
    drfgate_dir_conf *dir = ap_get_module_config(r->per_dir_config, &drfgate_module);
    judged_path path;
    int status;

    if (r->method_number != M_TRACE || r->main != NULL || dir->enabled != 1) {
        return DECLINED;
    }
    path.path = strip_prefix(r->uri ? r->uri : "/", dir);
    path.form = DRFGATE_PATH_INFO;
    status = decide(r, &path);
    return status == OK ? DECLINED : status;
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Last among the fixups: after mod_rewrite's per-directory rules and anything else that
     * may still change where the request goes. */
    ap_hook_fixups(decide_before_handler, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_translate_name(decide_trace_early, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_input_filter(DRFGATE_KEPT_BODY_FILTER, replay_kept_body, NULL,
                             AP_FTYPE_RESOURCE);
}

AP_DECLARE_MODULE(drfgate) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    merge_server_conf,
    drfgate_cmds,
    register_hooks
};

/*
 * ngx_http_drfgate_module: Django REST Framework's authentication and permission checks,
 * answered inside nginx's access phase, before the request is proxied to the application.
 *
 *   load_module modules/ngx_http_drfgate_module.so;
 *   thread_pool drfgate threads=4;
 *   http {
 *       drfgate_config /etc/drfgate/drfgate.toml;
 *       drfgate_thread_pool drfgate;
 *       location /api/ {
 *           drfgate on;
 *           proxy_set_header X-Drfgate-User $drfgate_user;
 *           proxy_pass http://django;
 *       }
 *   }
 *
 * Every request of an enabled location is decided by libdrfgate (include/drfgate.h): no
 * parsing and no policy here. A refusal is answered with DRF's status, JSON body,
 * WWW-Authenticate and Allow, and never reaches the upstream; an allowed request goes on with
 * the identity in $drfgate_user, $drfgate_user_id, $drfgate_auth, $drfgate_is_staff and the
 * route that judged it in $drfgate_route; with a [handoff] table in the config, signed for the
 * application in $drfgate_signature and $drfgate_user_flags (X-Drfgate-Signature and
 * X-Drfgate-User-Flags, which drfgate_django's GateAuthentication checks).
 *
 * The event loop never waits: a decision the gate can make from its caches or from the
 * request alone (drfgate_gate_decide_cached) is made inline; any other (a database lookup, a
 * password hash) runs in the thread pool named by drfgate_thread_pool, and the request
 * resumes in the access phase when it is done. Without drfgate_thread_pool they run in
 * nginx's "default" pool; nginx built without threads refuses drfgate_config.
 *
 * Gates are created in each worker (init_process) after the fork and freed at its exit; the
 * config is loaded once at drfgate_config already, so a broken one stops `nginx -t`.
 * libdrfgate's messages go to the error log, prefixed "drfgate: ", at the matching level.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include "drfgate.h"

/* drfgate_path_form: which form of the request's path the gate judges. */
#define NGX_HTTP_DRFGATE_RAW_TARGET  0
#define NGX_HTTP_DRFGATE_PATH_INFO   1

typedef struct {
    ngx_str_t                config;        /* empty: no drfgate_config */
#if (NGX_THREADS)
    ngx_thread_pool_t       *thread_pool;   /* drfgate_thread_pool's, else "default" */
#endif
    drfgate_gate            *gate;          /* this worker's gate (init_process) */
    /* What the event loop decides into (drfgate_gate_decide_cached_into), request after
     * request: one per worker, whose event loop is one thread, and every answer is copied
     * out of it before the next request is decided (init_process) */
    drfgate_decision        *inline_decision;
} ngx_http_drfgate_main_conf_t;

typedef struct {
    ngx_flag_t               enable;
    ngx_str_t                strip_prefix;  /* data NULL: unset */
    ngx_uint_t               path_form;
} ngx_http_drfgate_loc_conf_t;

typedef enum {
    NGX_HTTP_DRFGATE_NEW = 0,
    NGX_HTTP_DRFGATE_WAITING,   /* a decision is running in the thread pool */
    NGX_HTTP_DRFGATE_DECIDED,   /* the pool's decision is back, not yet applied */
    NGX_HTTP_DRFGATE_ALLOWED,
} ngx_http_drfgate_state_e;

/* What a thread-pool decision needs and gives: only memory that outlives the task. */
typedef struct {
    const drfgate_gate      *gate;
    drfgate_request          request;
    drfgate_decision        *decision;
    drfgate_result           result;
} ngx_http_drfgate_task_t;

/* The request body, read only when the decision needs it (drfgate_gate_body_wanted). */
typedef enum {
    NGX_HTTP_DRFGATE_BODY_UNREAD = 0,
    NGX_HTTP_DRFGATE_BODY_READING,      /* ngx_http_read_client_request_body is under way */
    NGX_HTTP_DRFGATE_BODY_READ,         /* read (and kept for the upstream) */
} ngx_http_drfgate_body_e;

typedef struct {
    ngx_http_drfgate_state_e state;
    ngx_http_drfgate_body_e  body_state;
    ngx_http_drfgate_task_t *task;
    /* An allowed request's identity; empty (len 0) for anonymous. */
    ngx_str_t                user;          /* percent-encoded UTF-8, as drfgate serve sends it */
    ngx_str_t                user_id;
    ngx_str_t                auth;
    ngx_str_t                is_staff;
    ngx_str_t                route;         /* empty: no configured route matched */
    /* [handoff]: the identity signed for the application (X-Drfgate-Signature); empty
     * without a [handoff] table in the config. */
    ngx_str_t                signature;
    ngx_str_t                user_flags;    /* X-Drfgate-User-Flags: staff,superuser */
} ngx_http_drfgate_ctx_t;

static ngx_int_t ngx_http_drfgate_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_drfgate_init(ngx_conf_t *cf);
static void *ngx_http_drfgate_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_drfgate_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_drfgate_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_drfgate_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *ngx_http_drfgate_config(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_drfgate_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_drfgate_strip_prefix(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_drfgate_init_process(ngx_cycle_t *cycle);
static void ngx_http_drfgate_exit_process(ngx_cycle_t *cycle);

static ngx_conf_enum_t ngx_http_drfgate_path_forms[] = {
    { ngx_string("raw_target"), NGX_HTTP_DRFGATE_RAW_TARGET },
    { ngx_string("path_info"), NGX_HTTP_DRFGATE_PATH_INFO },
    { ngx_null_string, 0 }
};

static ngx_command_t ngx_http_drfgate_commands[] = {

    { ngx_string("drfgate_config"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_drfgate_config,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("drfgate_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_drfgate_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("drfgate"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_drfgate_loc_conf_t, enable),
      NULL },

    { ngx_string("drfgate_strip_prefix"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_drfgate_strip_prefix,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("drfgate_path_form"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_drfgate_loc_conf_t, path_form),
      &ngx_http_drfgate_path_forms },

      ngx_null_command
};

static ngx_http_module_t ngx_http_drfgate_module_ctx = {
    ngx_http_drfgate_add_variables,     /* preconfiguration */
    ngx_http_drfgate_init,              /* postconfiguration */
    ngx_http_drfgate_create_main_conf,  /* create main configuration */
    ngx_http_drfgate_init_main_conf,    /* init main configuration */
    NULL,                               /* create server configuration */
    NULL,                               /* merge server configuration */
    ngx_http_drfgate_create_loc_conf,   /* create location configuration */
    ngx_http_drfgate_merge_loc_conf     /* merge location configuration */
};

ngx_module_t ngx_http_drfgate_module = {
    NGX_MODULE_V1,
    &ngx_http_drfgate_module_ctx,       /* module context */
    ngx_http_drfgate_commands,          /* module directives */
    NGX_HTTP_MODULE,                    /* module type */
    NULL,                               /* init master */
    NULL,                               /* init module */
    ngx_http_drfgate_init_process,      /* init process */
    NULL,                               /* init thread */
    NULL,                               /* exit thread */
    ngx_http_drfgate_exit_process,      /* exit process */
    NULL,                               /* exit master */
    NGX_MODULE_V1_PADDING
};

/* ---------------------------------------------------------------------------------------- */
/* Logging                                                                                   */

static const char *
ngx_http_drfgate_last_error(ngx_pool_t *pool)
{
    size_t  needed = 0;
    char   *buf;

    if (drfgate_last_error_message(NULL, 0, &needed) != DRFGATE_RESULT_OK || needed == 0) {
        return "(no detail)";
    }
    buf = ngx_pnalloc(pool, needed + 1);
    if (buf == NULL
        || drfgate_last_error_message(buf, needed + 1, &needed) != DRFGATE_RESULT_OK)
    {
        return "(no detail)";
    }
    return buf;
}

/*
 * libdrfgate's messages into the error log of the running cycle. Called from any thread
 * (the pool's too), as nginx's own thread pool code logs; the message never holds a secret.
 */
static void
ngx_http_drfgate_log(void *userdata, drfgate_log_level level, const char *message,
    size_t message_len)
{
    ngx_uint_t  ngx_level;

    (void) userdata;
    switch (level) {
    case DRFGATE_LOG_LEVEL_ERROR:
        ngx_level = NGX_LOG_ERR;
        break;
    case DRFGATE_LOG_LEVEL_WARN:
        ngx_level = NGX_LOG_WARN;
        break;
    case DRFGATE_LOG_LEVEL_INFO:
        ngx_level = NGX_LOG_INFO;
        break;
    default:
        ngx_level = NGX_LOG_DEBUG;
        break;
    }
    ngx_log_error(ngx_level, ngx_cycle->log, 0, "drfgate: %*s", message_len, message);
}

/* The most detailed drfgate level the error log would write. */
static uint32_t
ngx_http_drfgate_log_level(ngx_log_t *log)
{
    ngx_uint_t  level = log->log_level;

    if (level >= NGX_LOG_DEBUG) {
        return DRFGATE_LOG_LEVEL_DEBUG;
    }
    if (level >= NGX_LOG_NOTICE) {
        return DRFGATE_LOG_LEVEL_INFO;
    }
    if (level >= NGX_LOG_WARN) {
        return DRFGATE_LOG_LEVEL_WARN;
    }
    return DRFGATE_LOG_LEVEL_ERROR;
}

/* ---------------------------------------------------------------------------------------- */
/* Configuration                                                                             */

static void *
ngx_http_drfgate_create_main_conf(ngx_conf_t *cf)
{
    /* Zeroed: no config, no pool, no gate. */
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_drfgate_main_conf_t));
}

static char *
ngx_http_drfgate_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_drfgate_main_conf_t  *mcf = conf;

    if (mcf->config.len == 0) {
        return NGX_CONF_OK;
    }
#if (NGX_THREADS)
    if (mcf->thread_pool != NULL) {
        return NGX_CONF_OK;
    }
    /* No drfgate_thread_pool: nginx's "default" pool (a `thread_pool default ...;` if the
     * configuration has one, else 32 threads, as `aio threads` without a name gets), so
     * that a database lookup or a password hash never runs on the event loop. */
    mcf->thread_pool = ngx_thread_pool_add(cf, NULL);
    if (mcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
    ngx_conf_log_error(NGX_LOG_INFO, cf, 0,
                       "drfgate: no drfgate_thread_pool: decisions that need the database or "
                       "a password hash run in the thread pool \"default\"");
    return NGX_CONF_OK;
#else
    /* Without threads they would run on the event loop and stall every other request of
     * the worker while a password is hashed (PBKDF2, ≈ 0.5 s of CPU): refused instead. */
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "drfgate_config needs nginx built with --with-threads: decisions that "
                       "need the database or a password hash run in a thread pool");
    return NGX_CONF_ERROR;
#endif
}

/*
 * The config is loaded (and freed) here already, so that a broken config stops `nginx -t`
 * and startup with nginx's own "in FILE:LINE" pointing at this directive, and its warnings
 * are logged once. The workers load it again in init_process, after the fork.
 */
static char *
ngx_http_drfgate_config(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_drfgate_main_conf_t  *mcf = conf;
    ngx_str_t                     *value = cf->args->elts;
    ngx_str_t                      path;
    u_char                        *full;
    drfgate_gate                  *probe = NULL;
    drfgate_result                 rc;

    if (mcf->config.len != 0) {
        return "is duplicate";
    }
    path = value[1];
    if (path.len == 0) {
        return "needs a file name";
    }
    /* Relative to nginx's prefix (-p); NUL-terminated for the C ABI. */
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    full = ngx_pnalloc(cf->pool, path.len + 1);
    if (full == NULL) {
        return NGX_CONF_ERROR;
    }
    ngx_memcpy(full, path.data, path.len);
    full[path.len] = '\0';
    path.data = full;

    drfgate_set_log_level(ngx_http_drfgate_log_level(cf->log));
    drfgate_set_log_callback(ngx_http_drfgate_log, NULL);

    rc = drfgate_gate_new_from_path((const char *) path.data, &probe);
    if (rc != DRFGATE_RESULT_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "drfgate_config %s: %s: %s",
                           path.data, drfgate_result_text(rc),
                           ngx_http_drfgate_last_error(cf->temp_pool));
        return NGX_CONF_ERROR;
    }
    drfgate_gate_free(probe);
    mcf->config = path;
    (void) cmd;
    return NGX_CONF_OK;
}

static char *
ngx_http_drfgate_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
#if (NGX_THREADS)
    ngx_http_drfgate_main_conf_t  *mcf = conf;
    ngx_str_t                     *value = cf->args->elts;

    (void) cmd;
    if (mcf->thread_pool != NULL) {
        return "is duplicate";
    }
    /* Declared by a `thread_pool NAME threads=N;` at the top level ("default" exists
     * unless redefined); nginx checks the name when the configuration is complete. */
    mcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (mcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
#else
    (void) cf;
    (void) cmd;
    (void) conf;
    return "needs nginx built with --with-threads";
#endif
}

static char *
ngx_http_drfgate_strip_prefix(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_drfgate_loc_conf_t  *lcf = conf;
    ngx_str_t                    *value = cf->args->elts;

    (void) cmd;
    if (lcf->strip_prefix.data != NULL) {
        return "is duplicate";
    }
    if (value[1].len == 0 || value[1].data[0] != '/') {
        return "must start with /";
    }
    lcf->strip_prefix = value[1];
    /* Without its trailing slashes: "/app/" strips "/app" from "/app/x", leaving "/x". */
    while (lcf->strip_prefix.len > 1
           && lcf->strip_prefix.data[lcf->strip_prefix.len - 1] == '/')
    {
        lcf->strip_prefix.len--;
    }
    return NGX_CONF_OK;
}

static void *
ngx_http_drfgate_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_drfgate_loc_conf_t  *lcf;

    lcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_drfgate_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }
    /* strip_prefix.data NULL: unset. */
    lcf->enable = NGX_CONF_UNSET;
    lcf->path_form = NGX_CONF_UNSET_UINT;
    return lcf;
}

static char *
ngx_http_drfgate_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_drfgate_loc_conf_t   *prev = parent;
    ngx_http_drfgate_loc_conf_t   *conf = child;
    ngx_http_drfgate_main_conf_t  *mcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_uint_value(conf->path_form, prev->path_form, NGX_HTTP_DRFGATE_RAW_TARGET);
    if (conf->strip_prefix.data == NULL) {
        conf->strip_prefix = prev->strip_prefix;
    }
    if (conf->enable) {
        mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_drfgate_module);
        if (mcf->config.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"drfgate on\" needs a \"drfgate_config\" in the http block");
            return NGX_CONF_ERROR;
        }
    }
    return NGX_CONF_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Process model                                                                             */

static ngx_http_drfgate_main_conf_t *
ngx_http_drfgate_cycle_main_conf(ngx_cycle_t *cycle)
{
    if (cycle->conf_ctx[ngx_http_module.index] == NULL) {
        return NULL;    /* no http block */
    }
    return ngx_http_cycle_get_module_main_conf(cycle, ngx_http_drfgate_module);
}

/* One gate per worker, created after the fork: a gate must not cross one. */
static ngx_int_t
ngx_http_drfgate_init_process(ngx_cycle_t *cycle)
{
    ngx_http_drfgate_main_conf_t  *mcf;
    drfgate_result                 rc;
    uint32_t                       level;

    mcf = ngx_http_drfgate_cycle_main_conf(cycle);
    if (mcf == NULL || mcf->config.len == 0 || ngx_process == NGX_PROCESS_HELPER) {
        return NGX_OK;
    }
    level = ngx_http_drfgate_log_level(cycle->log);
    drfgate_set_log_callback(ngx_http_drfgate_log, NULL);
    /* The config's warnings were logged when it was read; errors still come through. */
    drfgate_set_log_level(DRFGATE_LOG_LEVEL_ERROR);
    rc = drfgate_gate_new_from_path((const char *) mcf->config.data, &mcf->gate);
    drfgate_set_log_level(level);
    if (rc != DRFGATE_RESULT_OK) {
        /* Requests of enabled locations then fail closed with 500. */
        mcf->gate = NULL;
        ngx_log_error(NGX_LOG_CRIT, cycle->log, 0,
                      "drfgate: cannot load %s in this worker: %s: %s", mcf->config.data,
                      drfgate_result_text(rc), ngx_http_drfgate_last_error(cycle->pool));
        return NGX_OK;
    }
    rc = drfgate_decision_new(&mcf->inline_decision);
    if (rc != DRFGATE_RESULT_OK) {
        /* Likewise: no decision to fill, every request of an enabled location is a 500. */
        mcf->inline_decision = NULL;
        ngx_log_error(NGX_LOG_CRIT, cycle->log, 0, "drfgate: cannot make a decision: %s",
                      drfgate_result_text(rc));
    }
    return NGX_OK;
}

static void
ngx_http_drfgate_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_drfgate_main_conf_t  *mcf = ngx_http_drfgate_cycle_main_conf(cycle);

    /* The pool's threads are gone by now (ngx_thread_pool's exit_process runs first: it is
     * an earlier module), so no decision is still running on this gate. */
    if (mcf != NULL && mcf->gate != NULL) {
        drfgate_gate_free(mcf->gate);
        mcf->gate = NULL;
    }
    if (mcf != NULL) {
        drfgate_decision_free(mcf->inline_decision);
        mcf->inline_decision = NULL;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Variables                                                                                 */

static ngx_int_t
ngx_http_drfgate_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_drfgate_ctx_t  *ctx = ngx_http_get_module_ctx(r->main, ngx_http_drfgate_module);
    ngx_str_t               *value;

    if (ctx == NULL || ctx->state != NGX_HTTP_DRFGATE_ALLOWED) {
        v->not_found = 1;
        return NGX_OK;
    }
    value = (ngx_str_t *) ((char *) ctx + data);
    v->len = value->len;
    v->data = value->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

static ngx_http_variable_t ngx_http_drfgate_vars[] = {
    { ngx_string("drfgate_user"), NULL, ngx_http_drfgate_variable,
      offsetof(ngx_http_drfgate_ctx_t, user), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("drfgate_user_id"), NULL, ngx_http_drfgate_variable,
      offsetof(ngx_http_drfgate_ctx_t, user_id), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("drfgate_auth"), NULL, ngx_http_drfgate_variable,
      offsetof(ngx_http_drfgate_ctx_t, auth), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("drfgate_is_staff"), NULL, ngx_http_drfgate_variable,
      offsetof(ngx_http_drfgate_ctx_t, is_staff), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("drfgate_route"), NULL, ngx_http_drfgate_variable,
      offsetof(ngx_http_drfgate_ctx_t, route), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("drfgate_signature"), NULL, ngx_http_drfgate_variable,
      offsetof(ngx_http_drfgate_ctx_t, signature), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("drfgate_user_flags"), NULL, ngx_http_drfgate_variable,
      offsetof(ngx_http_drfgate_ctx_t, user_flags), NGX_HTTP_VAR_NOCACHEABLE, 0 },
    ngx_http_null_variable
};

static ngx_int_t
ngx_http_drfgate_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_drfgate_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }
        var->get_handler = v->get_handler;
        var->data = v->data;
    }
    return NGX_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Requests                                                                                  */

static drfgate_bytes
ngx_http_drfgate_bytes(ngx_str_t *s)
{
    drfgate_bytes  b;

    b.data = s->len ? s->data : NULL;
    b.len = s->len;
    return b;
}

/* The request's headers in arrival order, pointing into nginx's own buffers. */
static ngx_int_t
ngx_http_drfgate_headers(ngx_http_request_t *r, drfgate_request *request)
{
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;
    drfgate_header   *out;
    ngx_uint_t        i, n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        n += part->nelts;
    }
    if (n == 0) {
        return NGX_OK;
    }
    out = ngx_palloc(r->pool, n * sizeof(drfgate_header));
    if (out == NULL) {
        return NGX_ERROR;
    }
    n = 0;
    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;
        for (i = 0; i < part->nelts; i++) {
            out[n].name = ngx_http_drfgate_bytes(&h[i].key);
            out[n].value = ngx_http_drfgate_bytes(&h[i].value);
            n++;
        }
    }
    request->headers = out;
    request->headers_len = n;
    return NGX_OK;
}

/* `path` without the location's mount point (drfgate_strip_prefix), when it starts with it. */
static ngx_str_t
ngx_http_drfgate_strip(ngx_str_t path, ngx_http_drfgate_loc_conf_t *lcf)
{
    static u_char  slash[] = "/";
    size_t         n = lcf->strip_prefix.len;

    if (lcf->strip_prefix.data == NULL || n <= 1 || path.len < n
        || ngx_strncmp(path.data, lcf->strip_prefix.data, n) != 0)
    {
        return path;
    }
    if (path.len == n) {
        path.data = slash;
        path.len = 1;
        return path;
    }
    /* "/app/x" and "/app?q" are below "/app"; "/application" is not. */
    if (path.data[n] != '/' && path.data[n] != '?' && path.data[n] != '#') {
        return path;
    }
    /* "/app?q" leaves "?q": the caller puts the application's root "/" in front. */
    path.data += n;
    path.len -= n;
    return path;
}

/*
 * The path the application will resolve, in the form the gate is told:
 * - raw_target (the default): the request target exactly as the client sent it, still
 *   percent-encoded, with its query. `proxy_pass` without a URI part passes this very text
 *   on, and gunicorn hands Django its decoding; judging nginx's decoded, normalised r->uri
 *   instead would judge `/api/x/..%2F` as another route than Django resolves. After a
 *   rewrite (or with a space in the target) nginx passes its own re-encoding of r->uri, so
 *   that decoded r->uri is judged then.
 * - path_info: nginx's decoded, normalised r->uri, which is what `uwsgi_param PATH_INFO
 *   $document_uri` (Debian's uwsgi_params) and `fastcgi_param PATH_INFO` hand the app.
 */
static void
ngx_http_drfgate_path(ngx_http_request_t *r, ngx_http_drfgate_loc_conf_t *lcf,
    drfgate_request *request)
{
    ngx_str_t  path;

    if (lcf->path_form == NGX_HTTP_DRFGATE_RAW_TARGET && r->valid_unparsed_uri) {
        path = r->unparsed_uri;
        request->path_form = DRFGATE_PATH_RAW_TARGET;
    } else {
        path = r->uri;
        request->path_form = DRFGATE_PATH_INFO;
    }
    path = ngx_http_drfgate_strip(path, lcf);
    if (path.len == 0 || path.data[0] != '/') {
        /* "/app?q" with "/app" stripped: the application's root. */
        u_char  *p = ngx_pnalloc(r->pool, path.len + 1);

        if (p != NULL) {
            p[0] = '/';
            ngx_memcpy(p + 1, path.data, path.len);
            path.data = p;
            path.len++;
        }
    }
    request->path = ngx_http_drfgate_bytes(&path);
}

static ngx_int_t
ngx_http_drfgate_fill(ngx_http_request_t *r, ngx_http_drfgate_loc_conf_t *lcf,
    drfgate_request *request)
{
    drfgate_request  init = DRFGATE_REQUEST_INIT;

    *request = init;
    request->method = ngx_http_drfgate_bytes(&r->method_name);
    ngx_http_drfgate_path(r, lcf, request);
    request->query = ngx_http_drfgate_bytes(&r->args);
    request->remote_addr = ngx_http_drfgate_bytes(&r->connection->addr_text);
#if (NGX_HTTP_SSL)
    request->secure = r->connection->ssl != NULL;
#endif
    return ngx_http_drfgate_headers(r, request);
}

static ngx_int_t
ngx_http_drfgate_copy(ngx_pool_t *pool, ngx_str_t *to, const char *data, size_t len)
{
    to->len = len;
    to->data = ngx_pnalloc(pool, len ? len : 1);
    if (to->data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(to->data, data, len);
    return NGX_OK;
}

/* A username as a header can carry it: UTF-8 percent-encoded, letters, digits and -._~@+
 * as they are (what drfgate serve sends in X-Drfgate-User). */
static ngx_int_t
ngx_http_drfgate_encode_user(ngx_pool_t *pool, ngx_str_t *to, drfgate_str name)
{
    static const u_char  hex[] = "0123456789ABCDEF";
    const u_char        *s = (const u_char *) name.data;
    u_char              *p;
    size_t               i;

    p = ngx_pnalloc(pool, name.len * 3 + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }
    to->data = p;
    for (i = 0; i < name.len; i++) {
        u_char  c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~' || c == '@' || c == '+')
        {
            *p++ = c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0x0f];
        }
    }
    to->len = p - to->data;
    return NGX_OK;
}

/* An allowed decision's identity into the request's context, for the variables. */
static ngx_int_t
ngx_http_drfgate_allow(ngx_http_request_t *r, ngx_http_drfgate_ctx_t *ctx,
    const drfgate_decision *decision)
{
    drfgate_str  s, flags;

    if (drfgate_decision_route(decision, &s) == DRFGATE_RESULT_OK
        && ngx_http_drfgate_copy(r->pool, &ctx->route, s.data, s.len) != NGX_OK)
    {
        return NGX_ERROR;
    }
    /* Signed over the method and the path this module judged, which must be what Django
     * sees as path_info (drfgate_path_form, drfgate_strip_prefix). */
    if (drfgate_decision_handoff(decision, &s, &flags) == DRFGATE_RESULT_OK
        && (ngx_http_drfgate_copy(r->pool, &ctx->signature, s.data, s.len) != NGX_OK
            || ngx_http_drfgate_copy(r->pool, &ctx->user_flags, flags.data, flags.len) != NGX_OK))
    {
        return NGX_ERROR;
    }
    if (drfgate_decision_is_authenticated(decision)) {
        if (drfgate_decision_username(decision, &s) != DRFGATE_RESULT_OK
            || ngx_http_drfgate_encode_user(r->pool, &ctx->user, s) != NGX_OK)
        {
            return NGX_ERROR;
        }
        if (drfgate_decision_user_pk(decision, &s) == DRFGATE_RESULT_OK
            && ngx_http_drfgate_copy(r->pool, &ctx->user_id, s.data, s.len) != NGX_OK)
        {
            return NGX_ERROR;
        }
        if (drfgate_decision_scheme(decision, &s) == DRFGATE_RESULT_OK
            && ngx_http_drfgate_copy(r->pool, &ctx->auth, s.data, s.len) != NGX_OK)
        {
            return NGX_ERROR;
        }
        if (drfgate_decision_is_staff(decision)) {
            ngx_str_set(&ctx->is_staff, "1");
        } else {
            ngx_str_set(&ctx->is_staff, "0");
        }
    }
    ctx->state = NGX_HTTP_DRFGATE_ALLOWED;
    return NGX_OK;
}

static ngx_int_t
ngx_http_drfgate_add_header(ngx_http_request_t *r, const char *name, drfgate_str value)
{
    ngx_table_elt_t  *h = ngx_list_push(&r->headers_out.headers);

    if (h == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    return ngx_http_drfgate_copy(r->pool, &h->value, value.data, value.len);
}

/* DRF's refusal, sent as it is (status, JSON body, WWW-Authenticate, Allow); the status
 * alone would get nginx's HTML page. Returns what ngx_http_finalize_request wants. */
static ngx_int_t
ngx_http_drfgate_refuse(ngx_http_request_t *r, const drfgate_decision *decision)
{
    drfgate_bytes  body = { NULL, 0 };
    drfgate_str    header;
    ngx_buf_t     *b;
    ngx_chain_t    out;
    ngx_int_t      rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }
    r->headers_out.status = drfgate_decision_status(decision);
    if (drfgate_decision_www_authenticate(decision, &header) == DRFGATE_RESULT_OK
        && ngx_http_drfgate_add_header(r, "WWW-Authenticate", header) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (drfgate_decision_allow(decision, &header) == DRFGATE_RESULT_OK
        && ngx_http_drfgate_add_header(r, "Allow", header) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (drfgate_decision_retry_after(decision, &header) == DRFGATE_RESULT_OK
        && ngx_http_drfgate_add_header(r, "Retry-After", header) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    /* DRF's JSON, or Django's HTML 400 page for a host ALLOWED_HOSTS refuses. */
    if (drfgate_decision_content_type(decision, &header) == DRFGATE_RESULT_OK) {
        r->headers_out.content_type.data = ngx_pnalloc(r->pool, header.len);
        if (r->headers_out.content_type.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_memcpy(r->headers_out.content_type.data, header.data, header.len);
        r->headers_out.content_type.len = header.len;
    } else {
        ngx_str_set(&r->headers_out.content_type, DRFGATE_DENY_CONTENT_TYPE);
    }
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    (void) drfgate_decision_body(decision, &body);
    r->headers_out.content_length_n = body.len;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (body.len > 0) {
        /* The decision is freed before the body is written out. */
        b->pos = ngx_pnalloc(r->pool, body.len);
        if (b->pos == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_memcpy(b->pos, body.data, body.len);
        b->last = b->pos + body.len;
        b->memory = 1;
    }
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0, "drfgate: refused %V %V with %ui",
                   &r->method_name, &r->uri, r->headers_out.status);
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    return ngx_http_output_filter(r, &out);
}

/* What the access phase gets for a result of drfgate_gate_decide or
 * drfgate_gate_decide_cached_into: NGX_OK (allowed, variables set) or NGX_DONE (refused and
 * answered); any failure to decide is a 500. The decision is read and copied from, then
 * freed if `owned` (the pool's), else left for the next request to refill (the worker's). */
static ngx_int_t
ngx_http_drfgate_apply(ngx_http_request_t *r, ngx_http_drfgate_ctx_t *ctx,
    drfgate_result result, drfgate_decision *decision, ngx_uint_t owned)
{
    ngx_int_t  rc;

    if (result != DRFGATE_RESULT_OK) {
        if (owned) {
            drfgate_decision_free(decision);
        }
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "drfgate: no decision for %V %V: %s: %s", &r->method_name, &r->uri,
                      drfgate_result_text(result), ngx_http_drfgate_last_error(r->pool));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (drfgate_decision_is_allow(decision)) {
        rc = ngx_http_drfgate_allow(r, ctx, decision);
        if (owned) {
            drfgate_decision_free(decision);
        }
        return rc == NGX_OK ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = ngx_http_drfgate_refuse(r, decision);
    if (owned) {
        drfgate_decision_free(decision);
    }
    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}

#if (NGX_THREADS)

/* In a pool thread: the decision that may block. Touches nothing of nginx's. */
static void
ngx_http_drfgate_thread_decide(void *data, ngx_log_t *log)
{
    ngx_http_drfgate_task_t  *task = data;

    (void) log;
    task->result = drfgate_gate_decide(task->gate, &task->request, &task->decision);
}

/* Back on the event loop: resume the request's phases, which apply the decision. */
static void
ngx_http_drfgate_thread_done(ngx_event_t *ev)
{
    ngx_http_request_t      *r = ev->data;
    ngx_connection_t        *c = r->connection;
    ngx_http_drfgate_ctx_t  *ctx = ngx_http_get_module_ctx(r, ngx_http_drfgate_module);

    ngx_http_set_log_request(c->log, r);
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "drfgate: %V: decision back from the thread pool", &r->uri);
    r->main->blocked--;
    r->aio = 0;
    ctx->state = NGX_HTTP_DRFGATE_DECIDED;
    /* ngx_http_core_run_phases, back into the access phase; or the request's terminate
     * handler, if it was ended meanwhile. */
    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}

/* A decision the pool made for a request that ended before it was applied. */
static void
ngx_http_drfgate_task_cleanup(void *data)
{
    ngx_http_drfgate_task_t  *task = data;

    drfgate_decision_free(task->decision);
    task->decision = NULL;
}

static ngx_int_t
ngx_http_drfgate_post(ngx_http_request_t *r, ngx_http_drfgate_ctx_t *ctx,
    ngx_thread_pool_t *pool, const drfgate_gate *gate, const drfgate_request *request)
{
    ngx_thread_task_t   *task;
    ngx_pool_cleanup_t  *cln;

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_drfgate_task_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (task == NULL || cln == NULL) {
        return NGX_ERROR;
    }
    ctx->task = task->ctx;
    ctx->task->gate = gate;
    ctx->task->request = *request;
    ctx->task->decision = NULL;
    ctx->task->result = DRFGATE_RESULT_PANIC;
    cln->handler = ngx_http_drfgate_task_cleanup;
    cln->data = ctx->task;
    task->handler = ngx_http_drfgate_thread_decide;
    task->event.data = r;
    task->event.handler = ngx_http_drfgate_thread_done;
    if (ngx_thread_task_post(pool, task) != NGX_OK) {
        return NGX_ERROR;
    }
    /* The request stays alive (and its pool with the task) until the task is back. */
    r->main->blocked++;
    r->aio = 1;
    ctx->state = NGX_HTTP_DRFGATE_WAITING;
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "drfgate: %V: decision posted to the thread pool", &r->uri);
    return NGX_OK;
}

#endif

/* The body nginx read, for the gate: in memory, in the request's pool. Left unset (the gate
 * then defers) when nginx wrote part of it to a temporary file. */
static ngx_int_t
ngx_http_drfgate_body(ngx_http_request_t *r, size_t wanted, drfgate_request *request)
{
    ngx_chain_t  *cl;
    size_t        len = 0;
    u_char       *p;

    if (r->request_body == NULL || r->request_body->temp_file != NULL) {
        return NGX_OK;
    }
    for (cl = r->request_body->bufs; cl != NULL; cl = cl->next) {
        if (cl->buf->in_file || !ngx_buf_in_memory(cl->buf)) {
            return NGX_OK;
        }
        len += cl->buf->last - cl->buf->pos;
    }
    p = ngx_pnalloc(r->pool, len ? len : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }
    request->body.data = p;
    request->body.len = len;
    for (cl = r->request_body->bufs; cl != NULL; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }
    request->body_complete = len == wanted;
    return NGX_OK;
}

/* The body is in (or nginx gave up on it): back into the access phase, which decides. */
static void
ngx_http_drfgate_body_done(ngx_http_request_t *r)
{
    ngx_http_drfgate_ctx_t  *ctx = ngx_http_get_module_ctx(r, ngx_http_drfgate_module);

    ctx->body_state = NGX_HTTP_DRFGATE_BODY_READ;
    /* Kept for the upstream: proxy_pass and uwsgi_pass send r->request_body as read. */
    r->preserve_body = 1;
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}

/* NGX_DECLINED: decide without the body; NGX_DONE: reading it, the phases resume from
 * ngx_http_drfgate_body_done; or an error status. */
static ngx_int_t
ngx_http_drfgate_read_body(ngx_http_request_t *r, ngx_http_drfgate_ctx_t *ctx,
    const drfgate_gate *gate, const drfgate_request *request, size_t *wanted)
{
    ngx_http_core_loc_conf_t  *clcf;
    drfgate_result             result;
    ngx_int_t                  rc;

    result = drfgate_gate_body_wanted(gate, request, wanted);
    if (result == DRFGATE_RESULT_ABSENT) {
        return NGX_DECLINED;
    }
    if (result != DRFGATE_RESULT_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "drfgate: no decision for %V %V: %s: %s", &r->method_name, &r->uri,
                      drfgate_result_text(result), ngx_http_drfgate_last_error(r->pool));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    /* In memory only: a body over client_body_buffer_size is deferred unread. */
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    if (*wanted > (size_t) clcf->client_body_buffer_size) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "drfgate: %V: body over client_body_buffer_size, not read", &r->uri);
        return NGX_DECLINED;
    }
    ctx->body_state = NGX_HTTP_DRFGATE_BODY_READING;
    r->request_body_in_single_buf = 1;
    rc = ngx_http_read_client_request_body(r, ngx_http_drfgate_body_done);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    /* Balances the count ngx_http_read_client_request_body took; the body callback (now
     * or when the rest arrives) runs the phases again. */
    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}

static ngx_int_t
ngx_http_drfgate_handler(ngx_http_request_t *r)
{
    ngx_http_drfgate_loc_conf_t   *lcf = ngx_http_get_module_loc_conf(r, ngx_http_drfgate_module);
    ngx_http_drfgate_main_conf_t  *mcf;
    ngx_http_drfgate_ctx_t        *ctx;
    drfgate_request                request;
    drfgate_decision              *decision = NULL;
    drfgate_result                 result;
    ngx_int_t                      rc;
    size_t                         wanted = 0;

    if (!lcf->enable || r != r->main) {
        return NGX_DECLINED;
    }
    ctx = ngx_http_get_module_ctx(r, ngx_http_drfgate_module);
    if (ctx != NULL) {
        switch (ctx->state) {
        case NGX_HTTP_DRFGATE_WAITING:
            return NGX_AGAIN;
        case NGX_HTTP_DRFGATE_ALLOWED:
            return NGX_OK;
        case NGX_HTTP_DRFGATE_DECIDED:
            decision = ctx->task->decision;
            ctx->task->decision = NULL;
            ctx->state = NGX_HTTP_DRFGATE_NEW;
            return ngx_http_drfgate_apply(r, ctx, ctx->task->result, decision, 1);
        default:
            break;
        }
    } else {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_drfgate_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_http_set_ctx(r, ctx, ngx_http_drfgate_module);
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_drfgate_module);
    if (mcf->gate == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "drfgate: \"drfgate on\" for %V, but no gate is loaded in this worker "
                      "(see the error log at its start)", &r->uri);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ngx_http_drfgate_fill(r, lcf, &request) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    switch (ctx->body_state) {
    case NGX_HTTP_DRFGATE_BODY_UNREAD:
        rc = ngx_http_drfgate_read_body(r, ctx, mcf->gate, &request, &wanted);
        if (rc != NGX_DECLINED) {
            return rc;
        }
        break;
    case NGX_HTTP_DRFGATE_BODY_READING:
        return NGX_AGAIN;
    case NGX_HTTP_DRFGATE_BODY_READ:
        if (drfgate_gate_body_wanted(mcf->gate, &request, &wanted) == DRFGATE_RESULT_OK
            && ngx_http_drfgate_body(r, wanted, &request) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        break;
    }

    if (mcf->inline_decision == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    result = drfgate_gate_decide_cached_into(mcf->gate, &request, mcf->inline_decision);
    if (result != DRFGATE_RESULT_ABSENT) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "drfgate: %V: decided inline", &r->uri);
        return ngx_http_drfgate_apply(r, ctx, result, mcf->inline_decision, 0);
    }
#if (NGX_THREADS)
    /* Always a pool: drfgate_thread_pool's, or "default" (init_main_conf). */
    if (ngx_http_drfgate_post(r, ctx, mcf->thread_pool, mcf->gate, &request) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "drfgate: cannot queue the decision for %V in the thread pool", &r->uri);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    return NGX_AGAIN;
#else
    /* Unreachable: drfgate_config is refused without threads (init_main_conf). */
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
#endif
}

static ngx_int_t
ngx_http_drfgate_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_drfgate_handler;
    return NGX_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* alert_delivery.c - alerts to Alertmanager and a webhook (see alert_delivery.h).
 *
 * Threading: the publisher pushes alerts and the consumer pushes lifts, each into an SPSC
 * ring of its own (wait-free; a full ring drops, counted); everything else (backlogs, the
 * Alertmanager table, curl handles) belongs to the delivery thread. */
#include "alert_delivery.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "ring.h"
#include "vigil/config.h"
#include "vigil/event.h"
#include "jbuf.h"

#define OFFER_SLOTS 512
#define OFFER_MAX 6000          /* bytes of one alert JSON; alerts are about 1 KB */
#define LIFT_SLOTS 256
#define RESEND_MS 60000         /* a standing alert is posted again this often */
#define STANDING_ENDS_MS 180000 /* its endsAt: three re-sends ahead */
#define MIN_ENDS_MS 300000      /* an alert without an order stands at least this long */
#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000
#define POST_TIMEOUT_MS 5000
#define CONNECT_TIMEOUT_MS 2000
#define AM_BATCH 200            /* alerts per POST to Alertmanager */
#define IDLE_SLEEP_MS 20

struct offer_msg {
    uint32_t len;
    char json[OFFER_MAX];
};

struct lift_msg {
    char account[VIGIL_ACCOUNT_MAX + 2];
    char action[32];
    char detector[64];
    char order_id[80];
};

/* One alert as Alertmanager knows it: identified by its labels. */
struct am_alert {
    char *frag; /* "labels":{...},"annotations":{...} */
    char key[VIGIL_ACCOUNT_MAX + 256]; /* rule, severity, account, detector */
    char account[VIGIL_ACCOUNT_MAX + 2], detector[64], action[32], order_id[80];
    int64_t starts_ms, ends_ms; /* wall ms */
    int64_t expire_ms;          /* standing: when its order expires */
    int64_t sent_ms;            /* last successful POST that carried it; 0: never */
    bool standing;              /* it names an order that stands until lifted or expired */
    bool resolved;              /* lifted or expired: post once more with endsAt, then forget */
    bool dirty;                 /* to be posted */
};

struct receiver {
    char url[1024];
    CURL *curl;
    struct curl_slist *headers;
    int64_t next_try_ms; /* mono */
    int64_t retry_ms;
    bool failing;        /* logged once per streak */
    bool dropping;
    _Atomic uint64_t sent, failed, dropped, backlog;
};

struct vigil_alert_delivery {
    struct vigil_ring *offers; /* publisher -> delivery */
    struct vigil_ring *lifts;  /* consumer -> delivery */
    _Atomic uint64_t offer_dropped;
    atomic_bool stop;
    pthread_t thread;
    bool started;
    size_t backlog_max;
    int64_t block_ttl_ms, cooldown_ms;
    bool am_on, wh_on;
    struct receiver am, wh;
    /* Delivery thread only. */
    struct am_alert *alerts;
    size_t n_alerts;
    char **wh_queue; /* ring of alert JSON copies */
    size_t *wh_len;
    size_t wh_head, wh_n;
    char *body;      /* a POST body */
    size_t body_cap;
};

static void bump(_Atomic uint64_t *c, uint64_t by)
{
    vigil_metrics_bump(c, by);
}

static void set_gauge(_Atomic uint64_t *c, uint64_t v)
{
    /* Relaxed: a statistic with one writer. */
    atomic_store_explicit(c, v, memory_order_relaxed);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr, (void)arg;
    return size * nmemb;
}

static int receiver_init(struct receiver *r, const char *url, char *err, size_t errlen)
{
    snprintf(r->url, sizeof r->url, "%s", url);
    r->retry_ms = RETRY_MIN_MS;
    r->curl = curl_easy_init();
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!r->curl || !r->headers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    curl_easy_setopt(r->curl, CURLOPT_URL, r->url);
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, (long)POST_TIMEOUT_MS);
    curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "vigild");
    return 0;
}

static void receiver_fini(struct receiver *r)
{
    if (r->curl)
        curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->headers);
}

/* One POST; 0 when the receiver answered 2xx. Logs once per failing streak. */
static int post(struct receiver *r, const char *name, const char *body, size_t len)
{
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    CURLcode rc = curl_easy_perform(r->curl);
    long code = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
    int64_t now = vigil_mono_ms();
    if (rc == CURLE_OK && code >= 200 && code < 300) {
        if (r->failing)
            vigil_log_info("alert delivery: %s at %s answers again", name, r->url);
        r->failing = false;
        r->retry_ms = RETRY_MIN_MS;
        r->next_try_ms = now;
        return 0;
    }
    bump(&r->failed, 1);
    if (!r->failing)
        vigil_log_warn("alert delivery: %s at %s: %s; keeping alerts and retrying with backoff",
                       name, r->url,
                       rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error status");
    if (rc == CURLE_OK && code >= 400 && code < 500 && !r->failing)
        vigil_log_warn("alert delivery: %s answered HTTP %ld", name, code);
    r->failing = true;
    r->next_try_ms = now + r->retry_ms;
    r->retry_ms = r->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : r->retry_ms * 2;
    return -1;
}

/* The raw text of the top-level value `name` (an object or array) of json; len 0: absent. */
static const char *json_raw(const char *json, size_t len, const char *name, size_t *out_len)
{
    char pat[64];
    int pl = snprintf(pat, sizeof pat, "\"%s\":", name);
    *out_len = 0;
    const char *at = memmem(json, len, pat, (size_t)pl);
    if (!at)
        return NULL;
    const char *v = at + pl, *end = json + len;
    if (v >= end || (*v != '{' && *v != '['))
        return NULL;
    int depth = 0;
    bool in_str = false;
    for (const char *c = v; c < end; c++) {
        if (in_str) {
            if (*c == '\\')
                c++;
            else if (*c == '"')
                in_str = false;
        } else if (*c == '"') {
            in_str = true;
        } else if (*c == '{' || *c == '[') {
            depth++;
        } else if ((*c == '}' || *c == ']') && --depth == 0) {
            *out_len = (size_t)(c - v + 1);
            return v;
        }
    }
    return NULL;
}

static void rfc3339(int64_t ms, char *buf, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%03dZ", (int)(ms % 1000));
}

/* ---- Alertmanager ------------------------------------------------------------------------ */

static void am_forget(struct vigil_alert_delivery *d, size_t i)
{
    free(d->alerts[i].frag);
    memmove(&d->alerts[i], &d->alerts[i + 1], (d->n_alerts - i - 1) * sizeof d->alerts[0]);
    d->n_alerts--;
}

static void am_take(struct vigil_alert_delivery *d, const char *json, size_t len)
{
    char rule[64], sev[32], account[VIGIL_ACCOUNT_MAX + 2], detector[64], reason[512];
    char order_id[80], action[32], alert_id[80], would[32], held[32], ts[32];
    vigil_json_field(json, len, "rule", rule, sizeof rule);
    vigil_json_field(json, len, "severity", sev, sizeof sev);
    vigil_json_field(json, len, "account", account, sizeof account);
    vigil_json_field(json, len, "detector", detector, sizeof detector);
    vigil_json_field(json, len, "reason", reason, sizeof reason);
    vigil_json_field(json, len, "order_id", order_id, sizeof order_id);
    vigil_json_field(json, len, "action", action, sizeof action);
    vigil_json_field(json, len, "alert_id", alert_id, sizeof alert_id);
    vigil_json_field(json, len, "would_order", would, sizeof would);
    vigil_json_field(json, len, "held", held, sizeof held);
    vigil_json_field(json, len, "ts", ts, sizeof ts);
    size_t ev_len = 0;
    const char *ev = json_raw(json, len, "evidence", &ev_len);

    size_t cap = len * 2 + 1024;
    char *frag = malloc(cap);
    if (!frag)
        return;
    struct vigil_jbuf b;
    vigil_jbuf_init(&b, frag, cap);
    vigil_jbuf_key(&b, "labels");
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "alertname");
    vigil_jbuf_cstr(&b, rule);
    vigil_jbuf_key(&b, "severity");
    vigil_jbuf_cstr(&b, sev);
    vigil_jbuf_key(&b, "account");
    vigil_jbuf_cstr(&b, account);
    vigil_jbuf_key(&b, "detector");
    vigil_jbuf_cstr(&b, detector);
    vigil_jbuf_close(&b, '}');
    b.need_comma = true;
    vigil_jbuf_key(&b, "annotations");
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "reason");
    vigil_jbuf_cstr(&b, reason);
    vigil_jbuf_key(&b, "evidence");
    vigil_jbuf_str(&b, ev ? ev : "{}", ev ? ev_len : 2);
    if (order_id[0]) {
        vigil_jbuf_key(&b, "order_id");
        vigil_jbuf_cstr(&b, order_id);
    }
    if (action[0]) {
        vigil_jbuf_key(&b, "action");
        vigil_jbuf_cstr(&b, action);
    }
    if (alert_id[0]) {
        vigil_jbuf_key(&b, "alert_id");
        vigil_jbuf_cstr(&b, alert_id);
    }
    if (held[0]) {
        vigil_jbuf_key(&b, "held");
        vigil_jbuf_cstr(&b, held);
    }
    if (would[0]) {
        vigil_jbuf_key(&b, "would_order");
        vigil_jbuf_cstr(&b, would);
    }
    vigil_jbuf_close(&b, '}');
    if (b.overflow) {
        free(frag);
        return;
    }
    /* Labels identify an alert at Alertmanager: a later alert with the same ones replaces
     * it here too (a warning that became critical is another alert: another severity). */
    char key[sizeof d->alerts[0].key];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%s\x1f%s", rule, sev, account, detector);
    int64_t now = vigil_wall_ms();
    struct am_alert *a = NULL;
    for (size_t i = 0; i < d->n_alerts && !a; i++)
        if (strcmp(d->alerts[i].key, key) == 0)
            a = &d->alerts[i];
    if (!a) {
        if (d->n_alerts == d->backlog_max) {
            /* The oldest goes; it is still on the alerts topic. */
            bump(&d->am.dropped, 1);
            if (!d->am.dropping)
                vigil_log_warn("alert delivery: more than %zu alerts to post to Alertmanager "
                               "or keep re-sending; dropping the oldest (counted in "
                               "vigil_alert_delivery_dropped_total)", d->backlog_max);
            d->am.dropping = true;
            am_forget(d, 0);
        }
        a = &d->alerts[d->n_alerts++];
        memset(a, 0, sizeof *a);
        snprintf(a->key, sizeof a->key, "%s", key);
        a->starts_ms = now;
    } else {
        free(a->frag);
        if (a->resolved) /* the same labels again after a lift: a new episode */
            a->starts_ms = now;
    }
    a->frag = frag;
    snprintf(a->account, sizeof a->account, "%s", account);
    snprintf(a->detector, sizeof a->detector, "%s", detector);
    snprintf(a->action, sizeof a->action, "%s", action);
    snprintf(a->order_id, sizeof a->order_id, "%s", order_id);
    /* An order (issued or held) stands until lifted or expired; a report-only finding does
     * not. */
    a->standing = order_id[0] && action[0] && !would[0] && strcmp(sev, "critical") == 0;
    int64_t issued = ts[0] ? strtoll(ts, NULL, 10) : now;
    a->expire_ms = (issued > 0 ? issued : now) + d->block_ttl_ms;
    a->resolved = false;
    int64_t stand = d->cooldown_ms > MIN_ENDS_MS ? d->cooldown_ms : MIN_ENDS_MS;
    a->ends_ms = a->standing ? 0 : now + stand;
    a->dirty = true;
}

static void am_lift(struct vigil_alert_delivery *d, const struct lift_msg *l)
{
    int64_t now = vigil_wall_ms();
    for (size_t i = 0; i < d->n_alerts; i++) {
        struct am_alert *a = &d->alerts[i];
        if (!a->standing || a->resolved || strcmp(a->account, l->account) != 0 ||
            strcmp(a->detector, l->detector) != 0)
            continue;
        bool same = l->order_id[0] && a->order_id[0] ? strcmp(a->order_id, l->order_id) == 0
                                                     : strcmp(a->action, l->action) == 0;
        if (!same)
            continue;
        a->resolved = true;
        a->ends_ms = now;
        a->dirty = true;
    }
}

/* Posts what is due; 0 when nothing failed. */
static void am_send(struct vigil_alert_delivery *d)
{
    int64_t now = vigil_wall_ms(), mono = vigil_mono_ms();
    size_t due = 0;
    for (size_t i = 0; i < d->n_alerts; i++) {
        struct am_alert *a = &d->alerts[i];
        if (a->standing && !a->resolved && now >= a->expire_ms) {
            a->resolved = true;
            a->ends_ms = a->expire_ms;
            a->dirty = true;
        }
        if (a->standing && !a->resolved && a->sent_ms && now - a->sent_ms >= RESEND_MS)
            a->dirty = true;
        due += a->dirty;
    }
    set_gauge(&d->am.backlog, due);
    if (!due || mono < d->am.next_try_ms)
        return;
    size_t len = 0, n = 0;
    d->body[len++] = '[';
    for (size_t i = 0; i < d->n_alerts && n < AM_BATCH; i++) {
        struct am_alert *a = &d->alerts[i];
        if (!a->dirty)
            continue;
        char starts[40], ends[40];
        rfc3339(a->starts_ms, starts, sizeof starts);
        rfc3339(a->resolved || !a->standing ? a->ends_ms : now + STANDING_ENDS_MS, ends,
                sizeof ends);
        size_t need = strlen(a->frag) + 128;
        if (len + need + 2 > d->body_cap) {
            size_t cap = (len + need) * 2;
            char *nb = realloc(d->body, cap);
            if (!nb)
                break;
            d->body = nb;
            d->body_cap = cap;
        }
        len += (size_t)snprintf(d->body + len, d->body_cap - len,
                                "%s{%s,\"startsAt\":\"%s\",\"endsAt\":\"%s\"}", n ? "," : "",
                                a->frag, starts, ends);
        n++;
    }
    d->body[len++] = ']';
    d->body[len] = '\0';
    if (post(&d->am, "Alertmanager", d->body, len) != 0)
        return;
    bump(&d->am.sent, n);
    d->am.dropping = false;
    size_t k = 0;
    for (size_t i = 0; i < d->n_alerts && k < n;) {
        struct am_alert *a = &d->alerts[i];
        if (!a->dirty) {
            i++;
            continue;
        }
        k++;
        a->dirty = false;
        a->sent_ms = now;
        if (a->resolved || !a->standing)
            am_forget(d, i); /* Alertmanager has its endsAt: nothing more to say */
        else
            i++;
    }
}

/* ---- webhook ------------------------------------------------------------------------------ */

static void wh_take(struct vigil_alert_delivery *d, const char *json, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, json, len);
    copy[len] = '\0';
    if (d->wh_n == d->backlog_max) {
        bump(&d->wh.dropped, 1);
        if (!d->wh.dropping)
            vigil_log_warn("alert delivery: more than %zu alerts wait for the webhook; dropping "
                           "the oldest (counted in vigil_alert_delivery_dropped_total)",
                           d->backlog_max);
        d->wh.dropping = true;
        free(d->wh_queue[d->wh_head]);
        d->wh_head = (d->wh_head + 1) % d->backlog_max;
        d->wh_n--;
    }
    size_t at = (d->wh_head + d->wh_n) % d->backlog_max;
    d->wh_queue[at] = copy;
    d->wh_len[at] = len;
    d->wh_n++;
}

static void wh_send(struct vigil_alert_delivery *d)
{
    /* In order, one POST each; a failure waits for the backoff. Bounded per round so lifts
     * and new alerts are taken in between. */
    for (int k = 0; k < 64 && d->wh_n > 0 && vigil_mono_ms() >= d->wh.next_try_ms; k++) {
        if (post(&d->wh, "webhook", d->wh_queue[d->wh_head], d->wh_len[d->wh_head]) != 0)
            break;
        bump(&d->wh.sent, 1);
        d->wh.dropping = false;
        free(d->wh_queue[d->wh_head]);
        d->wh_head = (d->wh_head + 1) % d->backlog_max;
        d->wh_n--;
    }
    set_gauge(&d->wh.backlog, d->wh_n);
}

/* ---- the thread --------------------------------------------------------------------------- */

static void *delivery_main(void *arg)
{
    struct vigil_alert_delivery *d = arg;
    /* Relaxed: a stop request; nothing is published with it. */
    while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
        bool busy = false;
        struct offer_msg *o;
        while ((o = vigil_ring_peek(d->offers)) != NULL) {
            if (d->wh_on)
                wh_take(d, o->json, o->len);
            if (d->am_on)
                am_take(d, o->json, o->len);
            vigil_ring_release(d->offers);
            busy = true;
        }
        struct lift_msg *l;
        while ((l = vigil_ring_peek(d->lifts)) != NULL) {
            if (d->am_on)
                am_lift(d, l);
            vigil_ring_release(d->lifts);
            busy = true;
        }
        if (d->am_on)
            am_send(d);
        if (d->wh_on)
            wh_send(d);
        if (!busy)
            vigil_sleep_ms(IDLE_SLEEP_MS);
    }
    return NULL;
}

static bool http_url(const char *u)
{
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

struct vigil_alert_delivery *vigil_alert_delivery_create(const struct vigil_config *cfg,
                                                         char *err, size_t errlen)
{
    err[0] = '\0';
    const char *am = vigil_config_str(cfg, "alerts.alertmanager_url");
    const char *wh = vigil_config_str(cfg, "alerts.webhook_url");
    if ((!am || !am[0]) && (!wh || !wh[0]))
        return NULL;
    if ((am[0] && !http_url(am)) || (wh[0] && !http_url(wh))) {
        snprintf(err, errlen, "alerts.alertmanager_url and alerts.webhook_url must start with "
                              "http:// or https://");
        return NULL;
    }
    /* Before any thread of ours uses curl (curl_global_init is not thread-safe). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return NULL;
    }
    struct vigil_alert_delivery *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->backlog_max = (size_t)vigil_config_int(cfg, "alerts.delivery_backlog");
    d->block_ttl_ms = vigil_config_int(cfg, "redis.block_ttl_s") * 1000;
    d->cooldown_ms = vigil_config_int(cfg, "alerts.cooldown_s") * 1000;
    d->offers = vigil_ring_create(OFFER_SLOTS, sizeof(struct offer_msg));
    d->lifts = vigil_ring_create(LIFT_SLOTS, sizeof(struct lift_msg));
    d->body_cap = 65536;
    d->body = malloc(d->body_cap);
    if (!d->offers || !d->lifts || !d->body)
        goto nomem;
    if (am[0]) {
        char url[1024];
        size_t n = strlen(am);
        while (n > 0 && am[n - 1] == '/') /* a trailing slash would double the path's */
            n--;
        snprintf(url, sizeof url, "%.*s/api/v2/alerts", (int)n, am);
        d->alerts = calloc(d->backlog_max, sizeof *d->alerts);
        if (!d->alerts || receiver_init(&d->am, url, err, errlen) != 0)
            goto nomem;
        d->am_on = true;
    }
    if (wh[0]) {
        d->wh_queue = calloc(d->backlog_max, sizeof *d->wh_queue);
        d->wh_len = calloc(d->backlog_max, sizeof *d->wh_len);
        if (!d->wh_queue || !d->wh_len || receiver_init(&d->wh, wh, err, errlen) != 0)
            goto nomem;
        d->wh_on = true;
    }
    return d;
nomem:
    snprintf(err, errlen, "out of memory");
    vigil_alert_delivery_destroy(d);
    return NULL;
}

int vigil_alert_delivery_start(struct vigil_alert_delivery *d)
{
    if (pthread_create(&d->thread, NULL, delivery_main, d) != 0)
        return -1;
    d->started = true;
    vigil_log_info("alert delivery:%s%s%s%s", d->am_on ? " Alertmanager " : "",
                   d->am_on ? d->am.url : "", d->wh_on ? " webhook " : "",
                   d->wh_on ? d->wh.url : "");
    return 0;
}

void vigil_alert_delivery_destroy(struct vigil_alert_delivery *d)
{
    if (!d)
        return;
    if (d->started) {
        atomic_store_explicit(&d->stop, true, memory_order_relaxed);
        pthread_join(d->thread, NULL);
    }
    for (size_t i = 0; i < d->n_alerts; i++)
        free(d->alerts[i].frag);
    free(d->alerts);
    for (size_t i = 0; d->wh_queue && i < d->wh_n; i++)
        free(d->wh_queue[(d->wh_head + i) % d->backlog_max]);
    free(d->wh_queue);
    free(d->wh_len);
    free(d->body);
    receiver_fini(&d->am);
    receiver_fini(&d->wh);
    vigil_ring_destroy(d->offers);
    vigil_ring_destroy(d->lifts);
    free(d);
    /* Pairs with create's curl_global_init; no other thread of vigild uses curl. */
    curl_global_cleanup();
}

void vigil_alert_delivery_offer(struct vigil_alert_delivery *d, const char *json, size_t len)
{
    if (!d)
        return;
    struct offer_msg *o = len < OFFER_MAX ? vigil_ring_reserve(d->offers) : NULL;
    if (!o) {
        /* Never wait: the alert is on the alerts topic; only its delivery is lost. */
        uint64_t n = atomic_fetch_add_explicit(&d->offer_dropped, 1, memory_order_relaxed);
        if (n == 0 || (n & (n + 1)) == 0) /* 1st, then at powers of two */
            vigil_log_warn("alert delivery: %llu alert(s) not handed to the delivery thread "
                           "(its queue is full or the alert is too large)",
                           (unsigned long long)(n + 1));
        return;
    }
    o->len = (uint32_t)len;
    memcpy(o->json, json, len);
    vigil_ring_commit(d->offers);
}

void vigil_alert_delivery_lift(struct vigil_alert_delivery *d, const char *account,
                               const char *action, const char *detector, const char *order_id)
{
    if (!d || !d->am_on)
        return;
    struct lift_msg *l = vigil_ring_reserve(d->lifts);
    if (!l) {
        vigil_log_warn("alert delivery: lift of %s not handed over (queue full); its alert "
                       "resolves at Alertmanager when re-sends stop", account);
        return;
    }
    snprintf(l->account, sizeof l->account, "%s", account);
    snprintf(l->action, sizeof l->action, "%s", action);
    snprintf(l->detector, sizeof l->detector, "%s", detector);
    snprintf(l->order_id, sizeof l->order_id, "%s", order_id);
    vigil_ring_commit(d->lifts);
}

void vigil_alert_delivery_get_stats(struct vigil_alert_delivery *d,
                                    struct vigil_alert_delivery_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!d)
        return;
    /* Relaxed: statistics. */
    st->am_on = d->am_on;
    st->wh_on = d->wh_on;
    st->am_sent = atomic_load_explicit(&d->am.sent, memory_order_relaxed);
    st->am_failed = atomic_load_explicit(&d->am.failed, memory_order_relaxed);
    st->am_dropped = atomic_load_explicit(&d->am.dropped, memory_order_relaxed);
    st->am_backlog = atomic_load_explicit(&d->am.backlog, memory_order_relaxed);
    st->wh_sent = atomic_load_explicit(&d->wh.sent, memory_order_relaxed);
    st->wh_failed = atomic_load_explicit(&d->wh.failed, memory_order_relaxed);
    st->wh_dropped = atomic_load_explicit(&d->wh.dropped, memory_order_relaxed);
    st->wh_backlog = atomic_load_explicit(&d->wh.backlog, memory_order_relaxed);
    st->offer_dropped = atomic_load_explicit(&d->offer_dropped, memory_order_relaxed);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* alert_delivery.h - the delivery thread: every alert to Prometheus Alertmanager (API v2) and
 * to a generic webhook, by HTTP POST, retried with backoff, from a bounded backlog.
 *
 * Alertmanager (alerts.alertmanager_url): each alert becomes one Alertmanager alert with
 * labels alertname (the rule), severity, account, detector, and annotations reason, evidence,
 * order_id (when it names an order), action, alert_id. An alert naming an order stands while
 * the order does: re-sent every minute (endsAt a few minutes ahead), resolved (endsAt now)
 * when a `lift` of it is read from the orders topic, or at its expiry (redis.block_ttl_s
 * after it was issued). Other alerts are sent once with endsAt alerts.cooldown_s ahead.
 * Webhook (alerts.webhook_url): each alert's JSON exactly as on the alerts topic, one POST
 * each, in order.
 *
 * Never in the way of detection: the publisher offers each alert through a wait-free SPSC
 * ring (full: the alert is dropped for delivery, counted and logged; it is still on the
 * alerts topic), the consumer hands lifts through another. The thread keeps at most
 * alerts.delivery_backlog alerts per receiver; past it the oldest is dropped (counted, logged
 * once per streak).
 *
 * Threading: offer: the publisher thread only; lift: the consumer thread only; stats: any.
 * Ownership: the daemon creates it, starts it after the publisher is created, and destroys
 * it after the publisher and consumer are gone. */
#ifndef VIGIL_ALERT_DELIVERY_H
#define VIGIL_ALERT_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

struct vigil_config;
struct vigil_alert_delivery;

/* NULL with a message in err when a URL is malformed or there is no memory. Returns NULL
 * and err "" when neither URL is set (nothing to deliver). */
struct vigil_alert_delivery *vigil_alert_delivery_create(const struct vigil_config *cfg,
                                                         char *err, size_t errlen);
int vigil_alert_delivery_start(struct vigil_alert_delivery *d);
/* Stops the thread (a send in flight ends within its timeout) and frees. Accepts NULL. */
void vigil_alert_delivery_destroy(struct vigil_alert_delivery *d);

/* One alert JSON as produced to the alerts topic. Wait-free; accepts d == NULL. */
void vigil_alert_delivery_offer(struct vigil_alert_delivery *d, const char *json, size_t len);

/* An operator lifted order_id ("" unknown) = (account, action, detector). Wait-free; accepts
 * d == NULL. */
void vigil_alert_delivery_lift(struct vigil_alert_delivery *d, const char *account,
                               const char *action, const char *detector, const char *order_id);

struct vigil_alert_delivery_stats {
    uint64_t am_sent, am_failed, am_dropped; /* Alertmanager: alerts posted, failed POSTs */
    uint64_t wh_sent, wh_failed, wh_dropped; /* webhook */
    uint64_t am_backlog, wh_backlog;         /* waiting now */
    uint64_t offer_dropped;                  /* the hand-over ring was full */
    int am_on, wh_on;                        /* the receiver is configured */
};
void vigil_alert_delivery_get_stats(struct vigil_alert_delivery *d,
                                    struct vigil_alert_delivery_stats *st);

#endif

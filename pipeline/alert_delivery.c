/* SPDX-License-Identifier: Apache-2.0 */
/* alert_delivery.c - alert delivery to Alertmanager and a webhook (see alert_delivery.h). */
#include "alert_delivery.h"

#include <stdlib.h>
#include <string.h>

struct vigil_alert_delivery {
    int unused;
};

struct vigil_alert_delivery *vigil_alert_delivery_create(const struct vigil_config *cfg,
                                                         char *err, size_t errlen)
{
    (void)cfg;
    if (errlen)
        err[0] = '\0';
    return NULL;
}

int vigil_alert_delivery_start(struct vigil_alert_delivery *d)
{
    (void)d;
    return 0;
}

void vigil_alert_delivery_destroy(struct vigil_alert_delivery *d)
{
    free(d);
}

void vigil_alert_delivery_offer(struct vigil_alert_delivery *d, const char *json, size_t len)
{
    (void)d, (void)json, (void)len;
}

void vigil_alert_delivery_lift(struct vigil_alert_delivery *d, const char *account,
                               const char *action, const char *detector, const char *order_id)
{
    (void)d, (void)account, (void)action, (void)detector, (void)order_id;
}

void vigil_alert_delivery_get_stats(struct vigil_alert_delivery *d,
                                    struct vigil_alert_delivery_stats *st)
{
    (void)d;
    memset(st, 0, sizeof *st);
}

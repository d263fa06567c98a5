/* SPDX-License-Identifier: Apache-2.0 */
/* test_state_batch.c - checkpointed states coalesced per transaction: one HSET per partition
 * (and one HDEL for emptied accounts), the latest state of an account replacing earlier ones.
 * The states themselves are loaded back from a real Redis by itest_state. No server here:
 * the commands are only queued on a connection that is never opened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ckpt_keys.h"
#include "redis_sink.h"
#include "state_batch.h"
#include "vigil/status.h"

static void test_one_command_per_partition(void **state)
{
    (void)state;
    char err[128], acc[32], data[64];
    struct vigil_ckpt_keys keys;
    assert_int_equal(vigil_ckpt_keys_init(&keys, "vigil:", "g", "vigil.events"), 0);
    struct vigil_redis *r = vigil_redis_create("127.0.0.1:1", NULL, 100, err, sizeof err);
    struct vigil_state_batch *b = vigil_state_batch_create();
    assert_non_null(r);
    assert_non_null(b);

    /* Three checkpoints of 500 accounts on 4 partitions within one transaction. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++) {
            snprintf(acc, sizeof acc, "acc-%d", i);
            int len = snprintf(data, sizeof data, "state %d of %d", round, i);
            assert_int_equal(vigil_state_batch_put(b, i % 4, acc, data, (size_t)len), 0);
        }
    }
    assert_int_equal(vigil_state_batch_count(b), 500);
    assert_int_equal(vigil_state_batch_flush(b, r, &keys), 0);
    assert_int_equal(vigil_redis_pending(r), 4);
    assert_int_equal(vigil_state_batch_count(b), 0);

    /* The same account on two partitions (a rebalance moved it) is two entries; an emptied
     * account is deleted, not written. */
    assert_int_equal(vigil_state_batch_put(b, 1, "acc-x", "a", 1), 0);
    assert_int_equal(vigil_state_batch_put(b, 2, "acc-x", "b", 1), 0);
    assert_int_equal(vigil_state_batch_put(b, 2, "acc-y", "c", 1), 0);
    assert_int_equal(vigil_state_batch_put(b, 2, "acc-y", NULL, 0), 0);
    assert_int_equal(vigil_state_batch_count(b), 3);
    assert_int_equal(vigil_state_batch_flush(b, r, &keys), 0);
    assert_int_equal(vigil_redis_pending(r), 4 + 3); /* HSET p1, HSET p2, HDEL p2 */

    assert_int_equal(vigil_state_batch_put(b, -1, "acc-z", "d", 1), VIGIL_ERR_INVALID);
    assert_int_equal(vigil_state_batch_flush(b, r, &keys), 0); /* nothing staged */
    assert_int_equal(vigil_redis_pending(r), 7);
    vigil_state_batch_destroy(b);
    vigil_redis_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_command_per_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

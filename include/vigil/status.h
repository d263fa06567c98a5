/* SPDX-License-Identifier: Apache-2.0 */
/* status.h - return codes shared by every vigil module.
 *
 * Functions return 0 on success or a negative enum vigil_status; constructors
 * return NULL on failure. */
#ifndef VIGIL_STATUS_H
#define VIGIL_STATUS_H

enum vigil_status {
    VIGIL_OK = 0,
    VIGIL_ERR_NOMEM = -1,   /* allocation failed */
    VIGIL_ERR_INVALID = -2, /* bad input (event, flag, argument) */
    VIGIL_ERR_CONFIG = -3,  /* bad configuration */
    VIGIL_ERR_IO = -4,      /* network or file I/O failed */
    VIGIL_ERR_FULL = -5,    /* a bounded structure is full; retry later */
    VIGIL_ERR_EMPTY = -6,   /* nothing to take; retry later */
    VIGIL_ERR_TIMEOUT = -7, /* a deadline passed */
};

/* Short English text for a status, never NULL. */
const char *vigil_status_str(int status);

#endif

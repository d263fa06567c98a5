/* SPDX-License-Identifier: Apache-2.0 */
/* status.c - text for enum vigil_status. */
#include "vigil/status.h"

const char *vigil_status_str(int status)
{
    switch (status) {
    case VIGIL_OK: return "ok";
    case VIGIL_ERR_NOMEM: return "out of memory";
    case VIGIL_ERR_INVALID: return "invalid input";
    case VIGIL_ERR_CONFIG: return "bad configuration";
    case VIGIL_ERR_IO: return "I/O error";
    case VIGIL_ERR_FULL: return "full";
    case VIGIL_ERR_EMPTY: return "empty";
    case VIGIL_ERR_TIMEOUT: return "timed out";
    default: return "unknown error";
    }
}

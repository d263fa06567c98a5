/* SPDX-License-Identifier: Apache-2.0 */
/* version.h - the build's version, "0.1.0 (git f90a5b2)", for every program's --version.
 * The definition is generated at build time by cmake/version.cmake (project version and
 * `git describe --always --dirty`, "unknown" when built outside git). */
#ifndef VIGIL_VERSION_H
#define VIGIL_VERSION_H

#include <stdio.h>

const char *vigil_version(void);

/* Prints "PROG VERSION\n" to stdout, as --version does. */
static inline void vigil_print_version(const char *prog)
{
    printf("%s %s\n", prog, vigil_version());
}

#endif

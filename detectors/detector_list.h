/* SPDX-License-Identifier: Apache-2.0 */
/* detector_list.h - the registered detectors, one VIGIL_DETECTOR(name) line each, in
 * registry order (the order detectors run in and their keys appear in --help).
 *
 * An X-macro list with no include guard: the includer defines VIGIL_DETECTOR(n) before
 * each inclusion and undefines it after (see registry.c). Adding a detector is one line
 * here plus detectors/<name>.c exporting `const struct vigil_detector_ops vigil_det_<name>`. */
VIGIL_DETECTOR(toll_fraud)
VIGIL_DETECTOR(bulk_sms)
VIGIL_DETECTOR(continuous)
VIGIL_DETECTOR(premium)
VIGIL_DETECTOR(fair_use)
VIGIL_DETECTOR(credit)
VIGIL_DETECTOR(resale)

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* error.c - the core's GError domain. */
#include "error.h"

G_DEFINE_QUARK (rdt-error-quark, rdt_error)

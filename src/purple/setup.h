/* SPDX-License-Identifier: GPL-2.0-or-later */
/* setup.h - the first login of an account that lacks what a login needs:
 * one request dialog asks how to start (an invitation, a new space, or the
 * user's own key and space key), fills the account in and logs in. */
#pragma once

#include <glib.h>

#include <account.h>

G_BEGIN_DECLS

/* Called by rdt_login before anything else. TRUE: the account has what a
 * login needs (or an invitation to redeem), go on. FALSE: the dialog is
 * open (its answer calls rdt_login again) or, in a client without request
 * dialogs, the connection error says what is missing. */
gboolean rdt_setup_check (PurpleAccount *account);

G_END_DECLS

/* session.c - placeholder until implemented */

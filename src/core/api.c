/* api.c - placeholder until implemented */

/* crypto.c - placeholder until implemented */

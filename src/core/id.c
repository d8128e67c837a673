/* id.c - placeholder until implemented */

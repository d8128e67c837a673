/* encoding.c - placeholder until implemented */

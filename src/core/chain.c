/* chain.c - placeholder until implemented */

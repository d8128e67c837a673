/* message.c - placeholder until implemented */

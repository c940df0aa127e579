/* Placeholder translation unit so the store library links before its code lands. */
int store_placeholder_unused(void);
int store_placeholder_unused(void) { return 0; }

/* Stand-in for the macOS SDK header, for scripts/cross-check.sh only: ring's C is
   compiled (never linked) while clippy checks x86_64-apple-darwin from Linux. */
#include <stddef.h>
void *memcpy(void *, const void *, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
size_t strlen(const char *);

/* Stand-in for the macOS SDK header, for scripts/cross-check.sh only: ring's C is
   compiled (never linked) while clippy checks x86_64-apple-darwin from Linux. */
#define assert(x) ((void)0)

/* Stand-in for the macOS SDK header, for scripts/cross-check.sh only: ring's C is
   compiled (never linked) while clippy checks x86_64-apple-darwin from Linux. */
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_MAC 1

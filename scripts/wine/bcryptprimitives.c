/* A stand-in for Windows' bcryptprimitives.dll, which Wine 8 (Debian 12)
 * lacks: Rust's std (>= 1.78) imports ProcessPrng from it at start-up, so
 * without this every Rust program exits with code 53 under that Wine.
 * It fills the buffer through advapi32's RtlGenRandom (SystemFunction036).
 * Built with mingw by scripts/wine/setup.sh; used only to run tests. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst; (void)reason; (void)reserved;
    return TRUE;
}

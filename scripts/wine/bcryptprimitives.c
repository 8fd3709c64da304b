/*
 * ProcessPrng for Wine 8 (Debian 12's wine), which lacks bcryptprimitives.dll.
 *
 * Rust's standard library on Windows draws its random bytes from ProcessPrng in
 * bcryptprimitives.dll, present on every Windows 10 and later. Wine 9 provides it; on
 * Wine 8, scripts/cross.sh builds this file into the Wine prefix's system32 so that the
 * unchanged wasmesos.exe starts. It forwards to BCryptGenRandom with the system RNG.
 * Never shipped: release binaries run on Windows' own DLL.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

/*
 * A stand-in bcryptprimitives.dll for running the Windows test binaries
 * under wine in .ci/run. It is never shipped and never used on Windows.
 *
 * Why it exists: Rust's standard library (since Rust 1.78) gets its random
 * bytes (HashMap keys, among others) from ProcessPrng in bcryptprimitives.dll,
 * and every Rust program loads it at start-up. Debian's wine 8.0 has no
 * bcryptprimitives.dll, so without this file no Rust program starts there.
 * ProcessPrng is forwarded to SystemFunction036 (RtlGenRandom, advapi32),
 * which wine 8.0 implements over the host's random source.
 *
 * Build (.ci/run does): x86_64-w64-mingw32-gcc -shared -O2 -s
 *     -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Documented as "always returns TRUE"; RtlGenRandom takes at most a ULONG
 * per call, so larger requests go in chunks. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}

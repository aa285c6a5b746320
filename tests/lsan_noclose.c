/*
 * tests/lsan_noclose.c — a dlclose() that keeps the library loaded, LD_PRELOADed by
 * scripts/test-sanitize.sh only. The Vulkan loader unloads the driver (lavapipe) and the validation
 * layer in vkDestroyInstance; what they leaked is then reported by LeakSanitizer at exit with
 * "<unknown module>" frames that no suppression can name. Keeping them mapped lets tests/lsan.supp
 * suppress those leaks by module, and only those. Not linked into anything.
 */
#include <stddef.h>

int dlclose(void *handle);

int dlclose(void *handle) {
    (void)handle;
    return 0;
}

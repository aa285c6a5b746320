/* cli/cmd_devices.c — `vkgpt devices`: one line per Vulkan device with what vkgpt uses of it. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_mib(uint64_t b) {
    if (b >= (1ull << 30))
        printf("%.1f GiB", (double)b / (1ull << 30));
    else
        printf("%llu MiB", (unsigned long long)(b >> 20));
}

static void print_device(const vkg_device_info *d, bool is_default) {
    printf("%c %u: %s (%s) | driver %s %s | Vulkan %u.%u.%u | subgroup %u", is_default ? '*' : ' ',
           d->index, d->name, vkg_device_type_str(d->type), d->driver_name, d->driver_info,
           d->api_version >> 22, (d->api_version >> 12) & 0x3ff, d->api_version & 0xfff, d->subgroup_size);
    if (d->subgroup_size_control && d->subgroup_min != d->subgroup_max)
        printf(" (%u..%u)", d->subgroup_min, d->subgroup_max);
    printf(" | fp16 %s, 16-bit storage %s, 8-bit storage %s, int dot %s | coopmat",
           d->fp16_arithmetic ? "yes" : "no", d->storage_16bit ? "yes" : "no", d->storage_8bit ? "yes" : "no",
           d->integer_dot_product ? "yes" : "no");
    if (!d->coopmat_khr && !d->coopmat_nv)
        printf(" no");
    for (int khr = 1; khr >= 0; khr--) {
        if (!(khr ? d->coopmat_khr : d->coopmat_nv))
            continue;
        printf(" %s", khr ? "KHR" : "NV");
        const char *sep = " ";
        for (uint32_t i = 0; i < d->n_coopmat_shapes; i++)
            if (d->coopmat_shapes[i].khr == (bool)khr) {
                printf("%s%ux%ux%u", sep, d->coopmat_shapes[i].m, d->coopmat_shapes[i].n, d->coopmat_shapes[i].k);
                sep = ",";
            }
    }
    printf(" | shared %u KiB | storage range ", d->max_shared_memory / 1024);
    print_mib(d->max_storage_buffer_range);
    printf(" | max alloc ");
    print_mib(d->max_memory_allocation_size);
    printf(" | memory");
    for (uint32_t i = 0; i < d->n_heaps; i++) {
        printf(" %s", i ? "+ " : "");
        print_mib(d->heaps[i].size);
        printf("%s", d->heaps[i].device_local ? " device" : " host");
    }
    printf(" | timestamps %s\n", d->timestamps ? "yes" : "no");
}

static void print_verbose(const vkg_device_info *d) {
    printf("    vendor 0x%04x device 0x%04x driver version 0x%08x\n", d->vendor_id, d->device_id,
           d->driver_version);
    printf("    workgroups: count %u x %u x %u, size %u x %u x %u, %u invocations; push constants %u bytes\n",
           d->max_workgroup_count[0], d->max_workgroup_count[1], d->max_workgroup_count[2],
           d->max_workgroup_size[0], d->max_workgroup_size[1], d->max_workgroup_size[2],
           d->max_workgroup_invocations, d->max_push_constants_size);
    printf("    max buffer %llu bytes, storage offset alignment %u, buffer device address %s, timestamp "
           "period %.3f ns\n", (unsigned long long)d->max_buffer_size, d->min_storage_buffer_offset_alignment,
           d->buffer_device_address ? "yes" : "no", d->timestamp_period_ns);
    for (uint32_t i = 0; i < d->n_heaps; i++)
        printf("    heap %u: %llu bytes, budget %llu%s\n", i, (unsigned long long)d->heaps[i].size,
               (unsigned long long)d->heaps[i].budget, d->heaps[i].device_local ? ", device-local" : "");
}

int cmd_devices(int argc, char **argv) {
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: vkgpt devices [-v]\n\n"
                   "Lists every Vulkan device, one line each; '*' marks the one vkgpt uses by default\n"
                   "(VKG_DEVICE=<index> or --device overrides it).\n\n"
                   "  -v, --verbose   also print limits, heaps and budgets (default: off)\n");
            return CLI_OK;
        }
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
            verbose = true;
        else
            return cli_usage_error("devices", "unknown option '%s'", argv[i]);
    }
    vkg_device_info *infos = NULL;
    uint32_t count = 0, def = 0;
    vkg_status s = vkg_devices_list(&infos, &count, &def);
    if (s != VKG_OK)
        return cli_report("listing devices", s);
    for (uint32_t i = 0; i < count; i++) {
        print_device(&infos[i], i == def);
        if (verbose)
            print_verbose(&infos[i]);
    }
    free(infos);
    return CLI_OK;
}

# FindVolk — locate volk as Debian's libvulkan-volk-dev ships it: volk.h and volk.c in the include
# directory, compiled into the consumer (volk loads libvulkan at run time, so nothing links it).
#
# Defines Volk_FOUND and Volk::volk: an OBJECT library of volk.c whose objects land in whatever links
# it directly, carrying the include path and VK_NO_PROTOTYPES (so no code calls Vulkan but via volk).
find_path(Volk_INCLUDE_DIR volk.h PATH_SUFFIXES volk)
find_file(Volk_SOURCE volk.c HINTS ${Volk_INCLUDE_DIR} PATH_SUFFIXES volk)
find_path(Vulkan_HEADERS_DIR vulkan/vulkan.h)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Volk REQUIRED_VARS Volk_INCLUDE_DIR Volk_SOURCE Vulkan_HEADERS_DIR)

if(Volk_FOUND AND NOT TARGET Volk::volk)
  add_library(volk_obj OBJECT ${Volk_SOURCE})
  target_include_directories(volk_obj PUBLIC ${Volk_INCLUDE_DIR} ${Vulkan_HEADERS_DIR})
  target_compile_definitions(volk_obj PUBLIC VK_NO_PROTOTYPES)
  # volk.c is third-party code: keep the project's strict warnings off it.
  target_compile_options(volk_obj PRIVATE -w)
  set_target_properties(volk_obj PROPERTIES POSITION_INDEPENDENT_CODE ON C_EXTENSIONS ON)
  add_library(Volk::volk ALIAS volk_obj)
endif()
mark_as_advanced(Volk_INCLUDE_DIR Volk_SOURCE Vulkan_HEADERS_DIR)

# tests/test_coopmat_khr.cmake — the inputs of test_coopmat_khr (included from tests/CMakeLists.txt
# after its vkg_add_test line): the NV module the shader build compiles from the current
# shaders/matmul_coopmat.comp (shaders/CMakeLists.txt; the library the test links depends on it), and
# SPIR-V compiled by glslang at build time from the small shaders in data/coopmat/. Optional
# spirv-val / spirv-dis: the tests that use them skip without them.
set(vkg_coopmat_dir "${CMAKE_CURRENT_BINARY_DIR}/coopmat")
set(vkg_coopmat_inputs "")
foreach(src IN ITEMS data/coopmat/store_length.comp data/coopmat/convert.comp
                     data/coopmat/ab_same.comp data/coopmat/spec_layout.comp
                     data/coopmat/no_muladd.comp)
  get_filename_component(src "${src}" ABSOLUTE)
  get_filename_component(name "${src}" NAME_WE)
  set(spv "${vkg_coopmat_dir}/${name}.spv")
  add_custom_command(
    OUTPUT "${spv}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${vkg_coopmat_dir}"
    COMMAND ${GLSLANG_VALIDATOR} --quiet --target-env vulkan1.2 -V -I${PROJECT_SOURCE_DIR}/shaders
            --depfile "${spv}.d" -o "${spv}" "${src}"
    DEPENDS "${src}"
    DEPFILE "${spv}.d"
    COMMENT "glslang ${name} (test_coopmat_khr)"
    VERBATIM)
  list(APPEND vkg_coopmat_inputs "${spv}")
endforeach()
add_custom_target(test_coopmat_khr_inputs DEPENDS ${vkg_coopmat_inputs})

find_program(VKG_SPIRV_VAL spirv-val)
find_program(VKG_SPIRV_DIS spirv-dis)
target_sources(test_coopmat_khr PRIVATE coopmat_khr_check.c)
target_link_libraries(test_coopmat_khr PRIVATE vkg_spirv_tools)
target_compile_definitions(test_coopmat_khr PRIVATE
  VKG_COOPMAT_SPV_DIR="${vkg_coopmat_dir}"
  VKG_COOPMAT_KERNEL_SPV="${PROJECT_BINARY_DIR}/shaders/spv/matmul_coopmat_khr.nv.spv"
  VKG_SHADER_SPV_DIR="${PROJECT_BINARY_DIR}/shaders/spv"
  VKG_COOPMAT_KHR_BIN="$<TARGET_FILE:vkg_coopmat_khr>"
  VKG_SPIRV_VAL="$<$<BOOL:${VKG_SPIRV_VAL}>:${VKG_SPIRV_VAL}>"
  VKG_SPIRV_DIS="$<$<BOOL:${VKG_SPIRV_DIS}>:${VKG_SPIRV_DIS}>")
add_dependencies(test_coopmat_khr test_coopmat_khr_inputs vkg_coopmat_khr)

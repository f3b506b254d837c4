# Warning flags for every energywire target (STYLE.md "CMake").
function(ew_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
                         -Wmissing-prototypes -Wpointer-arith -Wformat=2)
  if(EW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

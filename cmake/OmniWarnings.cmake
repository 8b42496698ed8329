function(omni_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough)
  if(OMNI_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

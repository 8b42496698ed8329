// Folders the test and benchmark binaries need, fixed when CMake configures the build. They live
// in one generated source file (build_paths.cc.in) rather than in -D flags on every object, so
// a second clone of the project compiles to the same objects and ccache can reuse them.
#pragma once

namespace omni::testing {

extern const char* const kRefdataDir;  // ../shared/refdata as configured (OMNI_REFDATA)
extern const char* const kSourceDir;   // the project root
extern const char* const kBinaryDir;   // the build folder holding omni, omni-gen, ...

}  // namespace omni::testing

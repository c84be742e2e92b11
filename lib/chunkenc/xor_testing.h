// Test hooks of the XOR codec (internal; not part of the public API).
#pragma once

namespace strata::chunkenc::internal {

// Makes XorIterator decode with the loop built for baseline x86-64 even where the CPU has
// BMI2 and MOVBE (where it would otherwise pick the BMI2 build), so that tests cover both
// builds on any machine. Not thread-safe with concurrent decoding; tests only.
void ForceBaselineDecodeForTesting(bool force);

}  // namespace strata::chunkenc::internal

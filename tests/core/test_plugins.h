#pragma once
// Test-only methods and tasks, registered into test_core's registries (test_plugins.cpp). They need no model, so the
// runner's bookkeeping (storage, failures, resume, kill -9) is tested without the runtime.
//   methods: test-kv (bits {2,4,8}=8, ratio [0,1]=0.5, symmetric=true, mode {"a","b"}="a"; bits 2 needs ratio<=0.9)
//            test-weight (a weight method: group [16, 256] = 64)
//   tasks:   test-echo  (reports score = value * n, "ms" timings with `reps` repetitions, one item per index;
//                        options n [1, 100] = 3, value [-10, 10] = 1, reps [1, 20] = 1, contexts int[] = [128])
//            test-fail  (throws "planned failure" when fail=true unless the file `unless_file` exists, else
//                        reports score 1)
//            test-sleep (sleeps ms [0, 10000] = 0 and reports score = 1; data file optional via `with_data`)
//            test-partial (reports a metric, then throws: its partial result must never be stored)
#include <string>

namespace bp::test {
// Content and sha256 of the data file test-sleep declares when with_data=true ("test-data/hello.txt").
inline const char* kTestDataText = "hello\n";
std::string test_data_sha256();
}  // namespace bp::test

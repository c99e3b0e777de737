// CollectingSink: a task's reports are checked against what it declares.
#include <gtest/gtest.h>

#include <cmath>

#include "harness/core/results.h"

namespace bp {
namespace {

TaskInfo info() {
  TaskInfo t;
  t.name = "t";
  t.metrics = {{"ppl", ""}, {"decode", "ms"}};
  return t;
}

std::string error_of(const std::function<void(CollectingSink&)>& f, const TaskInfo& t) {
  CollectingSink sink(t, {});
  try {
    f(sink);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CollectingSink, EnforcesTheTasksDeclaredMetrics) {
  TaskInfo t = info();
  EXPECT_EQ(error_of([](CollectingSink& s) { s.metric("acc", 1, ""); }, t),
            "task \"t\" reported metric \"acc\", which its TaskInfo::metrics does not declare");
  EXPECT_EQ(error_of([](CollectingSink& s) { s.metric("decode", 1, "s"); }, t),
            "task \"t\" reported metric \"decode\" in unit \"s\"; it declares \"ms\"");
  EXPECT_EQ(error_of([](CollectingSink& s) { s.metric("ppl", NAN, ""); }, t),
            "task \"t\": metric \"ppl\" {} is not a finite number (nan)");
  EXPECT_EQ(error_of([](CollectingSink& s) { s.metric("ppl", 1, "", 0, json::array()); }, t),
            "task \"t\": labels of metric \"ppl\" must be a JSON object, got []");
  EXPECT_EQ(error_of([](CollectingSink& s) {
              s.metric("decode", 1, "ms", 1, {{"context", 8}});
              s.metric("decode", 2, "ms", 1, {{"context", 8}});
            }, t),
            "task \"t\" reported metric \"decode\" {\"context\":8} repetition 1 twice");
  EXPECT_EQ(error_of([](CollectingSink& s) {
              s.item("a", 1);
              s.item("a", 0);
            }, t),
            "task \"t\" reported item \"a\" twice");
  EXPECT_EQ(error_of([](CollectingSink& s) {
              s.metric("decode", 1, "ms", 0, {{"context", 8}});
              s.metric("decode", 1, "ms", 0, {{"context", 16}});
              s.item("a", 1, {{"x", 1}});
            }, t),
            "(no error)");
}

TEST(CollectingSink, DropsMetricsOutsideTheSelectionButStillChecksThem) {
  TaskInfo t = info();
  CollectingSink sink(t, {"ppl"});
  sink.metric("decode", 3, "ms", 0);
  sink.metric("ppl", 9.5, "");
  ASSERT_EQ(sink.results().metrics.size(), 1u);
  EXPECT_EQ(sink.results().metrics[0].name, "ppl");
  EXPECT_THROW(sink.metric("decode", 3, "ms", 0), std::runtime_error);  // still a duplicate
}

}  // namespace
}  // namespace bp

#pragma once
// Multiple-choice datasets as data: a JSON Lines file plus a field mapping turns each record into an McItem (context,
// choices, gold, key), so a new dataset needs a suite entry, not C++. The mapping is task options (they are part of
// the configuration's identity like any option):
//
//   context        template of the context, e.g. "Question: {goal}\nAnswer:"
//   choices        templates, one per choice, e.g. ["{sol1}", "{sol2}"]                  } exactly one of
//   choices_array  path of an array field holding the choices, e.g. "question/choices"    } these two
//   choice_text    within each array element: the path of its text ("" = the element is the text)
//   choice_label   within each array element: the path of its label (for label_kind "choice_label")
//   label          path of the gold field ("" = the gold comes from labels_file, one line per record)
//   label_kind     "index": the gold is a 0-based index (an integer or a string of digits);
//                  "choice_label": the gold equals the choice_label of one array element (ARC's answerKey)
//   key            template of the item key for paired comparisons ("" = the record's 0-based index); unique
//   preprocess     "none" | "hellaswag" (lm-evaluation-harness's clean-up, applied to the context and each choice)
//   delimiter      put between the context and a choice (lm-evaluation-harness's target_delimiter)
//
// Templates: "{path}" is replaced by the record's field at that path (segments separated by "/", array elements
// by index; a string as is, a number as JSON), "{path|capitalize}" or "{path|strip}" applies a filter, "{{" and "}}"
// are literal braces. A missing field or a non-scalar is an error naming the file, the record's line and the field.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datasets/common/multiple_choice.h"
#include "harness/core/task.h"

namespace bp::data {

struct McMapping {
  std::string context;
  std::vector<std::string> choices;
  std::string choices_array, choice_text, choice_label;
  std::string label;
  std::string label_kind = "index";
  std::string key;
  std::string preprocess = "none";
  std::string delimiter = " ";
};

// Adds the mapping options (defaults as given), the data file options (file, sha256, labels_file, labels_sha256)
// to a schema.
void add_mapping_options(ParamSchema& s, const json& defaults);
McMapping mapping_of(const Params& p);
// Checks the mapping's shape (one of choices/choices_array, templates that parse, label vs labels_file, the data
// files' hashes); errors point at <entry>/options/<name>.
void validate_mapping(const Params& p, const std::string& file, const std::string& pointer);
// The data files the options name: the records file, and the labels file when there is one.
std::vector<DataFile> mapping_files(const Params& p);

// The mapping of a preset task ("piqa", "arc", "hellaswag"): what those tasks run, as option values of
// `multiple-choice` (mc_tasks.cpp).
const McMapping& mc_preset(const std::string& name);

// Reads and checks the files, maps every record.
std::vector<McItem> load_mapped(const std::string& data_root, const McMapping& m, const DataFile& records,
                                const std::optional<DataFile>& labels);

// Renders a template against a JSON value. Throws std::invalid_argument("...") naming the problem (the caller adds
// the file and record).
std::string render_template(const std::string& tmpl, const json& record);

// lm-evaluation-harness's HellaSwag preprocess(): strip surrounding whitespace, " [title]" -> ". ", remove every
// "[...]" (shortest match within a line), then replace each non-overlapping "  " by " " (one left-to-right pass).
std::string hellaswag_preprocess(const std::string& text);
// Python's str.capitalize() for ASCII letters: first character upper-case, the rest lower-case (other bytes kept).
std::string capitalize_ascii(const std::string& text);

}  // namespace bp::data

#pragma once
// What `scanwatch doctor` found (docs/operations.md, "scanwatch doctor"): one finding per check,
// each with what to run to fix it, rendered for a person or as one JSON document for scripts.

#include <string>
#include <vector>

namespace scanwatch::agent::doctor {

/// How a check came out. Only `problem` makes doctor exit 1.
enum class Status {
    ok,       ///< as it should be
    warning,  ///< works, but worth a look (lost records, a 32-bit rule missing)
    problem,  ///< scanwatch cannot see or report what it should
};

/// One check's result. `check` is a stable id (e.g. "audit.rules.exec.b64") scripts can key on.
struct Finding {
    std::string check;
    Status status = Status::ok;
    std::string message;           ///< one sentence: what is, naming the thing and the value
    std::vector<std::string> fix;  ///< commands or steps that fix it, in order; empty when ok
};

/// Every finding of one run, in the order the checks ran.
struct Report {
    std::vector<Finding> findings;

    void add(std::string check, Status status, std::string message,
             std::vector<std::string> fix = {});
    int problems() const;
    int warnings() const;
    /// 0 when no finding is a problem, else 1.
    int exit_code() const { return problems() == 0 ? 0 : 1; }
};

/// The name of a status in text and JSON: "ok", "warning", "problem".
const char* status_name(Status status);

/// For a person: one line per finding ("ok      ...", "WARNING ...", "PROBLEM ..."), the fix
/// indented under it, then a summary line.
std::string render_text(const Report& report);

/// For scripts: {"ok":BOOL,"problems":N,"warnings":N,"findings":[{"check","status","message",
/// "fix":[...]}...]} and a newline. The field names are stable (docs/operations.md).
std::string render_json(const Report& report);

}  // namespace scanwatch::agent::doctor

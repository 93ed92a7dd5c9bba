#include "agent/doctor/findings.h"

#include <algorithm>

#include <fmt/format.h>

#include "parsers/ecs/json_writer.h"

namespace scanwatch::agent::doctor {

void Report::add(std::string check, Status status, std::string message,
                 std::vector<std::string> fix) {
    findings.push_back({std::move(check), status, std::move(message), std::move(fix)});
}

int Report::problems() const {
    return static_cast<int>(std::count_if(findings.begin(), findings.end(),
                                          [](const Finding& f) { return f.status == Status::problem; }));
}

int Report::warnings() const {
    return static_cast<int>(std::count_if(findings.begin(), findings.end(),
                                          [](const Finding& f) { return f.status == Status::warning; }));
}

const char* status_name(Status status) {
    switch (status) {
        case Status::ok: return "ok";
        case Status::warning: return "warning";
        case Status::problem: return "problem";
    }
    return "problem";
}

std::string render_text(const Report& report) {
    std::string out;
    for (const Finding& f : report.findings) {
        const char* label = f.status == Status::ok        ? "ok     "
                            : f.status == Status::warning ? "WARNING"
                                                          : "PROBLEM";
        out += fmt::format("{} {}: {}\n", label, f.check, f.message);
        for (const std::string& step : f.fix) out += fmt::format("          fix: {}\n", step);
    }
    const int problems = report.problems();
    const int warnings = report.warnings();
    if (problems == 0 && warnings == 0) {
        out += fmt::format("all {} checks passed\n", report.findings.size());
    } else {
        out += fmt::format("{} problem{}, {} warning{} in {} checks\n", problems,
                           problems == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s",
                           report.findings.size());
    }
    return out;
}

std::string render_json(const Report& report) {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.field("ok", report.problems() == 0);
    w.field("problems", report.problems());
    w.field("warnings", report.warnings());
    w.key("findings");
    w.begin_array();
    for (const Finding& f : report.findings) {
        w.begin_object();
        w.field("check", f.check);
        w.field("status", status_name(f.status));
        w.field("message", f.message);
        w.field("fix", f.fix);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    out += '\n';
    return out;
}

}  // namespace scanwatch::agent::doctor

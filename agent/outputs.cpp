#include "agent/outputs.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "parsers/ecs_json.h"

namespace scanwatch::agent {

NdjsonOutput::NdjsonOutput(const std::string& spec) {
    if (spec == "-") {
        file_ = stdout;
        return;
    }
    file_ = std::fopen(spec.c_str(), "ae");
    if (file_ == nullptr) {
        throw std::runtime_error(fmt::format("cannot open {}: {}", spec, std::strerror(errno)));
    }
    owned_ = true;
}

NdjsonOutput::~NdjsonOutput() {
    if (owned_) {
        std::fclose(file_);
    } else {
        std::fflush(file_);
    }
}

bool NdjsonOutput::write_line(std::string_view line, bool flush) {
    bool ok = std::fwrite(line.data(), 1, line.size(), file_) == line.size() &&
              std::fputc('\n', file_) != EOF;
    if (flush) ok = std::fflush(file_) == 0 && ok;
    ok ? ++written_ : ++failed_;
    return ok;
}

void NdjsonOutput::flush() { std::fflush(file_); }

void AlertWriter::write(const rules::Alert& alert) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    out_.write_line(rules::alert_to_json(alert, static_cast<std::int64_t>(now_ms)), true);
}

void EventWriter::write(const ProcessEvent& event) {
    line_.clear();
    append_event_json(line_, event);
    out_.write_line(line_, false);
}

}  // namespace scanwatch::agent

#include "rules/toml_guard.h"

#include <vector>

#include <fmt/format.h>

namespace scanwatch::rules {

namespace {

// One open array or inline table, and how deep it is.
struct Open {
    char kind = '[';
    std::size_t depth = 0;
};

class ShapeCheck {
public:
    explicit ShapeCheck(std::string_view text) : text_(text) {}

    std::optional<TomlShapeError> run() {
        if (text_.size() > kMaxTomlBytes) {
            return TomlShapeError{0, 0, fmt::format("larger than {} bytes", kMaxTomlBytes)};
        }
        start_statement();
        while (i_ < text_.size() && !error_) step();
        return error_;
    }

private:
    void step() {
        const char c = text_[i_];
        if (c == '\n') {
            ++i_;
            ++line_;
            line_start_ = i_;
            if (open_.empty()) start_statement();
            return;
        }
        if (c == '#') {
            while (i_ < text_.size() && text_[i_] != '\n') ++i_;
            return;
        }
        if (c == '"' || c == '\'') {
            line_begun_ = true;
            skip_string(c);
            return;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            ++i_;
            return;
        }
        const bool first = !line_begun_;
        line_begun_ = true;
        if (in_key_) {
            key_char(c, first);
        } else {
            value_char(c);
        }
        ++i_;
    }

    // A key part, a dot between parts, or the end of the key.
    void key_char(char c, bool first) {
        if (first && open_.empty() && c == '[') {
            // A table header `[a.b]` or `[[a.b]]`: its parts are the depth of what follows.
            if (in_header_) return;  // the second `[` of `[[`
            in_header_ = true;
            return;
        }
        if (in_header_ && c == '[' && i_ > 0 && text_[i_ - 1] == '[') return;
        if (c == '.') {
            ++key_parts_;
            if (key_parts_ > kMaxTomlKeyParts) {
                fail(fmt::format("a key has more than {} dotted parts", kMaxTomlKeyParts));
            } else if (context_depth() + key_parts_ > kMaxTomlDepth) {
                fail_depth();
            }
            return;
        }
        if (in_header_ && c == ']') {
            base_ = key_parts_;
            in_header_ = false;
            in_key_ = false;
            return;
        }
        if (c == '=') {
            pending_ = context_depth() + key_parts_;
            in_key_ = false;
            return;
        }
        if (c == '}' || c == ']') value_char(c);  // `{}`: an empty inline table closes at once
    }

    void value_char(char c) {
        if (c == '[' || c == '{') {
            const std::size_t depth = pending_ + 1;
            if (depth > kMaxTomlDepth) {
                fail_depth();
                return;
            }
            open_.push_back({c, depth});
            if (c == '{') {
                start_key();
            } else {
                pending_ = depth;
            }
            return;
        }
        if (c == ']' || c == '}') {
            if (!open_.empty()) open_.pop_back();
            in_key_ = false;
            if (!open_.empty() && open_.back().kind == '[') pending_ = open_.back().depth;
            return;
        }
        if (c == ',' && !open_.empty()) {
            if (open_.back().kind == '{') {
                start_key();
            } else {
                pending_ = open_.back().depth;
            }
        }
    }

    // Skips a basic, literal or multi-line string; a single-line string ends at its line's end
    // at the latest (the parser reports it unterminated), so the count never loses its place for
    // more than one line.
    void skip_string(char quote) {
        const bool multi = text_.compare(i_, 3, std::string(3, quote)) == 0;
        i_ += multi ? 3 : 1;
        while (i_ < text_.size()) {
            const char c = text_[i_];
            if (c == '\\' && quote == '"') {
                i_ += 2;
                continue;
            }
            if (c == '\n') {
                if (!multi) return;
                ++line_;
                line_start_ = i_ + 1;
            }
            if (c == quote) {
                if (!multi) {
                    ++i_;
                    return;
                }
                if (text_.compare(i_, 3, std::string(3, quote)) == 0) {
                    i_ += 3;
                    // Up to two more quotes just before the closing ones belong to the string.
                    for (int extra = 0; extra < 2 && i_ < text_.size() && text_[i_] == quote; ++extra)
                        ++i_;
                    return;
                }
            }
            ++i_;
        }
    }

    std::size_t context_depth() const {
        if (in_header_) return 0;
        return open_.empty() ? base_ : open_.back().depth;
    }

    void start_statement() {
        line_begun_ = false;
        in_header_ = false;
        start_key();
    }

    void start_key() {
        in_key_ = true;
        key_parts_ = 1;
    }

    void fail_depth() {
        fail(fmt::format("tables, inline tables and arrays nest deeper than {} levels (every part "
                         "of a dotted key is a level)",
                         kMaxTomlDepth));
    }

    void fail(std::string message) {
        error_ = TomlShapeError{line_, static_cast<int>(i_ - line_start_) + 1, std::move(message)};
    }

    std::string_view text_;
    std::size_t i_ = 0;
    int line_ = 1;
    std::size_t line_start_ = 0;
    bool line_begun_ = false;  // a character other than blanks seen on this statement's line
    bool in_key_ = true;
    bool in_header_ = false;
    std::size_t key_parts_ = 1;
    std::size_t base_ = 0;     // parts of the last table header
    std::size_t pending_ = 0;  // depth of the value being read
    std::vector<Open> open_;
    std::optional<TomlShapeError> error_;
};

}  // namespace

std::optional<TomlShapeError> check_toml_shape(std::string_view text) {
    return ShapeCheck(text).run();
}

}  // namespace scanwatch::rules

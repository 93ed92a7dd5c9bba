// EQL sequences and samples, as Elasticsearch parses them (docs/rules.md, "EQL sequences"):
//
//   sequence by host.id with maxspan=5s
//     [process where process.name == "curl"] by process.entity_id
//     ![process where process.name == "chmod"]
//     [network where destination.port == 4444] by process.entity_id with runs=2
//   until [process where event.type == "end"]
//
//   sample by host.id [process where ...] [network where ...]
//
// Each term's condition is parsed by the single-event parser (parser.cpp).

#include <cstdint>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "rules/query/eql/parser_state.h"

namespace scanwatch::rules::eql::detail {
namespace {

// Every field a condition reads, in first-use order, without duplicates.
void collect_fields(const Expr& e, std::vector<int>& ids, std::vector<std::string>& names) {
    const auto note = [&](int id, const std::string& name) {
        if (id < 0) return;
        for (int known : ids) {
            if (known == id) return;
        }
        ids.push_back(id);
        names.push_back(name);
    };
    if (query::is_operator(e.kind)) {
        for (const Expr& c : e.children) collect_fields(c, ids, names);
        return;
    }
    note(e.field_id, e.field);
    if (e.kind == query::ExprKind::fields) note(e.other_id, e.other);
}

// A category is a name, bare or quoted, as in a single-event query.
bool valid_category(const Token& t) {
    bool valid = (t.kind == TokenKind::string && !t.raw) ||
                 (t.kind == TokenKind::name && !t.optional && !t.tilde);
    valid = valid && !t.text.empty() && is_name_start(t.text.front());
    for (char c : t.text) valid = valid && is_name_char(c) && c != '.';
    Token bare = t;
    bare.kind = TokenKind::name;
    bare.optional = false;
    return valid && !is_keyword(bare) && !is_word(bare, "sequence") && !is_word(bare, "join") &&
           !is_word(bare, "sample") && !is_word(bare, "until") && !is_word(bare, "by") &&
           !is_word(bare, "with");
}

// Elasticsearch's time units of maxspan.
std::int64_t unit_ms(std::string_view unit) {
    if (unit == "ms") return 1;
    if (unit == "s") return 1000;
    if (unit == "m") return 60'000;
    if (unit == "h") return 3'600'000;
    if (unit == "d") return 86'400'000;
    return 0;
}

// A positive integer literal of at most 18 digits, or -1.
std::int64_t positive_integer(const std::string& text) {
    if (text.empty() || text.size() > 18) return -1;
    std::int64_t n = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return -1;
        n = n * 10 + (c - '0');
    }
    return n > 0 ? n : -1;
}

}  // namespace

bool Parser::parse_join_keys(std::vector<FieldRef>& keys) {
    if (!advance()) return false;  // `by`
    for (;;) {
        FieldRef key;
        if (cur_.kind != TokenKind::name || is_keyword(cur_) || cur_.tilde) {
            return fail(cur_, fmt::format("expected a field to join on after \"by\", found {}",
                                          describe(cur_)));
        }
        if (!parse_field(key)) return false;
        keys.push_back(std::move(key));
        if (cur_.kind != TokenKind::comma) return true;
        if (!advance()) return false;
    }
}

bool Parser::parse_with(std::string_view allowed, std::string& key, std::int64_t& value) {
    if (!advance()) return false;  // `with`
    if (!is_word(cur_, allowed)) {
        return fail(cur_, fmt::format("expected \"{}\" after \"with\", found {}", allowed,
                                      describe(cur_)));
    }
    key = cur_.text;
    if (!advance()) return false;
    if (cur_.kind != TokenKind::assign) {
        return fail(cur_, fmt::format("expected \"=\" after \"{}\", found {}", key, describe(cur_)));
    }
    if (!advance()) return false;
    const Token number = cur_;
    value = number.kind == TokenKind::number ? positive_integer(number.text) : -1;
    if (value < 0) {
        return fail(number, fmt::format("expected a positive whole number after \"{}=\", found {}",
                                        key, describe(number)));
    }
    if (!advance()) return false;
    if (key == "runs") {
        if (value > static_cast<std::int64_t>(kMaxRuns)) {
            return fail(number, fmt::format("runs={} is out of range: 1 to {}", value, kMaxRuns));
        }
        return true;
    }
    // maxspan: the unit follows the number without a space (5s, 100ms, 2m).
    const bool adjacent = cur_.kind == TokenKind::name && cur_.line == number.line &&
                          cur_.column == number.column + static_cast<int>(number.text.size());
    const std::int64_t unit = adjacent ? unit_ms(cur_.text) : 0;
    if (unit == 0) {
        return fail(adjacent ? cur_ : number,
                    fmt::format("maxspan needs a time unit right after the number (ms, s, m, h "
                                "or d), as in maxspan={}s",
                                number.text));
    }
    constexpr std::int64_t kMaxSpanMs = 3650LL * 86'400'000;  // as rule durations
    if (value > kMaxSpanMs / unit) {
        return fail(number, "maxspan is out of range: at most 3650 days");
    }
    value *= unit;
    return advance();
}

bool Parser::parse_term(ParsedStage& stage, bool allow_missing) {
    if (cur_.kind == TokenKind::bang) {
        if (!allow_missing) {
            return fail(cur_, "a missing event (![...]) may only be a term of a sequence, not of "
                              "a sample or until");
        }
        stage.missing = true;
        if (!advance()) return false;
    }
    if (cur_.kind != TokenKind::lbracket) {
        return fail(cur_, fmt::format("expected \"[\" to open a term, found {}", describe(cur_)));
    }
    const Token open = cur_;
    if (!advance()) return false;
    if (!valid_category(cur_)) {
        return fail(cur_, fmt::format("expected an event category (process, file, network, any, "
                                      "...), found {}",
                                      describe(cur_)));
    }
    stage.category = cur_.text;
    if (!advance()) return false;
    if (!is_word(cur_, "where")) {
        return fail(cur_, fmt::format("expected \"where\" after the event category, found {}",
                                      describe(cur_)));
    }
    if (!advance()) return false;
    if (cur_.kind == TokenKind::rbracket || cur_.kind == TokenKind::end) {
        return fail(cur_, "expected a condition after \"where\"");
    }
    if (!parse_or(stage.root, 0)) return false;
    if (cur_.kind == TokenKind::rbracket) {
        collect_fields(stage.root, stage.field_ids, stage.field_names);
        return advance();
    }
    if (cur_.kind == TokenKind::end) {
        return fail(open, "unbalanced bracket: this \"[\" is never closed");
    }
    if (cur_.kind == TokenKind::rparen) {
        return fail(cur_, "unbalanced parenthesis: \")\" has no matching \"(\"");
    }
    return fail(cur_, fmt::format("expected \"and\", \"or\" or \"]\", found {}", describe(cur_)));
}

bool Parser::parse_sequence(Parsed& out) {
    ParsedSequence& seq = out.sequence;
    out.is_sequence = true;
    out.category = cur_.text;
    seq.sample = cur_.text == "sample";
    const Token head = cur_;
    if (!advance()) return false;
    std::vector<FieldRef> keys;
    bool has_keys = false;
    bool has_span = false;
    for (;;) {
        if (is_word(cur_, "by") && !has_keys) {
            has_keys = true;
            if (!parse_join_keys(keys)) return false;
        } else if (is_word(cur_, "with") && !has_span) {
            if (seq.sample) return fail(cur_, "a sample takes no \"with\": it has no maxspan");
            has_span = true;
            std::string key;
            if (!parse_with("maxspan", key, seq.maxspan_ms)) return false;
        } else {
            break;
        }
    }
    for (const FieldRef& k : keys) {
        seq.key_ids.push_back(k.id);
        seq.key_names.push_back(k.name);
        seq.key_optional.push_back(k.optional ? 1 : 0);
    }
    std::size_t expanded = 0;
    std::size_t positives = 0;
    const auto read_keys = [&](ParsedStage& stage) {
        if (!is_word(cur_, "by")) return true;
        std::vector<FieldRef> own;
        if (!parse_join_keys(own)) return false;
        for (const FieldRef& k : own) {
            stage.key_ids.push_back(k.id);
            stage.key_names.push_back(k.name);
            stage.key_optional.push_back(k.optional ? 1 : 0);
        }
        return true;
    };
    while (cur_.kind == TokenKind::lbracket || cur_.kind == TokenKind::bang) {
        const Token at = cur_;
        ParsedStage stage;
        if (!parse_term(stage, !seq.sample) || !read_keys(stage)) return false;
        if (is_word(cur_, "with")) {
            if (seq.sample) return fail(cur_, "a sample term takes no \"with runs\"");
            if (stage.missing) return fail(cur_, "a missing event takes no \"with runs\"");
            std::string key;
            std::int64_t runs = 0;
            if (!parse_with("runs", key, runs)) return false;
            stage.runs = static_cast<std::uint32_t>(runs);
        }
        expanded += stage.runs;
        if (expanded > kMaxSequenceStages) {
            return fail(at, fmt::format("too many terms: the limit is {} (runs counted)",
                                        kMaxSequenceStages));
        }
        if (!stage.missing) ++positives;
        if (!seq.stages.empty() && stage.key_ids.size() != seq.stages.front().key_ids.size()) {
            return fail(at, fmt::format("inconsistent number of join keys: expected {} but found {}",
                                        seq.stages.front().key_ids.size(), stage.key_ids.size()));
        }
        seq.stages.push_back(std::move(stage));
    }
    if (!seq.sample && is_word(cur_, "until")) {
        const Token at = cur_;
        if (!advance()) return false;
        if (!parse_term(seq.until, false) || !read_keys(seq.until)) return false;
        if (!seq.stages.empty() && seq.until.key_ids.size() != seq.stages.front().key_ids.size()) {
            return fail(at, fmt::format("inconsistent number of join keys: expected {} but found {}",
                                        seq.stages.front().key_ids.size(), seq.until.key_ids.size()));
        }
        seq.has_until = true;
    }
    if (cur_.kind != TokenKind::end) {
        return fail(cur_, fmt::format("expected \"[\"{} or end of query, found {}",
                                      seq.sample ? "" : ", \"![\", \"until\"", describe(cur_)));
    }
    // `sequence [..] with runs=5` is five terms; a sample needs two written.
    if ((seq.sample ? seq.stages.size() : expanded) < 2) {
        return fail(head, fmt::format("a {} needs at least two terms ([...] [...]{})", head.text,
                                      seq.sample ? "" : ", or one with runs=2 or more"));
    }
    if (positives == 0) {
        return fail(head, "a sequence needs at least one term that is not a missing event");
    }
    return true;
}

}  // namespace scanwatch::rules::eql::detail

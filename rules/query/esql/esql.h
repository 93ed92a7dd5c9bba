#pragma once
// The ES|QL subset Elastic's detection rules use (docs/rules.md, "ES|QL"): a parsed pipeline
// and its evaluation over rows. FROM names index patterns; the caller decides which of its
// events a pattern reads and builds the source rows. Knows nothing of ECS, rules or engines.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/query/esql/value.h"
#include "rules/query/query.h"

namespace scanwatch::rules::esql {

/// An expression node. `kind` says which members are used.
struct Expr {
    enum class Kind {
        literal,   ///< value
        column,    ///< name
        call,      ///< name (upper case) and args; an aggregate inside STATS is replaced by a column
        unary,     ///< op ("not", "-") and args[0]
        binary,    ///< op ("and", "or", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%")
        in,        ///< args[0] IN (args[1..]); negated for NOT IN
        like,      ///< args[0] LIKE pattern (text); negated for NOT LIKE; list when several
        rlike,     ///< args[0] RLIKE regex (text)
        is_null,   ///< args[0] IS NULL; negated for IS NOT NULL
    };
    Kind kind = Kind::literal;
    Value value;
    std::string name;
    std::string op;
    std::vector<std::string> patterns;  ///< LIKE / RLIKE; KQL(): the field names, by field id
    std::shared_ptr<const Query> kql;   ///< KQL("..."): the parsed query, on the source row
    bool negated = false;
    std::vector<Expr> args;
    int line = 1;
    int column = 1;
};

/// `name = expr` (EVAL, STATS, BY) or a bare expression named by its text.
struct Assignment {
    std::string name;
    Expr expr;
};

/// An aggregate function STATS computes per group: COUNT, COUNT_DISTINCT, VALUES, MIN, MAX,
/// SUM, AVG. `star` for COUNT(*).
struct Aggregate {
    std::string function;
    Expr arg;
    bool star = false;
    std::string column;  ///< the hidden column its result goes to
};

/// SORT key.
struct SortKey {
    Expr expr;
    bool descending = false;
    bool nulls_first = false;  ///< ES|QL: nulls last ascending, first descending, unless said
};

/// One pipeline command.
struct Command {
    enum class Kind { where, eval, stats, mv_expand, keep, drop, rename, sort, limit };
    Kind kind = Kind::where;
    Expr condition;                        ///< WHERE
    std::vector<Assignment> assignments;   ///< EVAL; STATS outputs (aggregates replaced)
    std::vector<Aggregate> aggregates;     ///< STATS
    std::vector<Assignment> by;            ///< STATS ... BY
    std::vector<std::string> names;        ///< MV_EXPAND (one), KEEP, DROP (patterns)
    std::vector<std::pair<std::string, std::string>> renames;  ///< RENAME old AS new
    std::vector<SortKey> sort;
    std::int64_t limit = 0;
    int line = 1;
};

/// A parsed query: FROM and the commands after it.
struct Pipeline {
    std::vector<std::string> indices;   ///< FROM index patterns, as written
    std::vector<std::string> metadata;  ///< METADATA fields (_id, _index, ...)
    std::vector<Command> commands;
    /// Every column name an expression, KEEP, DROP, RENAME or MV_EXPAND reads, in first-use
    /// order (the source fields the rows need; computed columns are among them).
    std::vector<std::string> reads;
    /// The number of leading commands that work on one row at a time (WHERE, EVAL, MV_EXPAND,
    /// KEEP, DROP, RENAME): they may run as each event comes.
    std::size_t row_prefix = 0;
    /// True when a STATS aggregates the rows (Kibana's "aggregating query").
    bool aggregating = false;
};

/// Parses an ES|QL query; the error says "not supported" for valid ES|QL beyond the subset
/// (GROK, DISSECT, ENRICH, COMPLETION, INLINE STATS, KQL(), ...).
std::variant<Pipeline, QueryError> parse(std::string_view text);

/// Limits of one evaluation (docs/operations.md, "Memory bounds").
struct Limits {
    std::size_t max_rows = 100'000;  ///< rows any command may produce at most (MV_EXPAND, STATS)
    std::size_t max_values = 10'000; ///< values one VALUES()/multi-value keeps at most
};

/// What happened in an evaluation beyond the rows.
struct EvalNotes {
    std::uint64_t rows_cut = 0;  ///< rows or values dropped to respect Limits
};

/// Runs `commands[first, last)` of `p` over `rows` (in place).
void run(const Pipeline& p, std::size_t first, std::size_t last, std::vector<Row>& rows,
         std::int64_t now_ms, const Limits& limits, EvalNotes& notes);

/// What run_in_place() did with its row.
enum class Step { kept, dropped, unsupported };
/// Runs one command on a single row in place, as run() would, when the row stays one row:
/// WHERE, EVAL, and MV_EXPAND of a column with at most one value (which changes nothing);
/// `unsupported` (row unchanged) for any other command or case.
Step run_in_place(const Command& c, Row& row, std::int64_t now_ms);
/// Evaluates one expression on a row (exposed for tests).
Value evaluate(const Expr& e, const Row& row, std::int64_t now_ms);
/// True when WHERE `condition` keeps `row` (the condition is true, not false or null).
bool keeps(const Expr& condition, const Row& row, std::int64_t now_ms);
/// Appends the column names `e` reads (a KQL() call's fields among them); false when it
/// cannot say.
bool columns_read(const Expr& e, std::vector<std::string>& names);

/// True when an ES|QL index pattern (`*` wildcards; a leading `-` excludes) matches `index`.
bool index_matches(std::string_view pattern, std::string_view index);

/// True when `name` matches a KEEP/DROP pattern (`*` wildcards).
bool name_matches(std::string_view pattern, std::string_view name);

}  // namespace scanwatch::rules::esql

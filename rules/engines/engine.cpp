#include "rules/engines/engine.h"

#include "rules/engines/esql/esql_engine.h"
#include "rules/engines/new_terms_engine.h"
#include "rules/engines/query_engine.h"
#include "rules/engines/scheduled_engine.h"
#include "rules/engines/sequence/sequence_engine.h"
#include "rules/engines/threshold_engine.h"

namespace scanwatch::rules {

bool parse_evaluation(std::string_view text, Evaluation& out) {
    return parse_enum(text, kEvaluationNames, out);
}


std::string_view evaluation_name(Evaluation evaluation) {
    return enum_name(evaluation, kEvaluationNames);
}

bool RuleEngine::admits(const EventFields& fields) {
    bool cut = false;
    const bool matched = rule_->query.matches(fields, cut);
    if (cut) ++counters_.match_work_cut;
    if (!matched) return false;
    ++counters_.matched;
    if (rule_->excepted(fields)) {
        ++counters_.excepted;
        return false;
    }
    return true;
}

std::unique_ptr<RuleEngine> make_engine(std::shared_ptr<const RuleDefinition> rule,
                                        const EngineOptions& options) {
    switch (rule->rule_type) {
        case RuleType::eql:
            if (rule->eql_sequence) return std::make_unique<SequenceEngine>(std::move(rule), options);
            return std::make_unique<QueryEngine>(std::move(rule), options);
        case RuleType::query: return std::make_unique<QueryEngine>(std::move(rule), options);
        case RuleType::new_terms: return std::make_unique<NewTermsEngine>(std::move(rule), options);
        case RuleType::esql: return std::make_unique<EsqlEngine>(std::move(rule), options);
        case RuleType::threshold: break;
    }
    if (options.evaluation == Evaluation::scheduled) {
        return std::make_unique<ScheduledEngine>(std::move(rule), options);
    }
    return std::make_unique<ThresholdEngine>(std::move(rule), options);
}

}  // namespace scanwatch::rules

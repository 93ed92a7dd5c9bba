#include "rules/eql.h"

namespace scanwatch::rules {

std::variant<EqlQuery, KqlError> parse_eql(std::string_view text, const FieldResolver& resolver) {
    (void)text;
    (void)resolver;
    return KqlError{"EQL queries are not supported yet", 1, 1};
}

}  // namespace scanwatch::rules
